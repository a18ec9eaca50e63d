// The palette commands (the server's own commands are registered by vscode-languageclient).
import * as vscode from "vscode";

import { preview } from "./preview";
import { refreshStatus, state } from "./status";

function activeUri(): string | undefined {
  return vscode.window.activeTextEditor?.document.uri.toString();
}

export function registerCommands(context: vscode.ExtensionContext, hooks: { restart: () => Promise<void>; showLogs: () => void }): void {
  context.subscriptions.push(
    vscode.commands.registerCommand("tensorleap.showLogs", hooks.showLogs),
    vscode.commands.registerCommand("tensorleap.restartServer", hooks.restart),
    vscode.commands.registerCommand("tensorleap.showPreview", async () => {
      const uri = activeUri();
      if (!uri) return;
      const subset = await vscode.window.showQuickPick(["training", "validation", "test"], { placeHolder: "Subset" });
      if (!subset) return;
      const id = await vscode.window.showInputBox({ prompt: "Sample id (empty: the first sample)" });
      const sampleId = id === undefined || id === "" ? null : /^-?\d+$/.test(id) ? Number(id) : id;
      await preview(uri, subset, sampleId);
    }),
    vscode.commands.registerCommand("tensorleap.runIntegrationChecks", async () => {
      const uri = activeUri();
      if (!uri) return;
      state.running = true;
      refreshStatus();
      try {
        const res = await vscode.commands.executeCommand<{ ok: boolean; summary?: string; message?: string }>(
          "tensorleap.runChecks", { uri });
        state.lastRunFailed = !res?.ok;
        void vscode.window.showInformationMessage(`Tensorleap: ${res?.summary ?? res?.message ?? "done"}`);
      } finally {
        state.running = false;
        refreshStatus();
      }
    }),
    vscode.commands.registerCommand("tensorleap.newSkeleton", async () => {
      let uri = activeUri();
      if (!uri) {
        const doc = await vscode.workspace.openTextDocument({ language: "python", content: "" });
        await vscode.window.showTextDocument(doc);
        uri = doc.uri.toString();
      }
      const res = await vscode.commands.executeCommand<{ ok: boolean; message?: string }>("tensorleap.generateSkeleton", { uri });
      if (res && !res.ok && res.message) void vscode.window.showWarningMessage(res.message);
    }),
  );
}

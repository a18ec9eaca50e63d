// The palette commands (the server's own commands are registered by vscode-languageclient). They
// work whatever has focus: from the preview panel they act on the file it previews.
import * as vscode from "vscode";

import { knownSubsets, preview, previewUri } from "./preview";
import { explainFailure, refreshEnvironment, refreshStatus, state } from "./status";

let lastEditorUri: string | undefined;

function isIntegrationDoc(doc: vscode.TextDocument): boolean {
  return doc.uri.scheme === "file" && (doc.languageId === "python" || doc.fileName.endsWith("leap.yaml"));
}

/** The file a command acts on: the active editor, else the last integration file, else the previewed one. */
async function targetUri(): Promise<string | undefined> {
  const active = vscode.window.activeTextEditor?.document;
  if (active && isIntegrationDoc(active)) return active.uri.toString();
  const visible = vscode.window.visibleTextEditors.map((e) => e.document).find(isIntegrationDoc);
  const found = lastEditorUri ?? previewUri() ?? visible?.uri.toString();
  if (found) return found;
  const yaml = await vscode.workspace.findFiles("**/leap.yaml", "**/node_modules/**", 1);
  if (yaml.length) return yaml[0].toString();
  void vscode.window.showWarningMessage("Tensorleap: open a file of your integration first (or run \"Tensorleap: New Project\").");
  return undefined;
}

export interface RunResult {
  ok: boolean;
  ran?: boolean;
  summary?: string;
  message?: string;
  reason?: import("./messages").Reason;
}

export function registerCommands(context: vscode.ExtensionContext, hooks: { restart: () => Promise<void>; showLogs: () => void }): void {
  const remember = (e?: vscode.TextEditor) => {
    if (e && isIntegrationDoc(e.document)) lastEditorUri = e.document.uri.toString();
  };
  remember(vscode.window.activeTextEditor);
  context.subscriptions.push(
    vscode.window.onDidChangeActiveTextEditor(remember),
    vscode.commands.registerCommand("tensorleap.showLogs", hooks.showLogs),
    vscode.commands.registerCommand("tensorleap.restartServer", hooks.restart),
    vscode.commands.registerCommand("tensorleap.showPreview", async () => {
      const uri = await targetUri();
      if (!uri) return;
      const subset = await vscode.window.showQuickPick(knownSubsets(), { placeHolder: "Subset" });
      if (!subset) return;
      const id = await vscode.window.showInputBox({ prompt: "Sample id (empty: the first sample)" });
      if (id === undefined) return;
      const sampleId = id === "" ? null : /^-?\d+$/.test(id) ? Number(id) : id;
      await preview(uri, subset, sampleId);
    }),
    vscode.commands.registerCommand("tensorleap.runIntegrationChecks", async () => {
      const uri = await targetUri();
      if (!uri) return;
      state.running = true;
      refreshStatus();
      let res: RunResult | undefined;
      try {
        res = await vscode.commands.executeCommand<RunResult>("tensorleap.runChecks", { uri });
      } catch (err) {
        res = { ok: false, ran: false, message: err instanceof Error ? err.message : String(err) };
      } finally {
        state.running = false;
      }
      // "last run failed" only for a run that happened; a run that could not start says why instead
      if (res?.ran) state.lastRunFailed = !res.ok;
      refreshStatus();
      if (res?.reason) {
        explainFailure(res);
      } else if (res?.ok) {
        void vscode.window.showInformationMessage(`Tensorleap: ${res.summary ?? "done"}`);
      } else {
        void vscode.window.showWarningMessage(`Tensorleap: ${res?.message ?? "the checks did not run"}`);
      }
      void refreshEnvironment(uri);
    }),
    vscode.commands.registerCommand("tensorleap.newSkeleton", async () => {
      let uri = vscode.window.activeTextEditor?.document.uri.toString();
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

// Tensorleap VS Code extension: starts the tensorleap-ls server with the user's interpreter and
// the bundled pure-Python libraries, and adds the preview panel, commands and status bar.
import * as vscode from "vscode";
import { LanguageClient } from "vscode-languageclient/node";

import { PreviewResult, panelHtml, parseWebviewMessage, statusText } from "./messages";
import { registerInstallTerminal, serverSettings, startServer } from "./server";
import { needsRestart, resolveOptions } from "./settings";

let client: LanguageClient | undefined;
let log: vscode.LogOutputChannel;
let status: vscode.StatusBarItem;
let panel: vscode.WebviewPanel | undefined;
let lastPreview: { uri: string; subset: string; sampleId: unknown } | undefined;
const state = { running: false, problems: 0, lastRunFailed: false };

function options() {
  const cfg = vscode.workspace.getConfiguration("tensorleap");
  const level = vscode.LogLevel[log.logLevel]?.toString().toLowerCase();
  return resolveOptions(cfg, vscode.workspace.isTrusted, level);
}

async function start(context: vscode.ExtensionContext): Promise<void> {
  client = await startServer(context, log, options(), () => void restart(context));
  if (!client) return;
  client.onNotification("tensorleap/preview", (params: PreviewResult & { uri: string }) => showPanel(context, params));
}

async function restart(context: vscode.ExtensionContext): Promise<void> {
  if (client) {
    await client.stop().catch(() => undefined);
    client = undefined;
  }
  await start(context);
}

function refreshStatus(): void {
  state.problems = vscode.languages.getDiagnostics().reduce(
    (n, [, ds]) => n + ds.filter((d) => d.source === "tensorleap").length, 0);
  status.text = statusText(state);
  status.show();
}

function showPanel(context: vscode.ExtensionContext, result: PreviewResult & { uri?: string }): void {
  if (!panel) {
    panel = vscode.window.createWebviewPanel("tensorleapPreview", "Tensorleap Preview", vscode.ViewColumn.Beside,
      { enableScripts: true, retainContextWhenHidden: true });
    panel.onDidDispose(() => (panel = undefined));
    panel.webview.onDidReceiveMessage((raw) => {
      const msg = parseWebviewMessage(raw);
      if (msg?.type === "navigate" && lastPreview) {
        void preview(lastPreview.uri, msg.subset, msg.sampleId);
      }
    });
  }
  const nonce = Math.random().toString(36).slice(2);
  panel.webview.html = panelHtml(result, nonce, panel.webview.cspSource);
  panel.reveal(vscode.ViewColumn.Beside, true);
}

async function preview(uri: string, subset: string, sampleId: unknown): Promise<void> {
  if (!vscode.workspace.isTrusted) {
    void vscode.window.showWarningMessage("Trust this workspace to preview samples: previews run your code.");
    return;
  }
  lastPreview = { uri, subset, sampleId };
  const result = await vscode.commands.executeCommand<PreviewResult>("tensorleap.preview", { uri, subset, sampleId });
  if (result && lastPreview) lastPreview.sampleId = result.sample_id;
}

function activeUri(): string | undefined {
  return vscode.window.activeTextEditor?.document.uri.toString();
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  log = vscode.window.createOutputChannel("Tensorleap", { log: true });
  status = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Left, 10);
  status.command = "tensorleap.showLogs";
  context.subscriptions.push(log, status);
  registerInstallTerminal(context);
  context.subscriptions.push(
    vscode.commands.registerCommand("tensorleap.showLogs", () => log.show()),
    vscode.commands.registerCommand("tensorleap.restartServer", () => restart(context)),
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
    vscode.languages.onDidChangeDiagnostics(() => refreshStatus()),
    vscode.workspace.onDidGrantWorkspaceTrust(() => restart(context)),
    vscode.workspace.onDidSaveTextDocument(() => {
      if (panel && lastPreview) void preview(lastPreview.uri, lastPreview.subset, lastPreview.sampleId);
    }),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (!e.affectsConfiguration("tensorleap")) return;
      if (needsRestart((k) => e.affectsConfiguration(k))) {
        void restart(context);
      } else {
        void client?.sendNotification("workspace/didChangeConfiguration", { settings: serverSettings(options()) });
      }
    }),
  );
  const pyExt = vscode.extensions.getExtension("ms-python.python");
  const envs = pyExt?.isActive ? pyExt.exports?.environments : undefined;
  if (envs?.onDidChangeActiveEnvironmentPath) {
    context.subscriptions.push(envs.onDidChangeActiveEnvironmentPath(() => restart(context)));
  }
  refreshStatus();
  await start(context);
}

export async function deactivate(): Promise<void> {
  if (client) await client.stop();
}

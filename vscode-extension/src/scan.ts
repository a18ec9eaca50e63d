// Tensorleap: Scan Data Set. Runs the server's tensorleap.scan (its work-done progress is the cancellable
// notification VS Code shows), then shows the report in a panel: statistics, charts, failures grouped by
// message with a Preview link per sample (Debug too, when a one-sample debugger command is there).
import * as vscode from "vscode";

import { preview } from "./preview";
import { ScanReply, parseScanMessage, scanPanelHtml } from "./scanReport";
import { explainFailure } from "./status";

const DEBUG_COMMAND = "tensorleap.debugSample";
let panel: vscode.WebviewPanel | undefined;
let last: ScanReply | undefined;

export function registerScan(context: vscode.ExtensionContext, serverUp: () => Promise<boolean>,
                             targetUri: () => Promise<string | undefined>): void {
  context.subscriptions.push(vscode.commands.registerCommand("tensorleap.scanDataSet", async (args?: object) => {
    if (!(await serverUp())) return;
    const uri = await targetUri();
    if (!uri) return;
    let reply: ScanReply | undefined;
    try {
      reply = await vscode.commands.executeCommand<ScanReply>("tensorleap.scan", { uri, ...(args ?? {}) });
    } catch (err) {
      void vscode.window.showErrorMessage(`Tensorleap: the scan failed: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    if (!reply) return;
    if (!reply.summary) {
      if (reply.reason) explainFailure({ ok: false, message: reply.message, reason: reply.reason });
      else void vscode.window.showErrorMessage(`Tensorleap: ${reply.message ?? "the scan failed"}`);
      return;
    }
    await showScanPanel(context, { ...reply, uri });
  }));
}

async function showScanPanel(context: vscode.ExtensionContext, reply: ScanReply): Promise<void> {
  last = reply;
  if (!panel) {
    panel = vscode.window.createWebviewPanel("tensorleapScan", "Tensorleap Scan", vscode.ViewColumn.Beside, {
      enableScripts: true, retainContextWhenHidden: true,
      localResourceRoots: [vscode.Uri.joinPath(context.extensionUri, "dist")],
    });
    panel.onDidDispose(() => (panel = undefined));
    panel.webview.onDidReceiveMessage(async (raw) => {
      const msg = parseScanMessage(raw);
      if (!msg || !last?.uri) return;
      if (msg.type === "preview") await preview(last.uri, msg.subset, msg.sampleId);
      else if (msg.type === "debug") await vscode.commands.executeCommand(DEBUG_COMMAND, { uri: last.uri, subset: msg.subset, sampleId: msg.sampleId });
      else if (msg.type === "openReport" && last.report?.length) {
        await vscode.env.openExternal(vscode.Uri.file(last.report[last.report.length - 1]));
      }
    });
  }
  const debug = (await vscode.commands.getCommands(true)).includes(DEBUG_COMMAND);
  const script = panel.webview.asWebviewUri(vscode.Uri.joinPath(context.extensionUri, "dist", "scanWebview.js")).toString();
  const nonce = Math.random().toString(36).slice(2);
  panel.webview.html = scanPanelHtml(reply, nonce, panel.webview.cspSource, script, debug);
  panel.reveal(vscode.ViewColumn.Beside, true);
}

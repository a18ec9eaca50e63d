// The preview panel: a webview showing the server's rendered sample, with navigation.
import * as vscode from "vscode";

import { PreviewResult, panelHtml, parseWebviewMessage } from "./messages";

let panel: vscode.WebviewPanel | undefined;
let lastPreview: { uri: string; subset: string; sampleId: unknown } | undefined;

export function showPanel(result: PreviewResult & { uri?: string }): void {
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

export async function preview(uri: string, subset: string, sampleId: unknown): Promise<void> {
  if (!vscode.workspace.isTrusted) {
    void vscode.window.showWarningMessage("Trust this workspace to preview samples: previews run your code.");
    return;
  }
  lastPreview = { uri, subset, sampleId };
  const result = await vscode.commands.executeCommand<PreviewResult>("tensorleap.preview", { uri, subset, sampleId });
  if (result && lastPreview) lastPreview.sampleId = result.sample_id;
}

/** Re-runs the shown preview (on save), so the panel follows the code. */
export function refreshPreview(): void {
  if (panel && lastPreview) void preview(lastPreview.uri, lastPreview.subset, lastPreview.sampleId);
}

// The preview panel: a webview showing the server's rendered sample, or why it could not be shown,
// with navigation over the project's subsets and real sample ids. It follows saves.
import * as vscode from "vscode";

import { NavState, PreviewResult, navState, panelHtml, parseWebviewMessage } from "./messages";
import { explainFailure, hasPythonExtension } from "./status";

let panel: vscode.WebviewPanel | undefined;
let lastPreview: { uri: string; subset: string; sampleId: unknown } | undefined;
let nav: NavState | undefined;

/** The subsets the project has (from the last preview), for the command's picker. */
export function knownSubsets(): string[] {
  return nav?.subsets.length ? nav.subsets : ["training", "validation"];
}

/** The file the last preview was for: commands run from the panel use it. */
export function previewUri(): string | undefined {
  return lastPreview?.uri;
}

export function showPanel(result: PreviewResult & { uri?: string }): void {
  if (!panel) {
    panel = vscode.window.createWebviewPanel("tensorleapPreview", "Tensorleap Preview", vscode.ViewColumn.Beside,
      { enableScripts: true, retainContextWhenHidden: true });
    panel.onDidDispose(() => (panel = undefined));
    panel.webview.onDidReceiveMessage(async (raw) => {
      const msg = parseWebviewMessage(raw);
      if (msg?.type === "navigate" && lastPreview) {
        void preview(lastPreview.uri, msg.subset, msg.sampleId);
      } else if (msg?.type === "open") {
        const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(msg.file));
        const pos = new vscode.Position(Math.max(msg.line - 1, 0), 0);
        await vscode.window.showTextDocument(doc, { viewColumn: vscode.ViewColumn.One, selection: new vscode.Range(pos, pos) });
      }
    });
  }
  nav = navState(result, nav);
  if (lastPreview) {
    lastPreview.subset = nav.subset;
    // after a failure, a save re-runs the same request; after a success, the sample shown
    if (result.ok) lastPreview.sampleId = nav.sampleId;
  }
  const nonce = Math.random().toString(36).slice(2);
  panel.webview.html = panelHtml(result, nonce, panel.webview.cspSource, nav, hasPythonExtension());
  panel.reveal(vscode.ViewColumn.Beside, true);
}

export async function preview(uri: string, subset: string, sampleId: unknown): Promise<void> {
  lastPreview = { uri, subset, sampleId };
  let result: PreviewResult | undefined;
  try {
    result = await vscode.commands.executeCommand<PreviewResult>("tensorleap.preview", { uri, subset, sampleId });
  } catch (err) {
    result = { ok: false, subset, sample_id: sampleId, message: `the server could not run the preview: ${err instanceof Error ? err.message : String(err)}` };
    showPanel(result);
  }
  if (result && !result.ok) explainFailure(result);
}

let refreshTimer: ReturnType<typeof setTimeout> | undefined;

/** Re-runs the shown preview (on save), so the panel follows the code and recovers after a fix.
 *  Debounced: the save and file-watch notifications reach the server first (they restart the
 *  process that runs the user's code; a preview sent before them would be cut short). */
export function refreshPreview(): void {
  if (refreshTimer) clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => {
    if (panel && lastPreview) void preview(lastPreview.uri, lastPreview.subset, lastPreview.sampleId);
  }, 700);
}

// The preview panel: a webview drawn from one state machine (panel.ts), whatever opened it (the palette,
// the "Preview sample" lens, its own controls, a save, trust granted). A run shows its progress in the
// panel, with Cancel; a newer request cancels the one running; results come from the server's
// `tensorleap/preview` notification, so a preview asked by anyone keeps working controls.
import * as vscode from "vscode";
import { LanguageClient } from "vscode-languageclient/node";

import { PreviewResult, panelHtml, parseWebviewMessage } from "./messages";
import { PanelEvent, PanelState, PreviewRequest, navigate, onSave, onTrust, reduce, requestOf, view } from "./panel";
import { runServerCommand } from "./runs";
import { explainFailure, hasPythonExtension } from "./status";

let panel: vscode.WebviewPanel | undefined;
let state: PanelState = { kind: "empty" };
let running: vscode.CancellationTokenSource | undefined;
let client: () => LanguageClient | undefined = () => undefined;

/** The language client the previews go through (set by extension.ts at each (re)start). */
export function usePreviewClient(get: () => LanguageClient | undefined): void {
  client = get;
}

/** The subsets the project has (from the last preview), for the command's picker. */
export function knownSubsets(): string[] {
  const nav = state.kind !== "empty" ? state.nav : undefined;
  return nav?.subsets.length ? nav.subsets : ["training", "validation"];
}

/** The file the panel previews: commands run from the panel use it. */
export function previewUri(): string | undefined {
  return requestOf(state)?.uri;
}

function dispatch(ev: PanelEvent): void {
  const before = state;
  state = reduce(state, ev);
  if (state === before) return;
  if (ev.type === "progress" && panel) {
    void panel.webview.postMessage({ type: "progress", text: ev.message }); // no redraw: the banner updates
    return;
  }
  draw();
}

function ensurePanel(): vscode.WebviewPanel {
  if (panel) return panel;
  panel = vscode.window.createWebviewPanel("tensorleapPreview", "Tensorleap Preview", vscode.ViewColumn.Beside,
    { enableScripts: true, retainContextWhenHidden: true });
  panel.onDidDispose(() => {
    panel = undefined;
    running?.cancel();
    state = { kind: "empty" };
  });
  panel.webview.onDidReceiveMessage(async (raw) => {
    const msg = parseWebviewMessage(raw);
    if (msg?.type === "navigate") {
      const req = navigate(state, msg.subset, msg.sampleId);
      if (req) void preview(req);
    } else if (msg?.type === "cancel") {
      running?.cancel();
    } else if (msg?.type === "rerun") {
      const req = requestOf(state);
      if (req) void preview(req);
    } else if (msg?.type === "trust") {
      void vscode.commands.executeCommand("workbench.trust.manage");
    } else if (msg?.type === "open") {
      const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(msg.file));
      const pos = new vscode.Position(Math.max(msg.line - 1, 0), 0);
      await vscode.window.showTextDocument(doc, { viewColumn: vscode.ViewColumn.One, selection: new vscode.Range(pos, pos) });
    }
  });
  return panel;
}

function draw(): void {
  const p = ensurePanel();
  const v = view(state);
  const nonce = Math.random().toString(36).slice(2);
  p.webview.html = panelHtml(v.result, nonce, p.webview.cspSource, v.nav, hasPythonExtension(), v.status);
  p.reveal(vscode.ViewColumn.Beside, true);
}

/** The server's `tensorleap/preview` notification: the result of a preview, whoever asked for it. */
export function showPanel(result: PreviewResult & { uri?: string }): void {
  dispatch({ type: "result", result });
}

/** Runs a preview: the panel shows it running (with Cancel), then its result. */
export async function preview(request: PreviewRequest): Promise<void> {
  const c = client();
  running?.cancel(); // one preview at a time: the newest wins
  const mine = new vscode.CancellationTokenSource();
  running = mine;
  dispatch({ type: "start", request });
  if (!c) {
    dispatch({ type: "error", message: "the Tensorleap server is not running (see the status bar item for why)" });
    return;
  }
  const sample = request.sampleId === null || request.sampleId === undefined ? "first sample" : `sample ${JSON.stringify(request.sampleId)}`;
  const out = await runServerCommand<PreviewResult>(c, {
    command: "tensorleap.preview", args: { uri: request.uri, subset: request.subset, sampleId: request.sampleId },
    title: `Tensorleap: preview of ${request.subset} ${sample}`, location: "window",
    onReport: (message) => { if (running === mine) dispatch({ type: "progress", message }); },
    cancel: mine.token,
  });
  if (running === mine) running = undefined;
  mine.dispose();
  if (out.cancelled) {
    if (state.kind === "running" && state.request === request) dispatch({ type: "cancelled" });
    return;
  }
  if (out.error !== undefined) {
    dispatch({ type: "error", message: `the server could not run the preview: ${out.error}` });
  } else if (out.result) {
    // the notification came first (the same result): only a panel still waiting takes the response
    if (state.kind === "running" && state.request === request) dispatch({ type: "result", result: { ...out.result, uri: request.uri } });
    if (!out.result.ok) explainFailure(out.result);
  }
}

let refreshTimer: ReturnType<typeof setTimeout> | undefined;

/** Re-runs the shown preview (on save), so the panel follows the code and recovers after a fix.
 *  Debounced: the save and file-watch notifications reach the server first (they restart the
 *  process that runs the user's code; a preview sent before them would be cut short). */
export function refreshPreview(): void {
  if (refreshTimer) clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => {
    const req = panel ? onSave(state) : undefined;
    if (req) void preview(req);
  }, 700);
}

/** Trust was granted (and the server restarted): a panel that said "not trusted" runs its preview. */
export function refreshAfterTrust(): void {
  const req = panel ? onTrust(state) : undefined;
  if (req) void preview(req);
}

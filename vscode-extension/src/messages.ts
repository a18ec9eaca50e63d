// Messages between the extension, the server and the preview webview. No `vscode` import.

export interface PreviewResult {
  ok: boolean;
  subset?: string;
  sample_id?: unknown;
  html?: string;
  message?: string;
  problems?: { code?: string; message?: string; file?: string; line?: number }[];
  neighbors?: { prev?: unknown; next?: unknown };
  subsets?: string[];
}

export type WebviewMessage =
  | { type: "navigate"; subset: string; sampleId: unknown }
  | { type: "refresh" };

export function parseWebviewMessage(raw: unknown): WebviewMessage | null {
  if (!raw || typeof raw !== "object") return null;
  const m = raw as Record<string, unknown>;
  if (m.type === "navigate" && typeof m.subset === "string" && "sampleId" in m) {
    return { type: "navigate", subset: m.subset, sampleId: m.sampleId };
  }
  if (m.type === "refresh") return { type: "refresh" };
  return null;
}

export function statusText(state: { running: boolean; problems: number; lastRunFailed: boolean }): string {
  if (state.running) return "$(sync~spin) Tensorleap: checks running";
  if (state.lastRunFailed) return "$(error) Tensorleap: last run failed";
  return state.problems ? `$(warning) Tensorleap: ${state.problems} problem${state.problems === 1 ? "" : "s"}` : "$(check) Tensorleap";
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** The webview page: the server's rendered preview plus navigation controls. */
export function panelHtml(result: PreviewResult, nonce: string, cspSource: string): string {
  const subsets = result.subsets && result.subsets.length ? result.subsets : [result.subset ?? "training"];
  const options = subsets.map((s) => `<option${s === result.subset ? " selected" : ""}>${esc(s)}</option>`).join("");
  const body = result.ok ? (result.html ?? "") : `<p class="problem">${esc(result.message ?? "preview failed")}</p>`;
  const nav = JSON.stringify({ subset: result.subset, prev: result.neighbors?.prev ?? null, next: result.neighbors?.next ?? null });
  return `<!doctype html><html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data: ${cspSource}; style-src 'unsafe-inline'; script-src 'nonce-${nonce}';">
</head><body>
<div id="nav"><button id="prev">◀ previous</button> <select id="subset">${options}</select> <button id="next">next ▶</button></div>
<div id="preview">${body.replace(/^<!doctype html>/i, "")}</div>
<script nonce="${nonce}">
const vscode = acquireVsCodeApi(); const nav = ${nav};
document.getElementById("prev").disabled = nav.prev === null;
document.getElementById("next").disabled = nav.next === null;
document.getElementById("prev").onclick = () => vscode.postMessage({type: "navigate", subset: nav.subset, sampleId: nav.prev});
document.getElementById("next").onclick = () => vscode.postMessage({type: "navigate", subset: nav.subset, sampleId: nav.next});
document.getElementById("subset").onchange = (e) => vscode.postMessage({type: "navigate", subset: e.target.value, sampleId: null});
</script></body></html>`;
}

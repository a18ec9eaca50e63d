// The scan report panel's pure parts (unit-tested): what the server's tensorleap.scan returns, the page the
// panel shows (the report's HTML, made by the server, with the charts drawn by the bundled vega-embed), and
// the messages the page sends back.
import type { Reason } from "./messages";

export interface ScanChart { subset: string; title: string; kind: string; spec: unknown }

export interface ScanReply {
  ok: boolean;
  cancelled?: boolean;
  message?: string | null;
  findings?: number;
  report?: string[];
  html?: string;
  uri?: string;
  reason?: Reason | null;
  summary?: { root: string; scan: { samples: number; failures_total?: number }; charts: ScanChart[] };
}

export type ScanMessage =
  | { type: "preview"; subset: string; sampleId: unknown }
  | { type: "debug"; subset: string; sampleId: unknown }
  | { type: "openReport" };

export function parseScanMessage(raw: unknown): ScanMessage | null {
  if (!raw || typeof raw !== "object") return null;
  const m = raw as Record<string, unknown>;
  if ((m.type === "preview" || m.type === "debug") && typeof m.subset === "string" && "sampleId" in m) {
    return { type: m.type, subset: m.subset, sampleId: m.sampleId };
  }
  if (m.type === "openReport") return { type: "openReport" };
  return null;
}

/** JSON that is safe inside a <script> element. */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}

/** The panel's page: the report's HTML (escaped by the server), the chart specs as data, the bundled script. */
export function scanPanelHtml(reply: ScanReply, nonce: string, cspSource: string, scriptUri: string, debug: boolean): string {
  const specs = (reply.summary?.charts ?? []).map((c) => c.spec);
  const body = reply.html ?? `<p class="error">${escapeHtml(reply.message ?? "the scan returned no report")}</p>`;
  const cancelled = reply.cancelled ? `<p class="note">The scan was cancelled: what it reached is shown (and cached).</p>` : "";
  return `<!doctype html><html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data: ${cspSource}; style-src 'unsafe-inline' ${cspSource}; font-src ${cspSource}; script-src 'nonce-${nonce}' ${cspSource};">
<style>
body{font-family:var(--vscode-font-family);color:var(--vscode-foreground)}
table{border-collapse:collapse;margin:.4em 0 1em} td,th{border:1px solid var(--vscode-panel-border,#8884);padding:.2em .5em;text-align:left;vertical-align:top}
td.num{text-align:right} .meta,.note{color:var(--vscode-descriptionForeground,#777)} .error{color:var(--vscode-errorForeground,#b00020)}
.charts{display:flex;flex-wrap:wrap;gap:1em} .chart{background:#fff;color:#000;padding:4px;border-radius:4px}
.sample{font-family:var(--vscode-editor-font-family);background:var(--vscode-textCodeBlock-background,#eee);padding:0 .3em;margin-right:.2em;border-radius:3px}
.sample.link{cursor:pointer;color:var(--vscode-textLink-foreground,#06c)} a.debug{margin-right:.6em;font-size:85%}
</style></head><body data-debug="${debug ? "1" : "0"}">
<div id="scan">${cancelled}${body}<p><a href="#" id="open-report">Open report.html</a></p></div>
<script type="application/json" id="specs">${scriptJson(specs)}</script>
<script nonce="${nonce}" src="${scriptUri}"></script>
</body></html>`;
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string);
}

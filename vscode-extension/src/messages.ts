// Messages between the extension, the server and the preview webview, and the texts the user reads
// (interpreter problems, status bar, log lines). No `vscode` import: mocha tests it in plain Node.

export interface Problem {
  code?: string;
  type?: string;
  message?: string;
  file?: string;
  line?: number;
  function?: string;
  name?: string;
  sample?: unknown;
  subset?: string;
  called_at?: { file?: string; line?: number };
}

/** Why a run or a preview could not happen (sent by the server beside `message`). */
export interface Reason {
  kind: "interpreter" | "untrusted";
  role?: "server" | "project";
  interpreter?: string;
  version?: string | null;
  missing?: string[];
  packages?: string[];
  error?: string | null;
  /** the server's exact install line (pinned from the project's requirements; ensurepip first when pip is missing) */
  install?: string | null;
  /** where the project interpreter came from: "fallback" = the project has none of its own (no .venv) */
  source?: string;
  /** the command that creates the project's .venv with its requirements (source "fallback") */
  create_venv?: string | null;
}

export interface PreviewResult {
  ok: boolean;
  subset?: string;
  sample_id?: unknown;
  html?: string;
  message?: string | null;
  problems?: Problem[] | null;
  neighbors?: { prev?: unknown; next?: unknown } | null;
  subsets?: string[] | null;
  first?: unknown;
  reason?: Reason | null;
  /** what the user's code printed during the preview (the end of it, capped by the server) */
  output?: string | null;
  cancelled?: boolean;
}

export type WebviewMessage =
  | { type: "navigate"; subset: string; sampleId: unknown }
  | { type: "open"; file: string; line: number }
  | { type: "cancel" }
  | { type: "rerun" }
  | { type: "trust" };

export function parseWebviewMessage(raw: unknown): WebviewMessage | null {
  if (!raw || typeof raw !== "object") return null;
  const m = raw as Record<string, unknown>;
  if (m.type === "cancel" || m.type === "rerun" || m.type === "trust") return { type: m.type };
  if (m.type === "navigate" && typeof m.subset === "string" && "sampleId" in m) {
    return { type: "navigate", subset: m.subset, sampleId: m.sampleId };
  }
  if (m.type === "open" && typeof m.file === "string" && typeof m.line === "number") {
    return { type: "open", file: m.file, line: m.line };
  }
  return null;
}

// --- interpreter problems -----------------------------------------------------------------------

export interface ActionableMessage {
  text: string;
  actions: string[];
  install: string | null;
}

function quote(path: string): string {
  return /^[\w@%+=:,./-]+$/.test(path) ? path : `"${path.replace(/(["\\$`])/g, "\\$1")}"`;
}

/** One message for an interpreter that cannot do the job: which interpreter, its Python version,
 *  what is missing, the exact install line, and the buttons that fix it. */
export function interpreterMessage(r: Reason, hasPythonExtension: boolean): ActionableMessage {
  const who = r.role === "server" ? "server interpreter" : "project interpreter";
  const interp = r.interpreter ?? "python3";
  const version = r.version ? ` (Python ${r.version})` : "";
  const pick = hasPythonExtension ? "Select Interpreter" : "Open Settings";
  if (r.error && !r.missing?.length) {
    const what = r.error === "not found" ? "was not found" : `cannot run (${r.error})`;
    return { text: `Tensorleap: the ${who} ${interp}${version} ${what}. Pick another interpreter.`,
             actions: [pick], install: null };
  }
  const missing = r.missing ?? [];
  const what = missing.length ? `cannot import ${missing.join(", ")}` : "cannot run the integration";
  if (r.role !== "server" && r.source === "fallback" && r.create_venv) {
    // no interpreter of its own: a project .venv, not an install into the server's (global) interpreter
    return { text: `Tensorleap: this project has no interpreter of its own (no .venv, no tensorleap.interpreter), and ${interp}${version} ${what}. `
      + `Create a .venv with the project's requirements (${r.create_venv}) — or pick an interpreter.`,
    actions: ["Create .venv", pick], install: r.create_venv };
  }
  const packages = r.packages && r.packages.length ? r.packages : missing;
  // the server's line is exact (pinned from requirements.txt, ensurepip first when pip is missing)
  const install = r.install ?? (packages.length ? `${quote(interp)} -m pip install ${packages.join(" ")}` : null);
  const purpose = r.role === "server" ? "to render previews" : "to run your integration";
  const text = `Tensorleap: the ${who} ${interp}${version} ${what} (needed ${purpose}).`
    + (install ? ` Install with: ${install} — or pick another interpreter.` : " Pick another interpreter.");
  return { text, actions: install ? [pick, "Open Terminal"] : [pick], install };
}

// --- preview navigation -------------------------------------------------------------------------

export interface NavState {
  subsets: string[];
  subset: string;
  sampleId: unknown;
  prev: unknown;
  next: unknown;
  first: unknown;
}

/** Where the panel's controls point after a result: the project's subsets (kept from the last
 *  result that knew them), the real neighbouring sample ids, the first sample after a failure. */
export function navState(result: PreviewResult, previous?: NavState): NavState {
  const subset = result.subset ?? previous?.subset ?? "training";
  const known = result.subsets && result.subsets.length ? result.subsets : previous?.subsets ?? [];
  const subsets = known.includes(subset) || !result.ok ? [...known] : [...known, subset];
  const first = result.first ?? null;
  if (result.ok) {
    return { subsets, subset, sampleId: result.sample_id ?? null, prev: result.neighbors?.prev ?? null,
             next: result.neighbors?.next ?? null, first };
  }
  // a failed sample: "next" leads to the subset's first sample, if the subset exists
  return { subsets, subset, sampleId: result.sample_id ?? null, prev: null,
           next: first !== null && first !== result.sample_id ? first : null, first };
}

// --- status bar ---------------------------------------------------------------------------------

export interface StatusState {
  running: boolean;
  problems: number;
  lastRunFailed: boolean;
  server?: "starting" | "running" | "stopped" | "no-interpreter";
  untrusted?: boolean;
  /** how many of `problems` are errors and warnings (the rest is information and hints) */
  errors?: number;
  warnings?: number;
}

export function statusText(state: StatusState): string {
  if (state.server === "no-interpreter") return "$(error) Tensorleap: no interpreter";
  if (state.server === "stopped") return "$(debug-disconnect) Tensorleap: server not running";
  if (state.server === "starting") return "$(sync~spin) Tensorleap: starting";
  if (state.running) return "$(sync~spin) Tensorleap: checks running";
  if (state.lastRunFailed) return "$(error) Tensorleap: last run failed";
  if (state.problems) {
    // the icon of the worst: information-only findings are not a warning
    const icon = (state.errors ?? 0) > 0 ? "$(error)" : (state.warnings ?? state.problems) > 0 ? "$(warning)" : "$(info)";
    return `${icon} Tensorleap: ${state.problems} problem${state.problems === 1 ? "" : "s"}`;
  }
  return state.untrusted ? "$(shield) Tensorleap" : "$(check) Tensorleap";
}

export interface Environment {
  server: { interpreter: string; version?: string | null };
  project?: { interpreter?: string | null; version?: string | null; code_loader?: string | null; missing?: string[] | null };
  trusted?: boolean;
}

/** The tooltip: both interpreters and the SDK version (what runs the server, what runs your code). */
export function statusTooltip(env: Environment | null, state: StatusState): string {
  const lines = ["**Tensorleap**", ""];
  if (!env) {
    lines.push("Server: not running.");
  } else {
    const v = (x?: string | null) => (x ? ` (Python ${x})` : "");
    lines.push(`Server interpreter: \`${env.server.interpreter}\`${v(env.server.version)}`);
    const p = env.project;
    if (p?.interpreter) lines.push("", `Project interpreter: \`${p.interpreter}\`${v(p.version)}`);
    if (env.trusted === false) {
      lines.push("", "SDK: not checked (the workspace is not trusted: nothing of it runs)");
    } else if (p?.code_loader) {
      lines.push("", `SDK: code-loader ${p.code_loader}`);
    } else {
      lines.push("", `SDK: code-loader not installed in the project interpreter${p?.missing?.length ? ` (missing: ${p.missing.join(", ")})` : ""}`);
    }
  }
  lines.push("", `${state.problems} problem${state.problems === 1 ? "" : "s"} · click for the logs`);
  return lines.join("\n");
}

// --- log lines ----------------------------------------------------------------------------------

/** Joins the server's stderr chunks into whole entries: a traceback stays one log entry, not one
 *  "[info]" line per frame. `flush` returns the complete entries and keeps a trailing partial line. */
export class LogJoiner {
  private buf = "";

  push(chunk: unknown): void {
    this.buf += typeof chunk === "string" ? chunk : chunk instanceof Uint8Array ? Buffer.from(chunk).toString("utf8")
      : logText(chunk);
  }

  /** Entries to log now; `all` also returns an unterminated last line. */
  flush(all = false): { level: "info" | "error"; text: string }[] {
    const cut = all ? this.buf.length : this.buf.lastIndexOf("\n") + 1;
    const ready = this.buf.slice(0, cut);
    this.buf = this.buf.slice(cut);
    const out: { level: "info" | "error"; text: string }[] = [];
    let tb: string[] | null = null;
    for (const line of ready.split(/\r?\n/)) {
      if (line.startsWith("Traceback (most recent call last)")) {
        if (tb) out.push({ level: "error", text: tb.join("\n") });
        tb = [line];
      } else if (tb && (/^\s/.test(line) || line === "")) {
        if (line !== "") tb.push(line);
      } else if (tb) {
        tb.push(line); // the exception line closes the traceback
        out.push({ level: "error", text: tb.join("\n") });
        tb = null;
      } else if (line.trim()) {
        out.push({ level: /error|exception/i.test(line) ? "error" : "info", text: line });
      }
    }
    if (tb) {
      if (all) out.push({ level: "error", text: tb.join("\n") });
      else this.buf = tb.join("\n") + "\n" + this.buf; // wait for the exception line
    }
    return out;
  }
}

/** Text of anything logged: objects as JSON, never "[object Object]". */
export function logText(value: unknown): string {
  if (typeof value === "string") return value;
  if (value instanceof Error) return value.stack ?? value.message;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

// --- the panel ----------------------------------------------------------------------------------

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function basename(p: string): string {
  return p.split(/[\\/]/).pop() ?? p;
}

function link(file: string, line: number | undefined): string {
  const l = line ?? 1;
  return `<a href="#" class="loc" data-file="${esc(file)}" data-line="${l}">${esc(basename(file))}:${l}</a>`;
}

/** One problem: code, message, function, sample/subset and the user's file:line as links. */
export function problemHtml(p: Problem): string {
  const head = [p.code ?? p.type ?? "", p.function ? `in <code>${esc(p.function)}()</code>` : ""].filter(Boolean).join(" ");
  const where = [p.sample !== undefined && p.sample !== null ? `sample ${esc(JSON.stringify(p.sample))}` : "",
    p.subset ? `subset ${esc(p.subset)}` : ""].filter(Boolean).join(", ");
  const locs = [p.file ? link(p.file, p.line) : "", p.called_at?.file ? `called at ${link(p.called_at.file, p.called_at.line)}` : ""]
    .filter(Boolean).join(" · ");
  return `<li class="problem"><b>${head}</b> ${esc(p.message ?? "")}`
    + `${where || locs ? `<div class="where">${[where, locs].filter(Boolean).join(" · ")}</div>` : ""}</li>`;
}

function failureHtml(result: PreviewResult, hasPythonExtension: boolean): string {
  const subset = result.subset ?? "training";
  const sample = result.sample_id === undefined || result.sample_id === null ? "" : ` sample ${esc(JSON.stringify(result.sample_id))}`;
  const parts = [`<h2 class="problem">Preview failed: ${esc(subset)}${sample}</h2>`,
    `<p class="reason">${esc(result.message ?? "the preview could not run")}</p>`];
  if (result.reason?.kind === "interpreter") {
    const m = interpreterMessage(result.reason, hasPythonExtension);
    if (m.install) parts.push(`<p>Install with:</p><pre class="install">${esc(m.install)}</pre>`);
  }
  const problems = (result.problems ?? []).filter((p) => p.message !== result.message || p.file);
  if (problems.length) parts.push(`<ul>${problems.map(problemHtml).join("")}</ul>`);
  if (result.reason?.kind === "untrusted") {
    parts.push(`<p><button id="trust">Manage Workspace Trust</button> <span class="muted">The panel updates when the workspace is trusted.</span></p>`);
  } else {
    parts.push(`<p class="muted">The panel updates when you save a fix.</p>`);
  }
  return parts.join("");
}

/** What the panel says above the preview: a run in progress (with Cancel), a cancelled run, or nothing. */
export interface PanelStatus {
  kind: "running" | "cancelled";
  title: string;          // "training sample 3"
  progress?: string;      // the last progress report ("input 'image' on training sample 3")
  previous?: boolean;     // the body below is the previous result, kept dimmed for reference
}

function statusHtml(status: PanelStatus): string {
  if (status.kind === "running") {
    return `<div id="status" class="running"><span class="spinner">⟳</span> Running the preview of <b>${esc(status.title)}</b>`
      + ` <span id="progress" class="muted">${esc(status.progress ?? "starting")}</span> <button id="cancel">Cancel</button>`
      + `${status.previous ? `<div class="muted">Below: the previous result, until this one is ready.</div>` : ""}</div>`;
  }
  return `<div id="status" class="cancelled">The preview of <b>${esc(status.title)}</b> was cancelled (the process running your`
    + ` code was stopped). <button id="rerun">Run again</button></div>`;
}

/** The user code's output, folded (the end of it when long). */
export function outputHtml(output: string | null | undefined): string {
  if (!output) return "";
  const lines = output.replace(/\n$/, "").split("\n").length;
  return `<details id="output"><summary>Output of your code (${lines} line${lines === 1 ? "" : "s"})</summary>`
    + `<pre class="output">${esc(output)}</pre></details>`;
}

/** The webview page: the server's rendered preview (or the reason it failed) plus navigation, under the
 *  status of a run in progress or cancelled. */
export function panelHtml(result: PreviewResult | null, nonce: string, cspSource: string, nav?: NavState,
  hasPythonExtension = false, status?: PanelStatus): string {
  const st = nav ?? (result ? navState(result) : { subsets: [], subset: "training", sampleId: null, prev: null, next: null, first: null });
  const subsets = st.subsets.length ? st.subsets : [st.subset];
  const options = subsets.map((s) => `<option${s === st.subset ? " selected" : ""}>${esc(s)}</option>`).join("");
  let body = "";
  if (result) {
    const problems = (result.problems ?? []).filter((p) => p.file);
    const located = result.ok && problems.length
      ? `<div id="located"><h2 class="problem">Problems on this sample</h2><ul>${problems.map(problemHtml).join("")}</ul></div>` : "";
    // the server's page lists problems without links: the located list above replaces it
    const page = (result.html ?? "").replace(/^<!doctype html>/i, "")
      .replace(located ? /<h2 class='problem'>Problems on this sample<\/h2><ul>[\s\S]*?<\/ul>/ : /$^/, "");
    body = (result.ok ? located + page : failureHtml(result, hasPythonExtension)) + outputHtml(result.output);
  }
  const dim = status?.kind === "running" && status.previous ? " class=\"previous\"" : "";
  const data = JSON.stringify({ subset: st.subset, prev: st.prev, next: st.next }).replace(/</g, "\\u003c");
  const nextLabel = result && !result.ok && st.next !== null ? "first sample ▶" : "next ▶";
  return `<!doctype html><html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data: ${cspSource}; style-src 'unsafe-inline'; script-src 'nonce-${nonce}';">
<style>.problem{color:var(--vscode-errorForeground,#b00020)} .where{color:var(--vscode-descriptionForeground,#777);margin:2px 0 6px}
pre.install{padding:6px;background:var(--vscode-textCodeBlock-background,#eee);user-select:all} .muted{color:var(--vscode-descriptionForeground,#777)}
#nav{margin-bottom:8px} a.loc{color:var(--vscode-textLink-foreground,#06c)} .previous{opacity:.45}
#status{padding:6px 8px;margin-bottom:8px;border-left:3px solid var(--vscode-progressBar-background,#0e70c0);background:var(--vscode-editorWidget-background,#f3f3f3)}
#status.cancelled{border-left-color:var(--vscode-editorWarning-foreground,#bf8803)}
pre.output{max-height:240px;overflow:auto;padding:6px;background:var(--vscode-textCodeBlock-background,#eee)}</style>
</head><body>
<div id="nav"><button id="prev">◀ previous</button> <select id="subset">${options}</select> <button id="next">${nextLabel}</button></div>
${status ? statusHtml(status) : ""}
<div id="preview"${dim}>${body}</div>
<script nonce="${nonce}">
const vscode = acquireVsCodeApi(); const nav = ${data};
const on = (id, f) => { const el = document.getElementById(id); if (el) el.onclick = f; };
document.getElementById("prev").disabled = nav.prev === null;
document.getElementById("next").disabled = nav.next === null;
on("prev", () => vscode.postMessage({type: "navigate", subset: nav.subset, sampleId: nav.prev}));
on("next", () => vscode.postMessage({type: "navigate", subset: nav.subset, sampleId: nav.next}));
on("cancel", () => vscode.postMessage({type: "cancel"}));
on("rerun", () => vscode.postMessage({type: "rerun"}));
on("trust", () => vscode.postMessage({type: "trust"}));
document.getElementById("subset").onchange = (e) => vscode.postMessage({type: "navigate", subset: e.target.value, sampleId: null});
for (const a of document.querySelectorAll("a.loc")) {
  a.onclick = (e) => { e.preventDefault(); vscode.postMessage({type: "open", file: a.dataset.file, line: Number(a.dataset.line)}); };
}
window.addEventListener("message", (e) => {
  const p = document.getElementById("progress");
  if (e.data && e.data.type === "progress" && p) p.textContent = e.data.text;
});
</script></body></html>`;
}

export interface LevelLog {
  name: string;
  info(m: string): void;
  warn(m: string): void;
  error(m: string): void;
  debug(m: string): void;
  show(preserveFocus?: boolean): void;
  hide(): void;
  clear(): void;
  dispose(): void;
}

/** The output channel handed to the language client: the server's stderr joined into whole entries
 *  (a traceback is one entry), the client's "[Error - 10:00:00] text" lines logged at their level. */
export function serverOutput(log: LevelLog, delayMs = 80) {
  const joiner = new LogJoiner();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const flush = (all: boolean) => {
    for (const e of joiner.flush(all)) (e.level === "error" ? log.error : log.info).call(log, e.text);
  };
  return {
    name: log.name,
    append(value: string) {
      joiner.push(value);
      flush(false);
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => flush(true), delayMs);
    },
    appendLine(value: string) {
      // the client itself interpolates an error's data object: drop what it turned into "[object Object]"
      const text = logText(value).split("\n").filter((l) => l.trim() !== "[object Object]").join("\n");
      const m = /^\[(Error|Warn|Info|Debug|Trace)\s*- [^\]]*\] ([\s\S]*)$/.exec(text);
      const body = m ? m[2] : text;
      if (!body.trim()) return;
      const level = m?.[1];
      if (level === "Error") log.error(body);
      else if (level === "Warn") log.warn(body);
      else if (level === "Debug" || level === "Trace") log.debug(body);
      else log.info(body);
    },
    replace(value: string) { log.clear(); this.append(value); },
    clear: () => log.clear(),
    show: (a?: unknown, b?: boolean) => log.show(typeof a === "boolean" ? a : b),
    hide: () => log.hide(),
    dispose: () => { if (timer) clearTimeout(timer); flush(true); },
  };
}

// --- the user code's output ------------------------------------------------------------------------

/** A `tensorleap/output` notification: what the user's code printed during a run (a preview, the checks). */
export interface OutputNotice {
  uri?: string | null;
  run: string;
  title: string;
  text: string;
}

/** The text the output channel appends: a header line when a new run starts printing, then its text. */
export class OutputLog {
  private lastRun = "";
  private endsWithNewline = true;

  format(n: OutputNotice, now: Date = new Date()): string {
    let out = "";
    if (n.run !== this.lastRun) {
      this.lastRun = n.run;
      const time = now.toTimeString().slice(0, 8);
      out += `${this.endsWithNewline ? "" : "\n"}── ${n.title.replace(/^Tensorleap: /, "")} (${time}) ──\n`;
    }
    out += n.text;
    if (out) this.endsWithNewline = out.endsWith("\n");
    return out;
  }
}

// --- where the skeleton goes ----------------------------------------------------------------------

export type SkeletonTarget =
  | { kind: "active"; uri: string }          // the active file (the server checks it is empty)
  | { kind: "create"; uri: string }          // no editor: leap_integration.py in the first folder
  | { kind: "save-first" }                   // an Untitled buffer: the server cannot see it
  | { kind: "no-folder" };

/** Generate Integration Skeleton's file: the active one if it is on disk, else a new leap_integration.py
 *  of the workspace (never an Untitled buffer the server answers "not a file" for). */
export function skeletonTarget(active: { scheme: string; uri: string } | undefined, folders: string[]): SkeletonTarget {
  if (active) return active.scheme === "file" ? { kind: "active", uri: active.uri } : { kind: "save-first" };
  if (!folders.length) return { kind: "no-folder" };
  return { kind: "create", uri: `${folders[0].replace(/\/+$/, "")}/leap_integration.py` };
}


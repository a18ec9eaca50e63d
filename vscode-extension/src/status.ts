// The status bar item (server state, last run, problems; a tooltip naming both interpreters and the
// SDK version) and the one-message explanations of failures (interpreter, trust).
import { execFile } from "child_process";
import * as os from "os";
import * as vscode from "vscode";

import { Environment, PreviewResult, Reason, StatusState, interpreterMessage, statusText, statusTooltip } from "./messages";

export const state: StatusState = { running: false, problems: 0, lastRunFailed: false, server: "starting" };
let item: vscode.StatusBarItem;
let env: Environment | null = null;

export function createStatus(context: vscode.ExtensionContext): void {
  item = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Left, 10);
  item.command = "tensorleap.showLogs";
  item.name = "Tensorleap";
  context.subscriptions.push(item, vscode.languages.onDidChangeDiagnostics(() => refreshStatus()));
  refreshStatus();
}

export function refreshStatus(): void {
  const ours = vscode.languages.getDiagnostics().flatMap(([, ds]) => ds.filter((d) => d.source === "tensorleap"));
  state.problems = ours.length;
  state.errors = ours.filter((d) => d.severity === vscode.DiagnosticSeverity.Error).length;
  state.warnings = ours.filter((d) => d.severity === vscode.DiagnosticSeverity.Warning).length;
  state.untrusted = !vscode.workspace.isTrusted;
  item.text = statusText(state);
  const tip = new vscode.MarkdownString(statusTooltip(env, state));
  item.tooltip = tip;
  item.show();
}

/** Where the tooltip's facts come from: the server's `tensorleap.environment` (both interpreters,
 *  the SDK version; the project interpreter only runs in a trusted workspace). One place to swap. */
export async function refreshEnvironment(uri?: string): Promise<void> {
  try {
    env = (await vscode.commands.executeCommand<Environment>("tensorleap.environment", { uri: uri ?? "" })) ?? null;
  } catch {
    env = null;
  }
  refreshStatus();
}

export function setServerState(s: StatusState["server"], serverInterpreter?: string): void {
  state.server = s;
  if (s !== "running") env = serverInterpreter ? { server: { interpreter: serverInterpreter } } : null;
  refreshStatus();
}

export function hasPythonExtension(): boolean {
  return vscode.extensions.getExtension("ms-python.python") !== undefined;
}

let trustOffered = false;

/** A failed run or preview, explained once where the user looks, with the action that fixes it. */
export function explainFailure(result: PreviewResult & { ran?: boolean }): void {
  if (result.reason?.kind === "untrusted") {
    void offerTrust();
  } else if (result.reason?.kind === "interpreter") {
    void showInterpreterProblem(result.reason);
  }
}

/** "Manage Workspace Trust", offered once per session (the status bar keeps the shield). */
export async function offerTrust(): Promise<void> {
  if (trustOffered) return;
  trustOffered = true;
  const pick = await vscode.window.showWarningMessage(
    "Tensorleap: this workspace is not trusted, so its code does not run: static checks work, dynamic checks and previews need trust.",
    "Manage Workspace Trust");
  if (pick) void vscode.commands.executeCommand("workbench.trust.manage");
}

let shownReason = "";

export async function showInterpreterProblem(reason: Reason): Promise<void> {
  const m = interpreterMessage(reason, hasPythonExtension());
  if (m.text === shownReason) return; // the same problem, already on screen
  shownReason = m.text;
  // a project without an interpreter of its own is a set-up step, not an error of the user's code
  const show = reason.source === "fallback" ? vscode.window.showWarningMessage : vscode.window.showErrorMessage;
  const pick = await show(m.text, ...m.actions);
  shownReason = "";
  if (pick === "Create .venv") void vscode.commands.executeCommand("tensorleap.createVenv", m.install);
  if (pick === "Select Interpreter") void vscode.commands.executeCommand("tensorleap.selectInterpreter");
  if (pick === "Open Settings") void vscode.commands.executeCommand("workbench.action.openSettings", "tensorleap.interpreter");
  if (pick === "Open Terminal" && m.install) {
    const term = vscode.window.createTerminal("Tensorleap: install");
    term.show();
    term.sendText(m.install, false); // typed, not run: the user presses Enter
  }
}

// What a server interpreter lacks, asked of the interpreter itself (with the bundled libraries on
// its path, so the import -> distribution names come from the server's own table).
const PROBE = `import sys, json, importlib.util as u
mods = [m for m in ("numpy", "yaml", "pygls", "lsprotocol") if u.find_spec(m) is None]
try:
    from tensorleap_ls.core.project.requirements import distributions_for as d
except Exception:
    d = lambda m: (m,)
print(json.dumps({"version": ".".join(map(str, sys.version_info[:3])), "missing": mods, "packages": [d(m)[0] for m in mods]}))`;

/** The server did not start: one message naming the interpreter, its version and what it lacks. */
export function explainStartFailure(python: string, pythonPath: string, err: unknown, log: vscode.LogOutputChannel): void {
  // run from a neutral folder: `-c` puts the working directory on sys.path, and it may be the workspace
  execFile(python, ["-c", PROBE], { cwd: os.tmpdir(), timeout: 30000, env: { ...process.env, PYTHONPATH: pythonPath } },
    (e, stdout) => {
    let reason: Reason = { kind: "interpreter", role: "server", interpreter: python, version: null, missing: [] };
    if (e && (e as NodeJS.ErrnoException).code === "ENOENT") {
      setServerState("no-interpreter", python);
      reason = { ...reason, error: "not found" };
    } else {
      setServerState("stopped", python);
      try {
        reason = { ...reason, ...JSON.parse(stdout.trim().split("\n").pop() ?? "") };
      } catch {
        reason = { ...reason, error: String(err) };
      }
      if (!reason.missing?.length && !reason.error) reason.error = String(err);
    }
    log.error(`server failed to start with ${python}: ${String(err)}`);
    void showInterpreterProblem(reason);
  });
}

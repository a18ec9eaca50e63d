// Starting the language server: the two interpreters (policies in interpreter.ts), the launch
// command (the bundled launcher file, run from the extension's own folder, never the workspace),
// and the one message when no interpreter can run the server.
import * as fs from "fs";
import * as path from "path";
import * as vscode from "vscode";
import { CloseAction, ErrorAction, LanguageClient, LanguageClientOptions, Middleware, ServerOptions, State } from "vscode-languageclient/node";

import {
  ProjectChoice, ServerChoice, chooseProjectInterpreter, chooseServerInterpreter, describeInterpreters, inside,
  launcherPath, listDir, noServerMessage, pathCandidates, platformOf, probe, probedLine, pyLauncherList,
  pyvenvCfgOf, serverPythonPath, venvVersion,
} from "./interpreter";
import { ServerOptions as Options, pathSetting } from "./settings";

export interface Interpreters {
  server: ServerChoice;
  project: ProjectChoice;
}

let current: Interpreters | undefined;
const changed = new vscode.EventEmitter<Interpreters | undefined>();
/** Fires when the chosen interpreters change (for the status bar). */
export const onDidChangeInterpreters = changed.event;

/** The interpreters the running server uses, with their versions and where each came from. */
export function chosenInterpreters(): Interpreters | undefined {
  return current;
}

/** A tooltip/log text naming both interpreters. */
export function interpretersText(): string {
  return current ? describeInterpreters(current.server, current.project) : "Tensorleap server: no suitable Python";
}

let warnedNoServer = false;

/** What the rest of the extension learns of the server's life (status bar, planned restarts, failures). */
export interface StartHooks {
  restart: () => void;
  /** True while the extension itself stops the server: that stop is not a crash. */
  restarting: () => boolean;
  onState: (state: "starting" | "running" | "stopped" | "no-interpreter", python?: string) => void;
  /** The server process did not start: one explanation naming the interpreter and what it lacks. */
  startFailed: (python: string, pythonPath: string, err: unknown) => void;
  output: vscode.OutputChannel;
  /** what the client does with server commands before sending them (the debug lenses start a session) */
  middleware?: Middleware;
}

async function pythonFromExtension(resource?: vscode.Uri): Promise<string | null> {
  const ext = vscode.extensions.getExtension("ms-python.python");
  if (!ext) return null;
  try {
    const api = ext.isActive ? ext.exports : await ext.activate();
    const env = api?.environments?.getActiveEnvironmentPath?.(resource);
    if (env?.path) return env.path;
    const details = api?.settings?.getExecutionDetails?.(resource);
    return details?.execCommand?.[0] ?? null;
  } catch {
    return null;
  }
}

function readText(file: string): string {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return "";
  }
}

async function chooseInterpreters(context: vscode.ExtensionContext, log: vscode.LogOutputChannel,
  opts: Options): Promise<Interpreters | undefined> {
  const plat = platformOf(process.platform);
  const cwd = context.extensionPath;
  const resource = vscode.window.activeTextEditor?.document.uri ?? vscode.workspace.workspaceFolders?.[0]?.uri;
  const folder = (resource && vscode.workspace.getWorkspaceFolder(resource)) ?? vscode.workspace.workspaceFolders?.[0];
  const folders = (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath);
  const trusted = vscode.workspace.isTrusted;
  const mayRun = (p: string) => trusted || !inside(p, folders, plat);
  const fromPythonExt = await pythonFromExtension(resource);
  const search = await chooseServerInterpreter({
    setting: pathSetting(vscode.workspace.getConfiguration("tensorleap", resource), "serverInterpreter"),
    pythonExtension: fromPythonExt,
    launcher: plat.os === "win32" ? await pyLauncherList(cwd) : [],
    path: pathCandidates(process.env.PATH, plat, listDir),
    probe: (p) => probe(p, cwd),
    mayRun,
  });
  for (const t of search.tried) log.info(`server interpreter candidate: ${probedLine(t)}`);
  if (!search.choice) {
    const message = noServerMessage(search);
    log.error(message);
    if (!warnedNoServer) {  // once per session; the log keeps every attempt
      warnedNoServer = true;
      void vscode.window.showErrorMessage(message, "Open Settings").then((pick) => {
        if (pick) void vscode.commands.executeCommand("workbench.action.openSettings", "tensorleap.serverInterpreter");
      });
    }
    return undefined;
  }
  const server = search.choice;
  const picked = chooseProjectInterpreter({ setting: opts.interpreter, pythonExtension: fromPythonExt,
    workspaceFolder: folder?.uri.fsPath ?? null, exists: fs.existsSync, plat }, server);
  const version = picked.path === server.path ? server.version
    : venvVersion(readText(pyvenvCfgOf(picked.path))) ?? (mayRun(picked.path) ? (await probe(picked.path, cwd)).version : null);
  const chosen = { server, project: { ...picked, version } };
  log.info(describeInterpreters(chosen.server, chosen.project));
  return chosen;
}

/** The settings the server gets: the user's, with the project interpreter chosen here. */
export function serverSettings(opts: Options): Options {
  return current ? { ...opts, interpreter: current.project.path } : opts;
}

/** Chooses the interpreters and starts the server; undefined (after saying why) when it cannot. */
export async function startServer(context: vscode.ExtensionContext, log: vscode.LogOutputChannel, opts: Options,
  hooks: StartHooks): Promise<LanguageClient | undefined> {
  current = await chooseInterpreters(context, log, opts);
  changed.fire(current);
  if (!current) {
    hooks.onState("no-interpreter");
    return undefined;
  }
  const { server } = current;
  const plat = platformOf(process.platform);
  const libs = context.asAbsolutePath(path.join("bundled", "libs"));
  const bundled = fs.existsSync(path.join(libs, "tensorleap_ls")) ? libs : null;
  const launcher = launcherPath(bundled, server, plat);
  if (!launcher) {
    const message = `The Tensorleap server is neither bundled with this extension nor installed in ${server.path}: ` +
      "reinstall the extension (or pip install tensorleap-ls in that interpreter).";
    log.error(message);
    void vscode.window.showErrorMessage(message);
    return undefined;
  }
  const env: NodeJS.ProcessEnv = { ...process.env, TL_DISABLE_ANALYTICS: "1" };
  if (bundled) env.PYTHONPATH = serverPythonPath(bundled, process.env.PYTHONPATH, plat);
  const pythonPath = env.PYTHONPATH ?? "";
  log.info(`starting ${server.path} ${launcher} (cwd ${context.extensionPath})`);
  const serverOptions: ServerOptions = {
    command: server.path, args: [launcher],
    // the extension's folder: nothing of the workspace may be importable by the server
    options: { cwd: context.extensionPath, env },
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ scheme: "file", language: "python" }, { scheme: "file", pattern: "**/leap.yaml" }],
    initializationOptions: serverSettings(opts),
    outputChannel: hooks.output,
    // no client-side watcher: the server registers its own (one watcher, for every client)
    // one explanation of our own instead of the client's cascade of toasts
    errorHandler: {
      error: () => ({ action: ErrorAction.Continue, handled: true }),
      closed: () => ({ action: CloseAction.DoNotRestart, handled: true }),
    },
    initializationFailedHandler: () => false, // explained once, below
    middleware: hooks.middleware,
  };
  const client = new LanguageClient("tensorleap", "Tensorleap", serverOptions, clientOptions);
  client.onDidChangeState((e) => {
    if (e.newState === State.Running) hooks.onState("running");
    if (e.newState === State.Stopped && e.oldState === State.Running && !hooks.restarting()) {
      hooks.onState("stopped", server.path);
      log.warn("the server stopped unexpectedly");
      void vscode.window.showErrorMessage("The Tensorleap server stopped. See Tensorleap: Show Logs.", "Restart", "Show Logs")
        .then((pick) => (pick === "Restart" ? hooks.restart() : pick ? log.show() : undefined));
    }
  });
  hooks.onState("starting", server.path);
  try {
    await client.start();
  } catch (err) {
    hooks.startFailed(server.path, pythonPath, err);
    return undefined;
  }
  return client;
}

/** The TL534 quick fix: a terminal holding the server's exact install command (the user presses Enter). */
export function registerInstallTerminal(context: vscode.ExtensionContext): void {
  context.subscriptions.push(vscode.commands.registerCommand("tensorleap.openInstallTerminal", (line: unknown) => {
    if (typeof line !== "string" || !line) return;
    const terminal = vscode.window.createTerminal({ name: "Tensorleap: install code-loader",
      cwd: vscode.workspace.workspaceFolders?.[0]?.uri });
    terminal.show();
    terminal.sendText(line, false);
  }));
}

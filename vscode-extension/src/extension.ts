// Tensorleap VS Code extension: starts the tensorleap-ls server with the user's interpreter and
// the bundled pure-Python libraries, and adds the preview panel, commands and status bar.
import * as path from "path";
import * as vscode from "vscode";
import { CloseAction, ErrorAction, LanguageClient, LanguageClientOptions, ServerOptions, State } from "vscode-languageclient/node";

import { chooseInterpreter, serverPythonPath } from "./interpreter";
import { registerCommands } from "./commands";
import { PreviewResult, logText, serverOutput } from "./messages";
import { refreshPreview, showPanel } from "./preview";
import { needsRestart, resolveOptions } from "./settings";
import { createStatus, explainStartFailure, refreshEnvironment, setServerState } from "./status";

let client: LanguageClient | undefined;
let log: vscode.LogOutputChannel;
let crashes = 0;
let restarting = false; // a stop the extension asked for is not a crash

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

function options() {
  const cfg = vscode.workspace.getConfiguration("tensorleap");
  const level = vscode.LogLevel[log.logLevel]?.toString().toLowerCase();
  return resolveOptions(cfg, vscode.workspace.isTrusted, level);
}

async function start(context: vscode.ExtensionContext): Promise<void> {
  const opts = options();
  const resource = vscode.window.activeTextEditor?.document.uri ?? vscode.workspace.workspaceFolders?.[0]?.uri;
  const choice = chooseInterpreter({ setting: opts.interpreter, pythonExtension: await pythonFromExtension(resource), fallback: "python3" });
  log.info(`starting tensorleap-ls with ${choice.path} (${choice.source})`);
  const bundled = context.asAbsolutePath(path.join("bundled", "libs"));
  const serverOptions: ServerOptions = {
    command: choice.path,
    args: ["-m", "tensorleap_ls", "serve"],
    options: { env: { ...process.env, PYTHONPATH: serverPythonPath(bundled, process.env.PYTHONPATH), TL_DISABLE_ANALYTICS: "1" } },
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ scheme: "file", language: "python" }, { scheme: "file", pattern: "**/leap.yaml" }],
    initializationOptions: { ...opts, interpreter: opts.interpreter ?? choice.path },
    outputChannel: serverOutput(log) as unknown as vscode.OutputChannel,
    // one explanation of our own instead of the client's cascade of toasts
    errorHandler: {
      error: () => ({ action: ErrorAction.Continue, handled: true }),
      closed: () => ({ action: CloseAction.DoNotRestart, handled: true }),
    },
    synchronize: { fileEvents: vscode.workspace.createFileSystemWatcher("**/{*.py,leap.yaml,*.yaml,requirements.txt}") },
    initializationFailedHandler: () => false, // explained once, below
  };
  client = new LanguageClient("tensorleap", "Tensorleap", serverOptions, clientOptions);
  client.onDidChangeState((e) => {
    if (e.newState === State.Running) setServerState("running");
    if (e.newState === State.Stopped && e.oldState === State.Running && !restarting) {
      crashes += 1;
      setServerState("stopped", choice.path);
      log.warn(`server stopped unexpectedly (${crashes})`);
      void vscode.window.showErrorMessage("The Tensorleap server stopped. See Tensorleap: Show Logs.", "Restart", "Show Logs")
        .then((pick) => (pick === "Restart" ? restart(context) : pick ? log.show() : undefined));
    }
  });
  setServerState("starting", choice.path);
  try {
    await client.start();
  } catch (err) {
    client = undefined;
    explainStartFailure(choice.path, serverPythonPath(bundled, process.env.PYTHONPATH), logText(err), log);
    return;
  }
  client.onNotification("tensorleap/preview", (params: PreviewResult & { uri: string }) => showPanel(params));
  void refreshEnvironment(vscode.window.activeTextEditor?.document.uri.toString());
}

async function restart(context: vscode.ExtensionContext): Promise<void> {
  restarting = true;
  try {
    if (client) {
      await client.stop().catch(() => undefined);
      client = undefined;
    }
  } finally {
    restarting = false;
  }
  await start(context);
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  log = vscode.window.createOutputChannel("Tensorleap", { log: true });
  context.subscriptions.push(log);
  createStatus(context);
  registerCommands(context, { restart: () => restart(context), showLogs: () => log.show() });
  context.subscriptions.push(
    vscode.workspace.onDidGrantWorkspaceTrust(() => restart(context)),
    vscode.workspace.onDidSaveTextDocument(() => refreshPreview()),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (!e.affectsConfiguration("tensorleap")) return;
      if (needsRestart((k) => e.affectsConfiguration(k))) {
        void restart(context);
      } else {
        void client?.sendNotification("workspace/didChangeConfiguration", { settings: options() });
      }
    }),
  );
  const pyExt = vscode.extensions.getExtension("ms-python.python");
  const envs = pyExt?.isActive ? pyExt.exports?.environments : undefined;
  if (envs?.onDidChangeActiveEnvironmentPath) {
    context.subscriptions.push(envs.onDidChangeActiveEnvironmentPath(() => restart(context)));
  }
  await start(context);
}

export async function deactivate(): Promise<void> {
  restarting = true;
  if (client) await client.stop();
}

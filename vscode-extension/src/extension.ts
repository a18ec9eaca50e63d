// Tensorleap VS Code extension: starts the tensorleap-ls server with the user's interpreter and
// the bundled pure-Python libraries, and adds the preview panel, commands and status bar.
import * as vscode from "vscode";
import { LanguageClient } from "vscode-languageclient/node";

import { registerCommands, serverUp, targetUri } from "./commands";
import { debugMiddleware, registerDebugging } from "./debug";
import { PreviewResult, serverOutput } from "./messages";
import { refreshPreview, showPanel } from "./preview";
import { registerScan } from "./scan";
import { registerInstallTerminal, serverSettings, startServer } from "./server";
import { needsRestart, resolveOptions } from "./settings";
import { createStatus, explainStartFailure, refreshEnvironment, setServerState } from "./status";
import { refreshTests, registerTesting } from "./testing";

let client: LanguageClient | undefined;
let log: vscode.LogOutputChannel;
let restarting = false; // a stop the extension asked for is not a crash

function options() {
  const cfg = vscode.workspace.getConfiguration("tensorleap");
  const level = vscode.LogLevel[log.logLevel]?.toString().toLowerCase();
  return resolveOptions(cfg, vscode.workspace.isTrusted, level);
}

async function start(context: vscode.ExtensionContext): Promise<void> {
  client = await startServer(context, log, options(), {
    restart: () => void restart(context, "asked after a stop"),
    restarting: () => restarting,
    onState: (s, python) => setServerState(s, python),
    startFailed: (python, pythonPath, err) => explainStartFailure(python, pythonPath, err, log),
    output: serverOutput(log) as unknown as vscode.OutputChannel,
    middleware: debugMiddleware(),
  });
  if (!client) return;
  client.onNotification("tensorleap/preview", (params: PreviewResult & { uri: string }) => showPanel(params));
  void refreshTests();
  void refreshEnvironment(vscode.window.activeTextEditor?.document.uri.toString());
}

async function restart(context: vscode.ExtensionContext, why: string): Promise<void> {
  log.info(`restarting the server: ${why}`);
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
  registerInstallTerminal(context);
  registerCommands(context, { restart: () => restart(context, "Restart Server"), showLogs: () => log.show() });
  registerDebugging(context, () => client, targetUri, serverUp);
  registerTesting(context, () => client);
  registerScan(context, serverUp, targetUri);
  context.subscriptions.push(
    vscode.workspace.onDidGrantWorkspaceTrust(() => restart(context, "the workspace is trusted now")),
    vscode.workspace.onDidSaveTextDocument(() => refreshPreview()),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (!e.affectsConfiguration("tensorleap")) return;
      if (needsRestart((k) => e.affectsConfiguration(k))) {
        void restart(context, "an interpreter setting changed");
      } else {
        void client?.sendNotification("workspace/didChangeConfiguration", { settings: serverSettings(options()) });
      }
    }),
  );
  const pyExt = vscode.extensions.getExtension("ms-python.python");
  const envs = pyExt?.isActive ? pyExt.exports?.environments : undefined;
  if (envs?.onDidChangeActiveEnvironmentPath) {
    context.subscriptions.push(envs.onDidChangeActiveEnvironmentPath(() => restart(context, "the Python extension's interpreter changed")));
  }
  await start(context);
}

export async function deactivate(): Promise<void> {
  restarting = true;
  if (client) await client.stop();
}

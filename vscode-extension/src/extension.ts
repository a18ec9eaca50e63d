// Tensorleap VS Code extension: starts the tensorleap-ls server with the user's interpreter and
// the bundled pure-Python libraries, and adds the preview panel, commands and status bar.
import * as vscode from "vscode";
import { LanguageClient } from "vscode-languageclient/node";

import { registerCommands } from "./commands";
import { createVenv, selectInterpreter, watchVenvs } from "./environment";
import { OutputNotice, PreviewResult, serverOutput } from "./messages";
import { refreshAfterTrust, refreshPreview, showPanel, usePreviewClient } from "./preview";
import { appendUserOutput } from "./runs";
import { registerInstallTerminal, serverSettings, startServer } from "./server";
import { needsRestart, resolveOptions } from "./settings";
import { createStatus, explainStartFailure, refreshEnvironment, setServerState } from "./status";

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
    restart: () => void restart(context),
    restarting: () => restarting,
    onState: (s, python) => setServerState(s, python),
    startFailed: (python, pythonPath, err) => explainStartFailure(python, pythonPath, err, log),
    output: serverOutput(log) as unknown as vscode.OutputChannel,
  });
  if (!client) return;
  client.onNotification("tensorleap/preview", (params: PreviewResult & { uri: string }) => showPanel(params));
  client.onNotification("tensorleap/output", (params: OutputNotice) => appendUserOutput(params));
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
  registerInstallTerminal(context);
  usePreviewClient(() => client);
  registerCommands(context, { restart: () => restart(context), showLogs: () => log.show(), client: () => client,
    selectInterpreter, createVenv });
  watchVenvs(context, (why) => {
    log.info(`restarting the server: ${why}`);
    void restart(context);
  });
  context.subscriptions.push(
    vscode.workspace.onDidGrantWorkspaceTrust(async () => {
      await restart(context);
      refreshAfterTrust(); // a panel that said "not trusted" shows its sample now
    }),
    vscode.workspace.onDidSaveTextDocument(() => refreshPreview()),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (!e.affectsConfiguration("tensorleap")) return;
      if (needsRestart((k) => e.affectsConfiguration(k))) {
        void restart(context);
      } else {
        void client?.sendNotification("workspace/didChangeConfiguration", { settings: serverSettings(options()) });
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

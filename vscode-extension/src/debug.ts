// The `tensorleap` debug type: a launch.json entry (or the Debug Sample command, a "Debug sample" lens, a
// "Debug this sample" code action, the Test Explorer's Debug profile) becomes a session of debugpy's own
// adapter. The server starts the sample's harness under debugpy (trust-gated, the project interpreter)
// and says where it listens; the session attaches there. Pure parts: debugConfig.ts.
import * as path from "path";
import * as vscode from "vscode";
import { ExecuteCommandRequest, LanguageClient, Middleware } from "vscode-languageclient/node";

import { DebugArgs, LaunchConfig, Listening, attachConfiguration, launchFor, resolveLaunch, sampleId } from "./debugConfig";
import { knownSubsets } from "./preview";

export const DEBUG_TYPE = "tensorleap";
const SERVER_COMMAND = "tensorleap.debugSample";

type ClientOf = () => LanguageClient | undefined;

function activeIntegrationUri(): string | undefined {
  const doc = vscode.window.activeTextEditor?.document;
  return doc && doc.uri.scheme === "file" && doc.languageId === "python" ? doc.uri.toString() : undefined;
}

/** Starts a debug session of one sample. */
export function debugSample(args: DebugArgs): Thenable<boolean> {
  const uri = vscode.Uri.parse(args.uri);
  return vscode.debug.startDebugging(vscode.workspace.getWorkspaceFolder(uri), launchFor(args, uri.fsPath) as vscode.DebugConfiguration);
}

class Provider implements vscode.DebugConfigurationProvider {
  constructor(private readonly client: ClientOf) {}

  resolveDebugConfiguration(_folder: vscode.WorkspaceFolder | undefined, config: vscode.DebugConfiguration): vscode.DebugConfiguration {
    if (!config.type && !config.request && !config.name) {  // F5 without a launch.json: the active file's first sample
      return { type: DEBUG_TYPE, request: "launch", name: "Tensorleap: debug a sample", subset: "training", sample: "" };
    }
    return config;
  }

  async resolveDebugConfigurationWithSubstitutedVariables(folder: vscode.WorkspaceFolder | undefined,
    config: vscode.DebugConfiguration): Promise<vscode.DebugConfiguration | undefined> {
    if (config.request === "attach") return config;  // already resolved (a restart of the session)
    if (!vscode.workspace.isTrusted) {
      void vscode.window.showWarningMessage("Tensorleap: this workspace is not trusted: debugging a sample runs its code.",
        "Manage Workspace Trust").then((pick) => pick && vscode.commands.executeCommand("workbench.trust.manage"));
      return undefined;
    }
    const base = folder?.uri.fsPath ?? vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? "";
    const resolved = resolveLaunch(config as LaunchConfig, activeIntegrationUri(),
      (f) => vscode.Uri.file(path.resolve(base, f)).toString());
    if (!resolved.ok) {
      void vscode.window.showErrorMessage(`Tensorleap launch configuration "${config.name}": ${resolved.error}`);
      return undefined;
    }
    const client = this.client();
    if (!client) {
      void vscode.window.showErrorMessage("Tensorleap: the server is not running (see Tensorleap: Show Logs).");
      return undefined;
    }
    const reply = await vscode.window.withProgress({ location: vscode.ProgressLocation.Window,
      title: `Tensorleap: starting ${resolved.args.subset} sample ${resolved.args.sampleId ?? "(first)"}` },
    () => client.sendRequest(ExecuteCommandRequest.type, { command: SERVER_COMMAND, arguments: [resolved.args] }) as Promise<Listening>);
    if (!reply?.ok || !reply.port) {
      void vscode.window.showErrorMessage(`Tensorleap: ${reply?.message ?? "the sample could not be started under the debugger"}`);
      return undefined;
    }
    return attachConfiguration(config as LaunchConfig, reply) as vscode.DebugConfiguration;
  }
}

class AdapterFactory implements vscode.DebugAdapterDescriptorFactory {
  createDebugAdapterDescriptor(session: vscode.DebugSession): vscode.DebugAdapterDescriptor {
    const { host, port } = session.configuration.connect ?? {};
    return new vscode.DebugAdapterServer(port, host);  // debugpy's adapter, started by the harness
  }
}

/** The lenses' and code actions' `tensorleap.debugSample` starts a session here (the server's command,
 *  which only starts the harness, is what the session itself calls). */
export function debugMiddleware(): Middleware {
  return {
    executeCommand: async (command, args, next) => {
      if (command !== SERVER_COMMAND) return next(command, args);
      const a = (args[0] ?? {}) as Partial<DebugArgs> & { uri?: string };
      if (!a.uri) return next(command, args);
      return debugSample({ uri: a.uri, subset: a.subset ?? "training", sampleId: sampleId(a.sampleId) ?? null,
        functions: Array.isArray(a.functions) ? a.functions : null, integrationTest: a.integrationTest ?? true });
    },
  };
}

export function registerDebugging(context: vscode.ExtensionContext, client: ClientOf,
  target: () => Promise<string | undefined>, serverUp: () => Promise<boolean>): void {
  context.subscriptions.push(
    vscode.debug.registerDebugConfigurationProvider(DEBUG_TYPE, new Provider(client)),
    vscode.debug.registerDebugAdapterDescriptorFactory(DEBUG_TYPE, new AdapterFactory()),
    vscode.commands.registerCommand("tensorleap.startDebugSample", async () => {
      if (!(await serverUp())) return;
      const uri = await target();
      if (!uri) return;
      const subset = await vscode.window.showQuickPick(knownSubsets(), { placeHolder: "Subset" });
      if (!subset) return;
      const id = await vscode.window.showInputBox({ prompt: "Sample id to debug (empty: the first sample)" });
      if (id === undefined) return;
      await debugSample({ uri, subset, sampleId: sampleId(id) ?? id, functions: null, integrationTest: true });
    }),
  );
}

// The palette commands (the server's own commands are registered by vscode-languageclient). They
// work whatever has focus: from the preview panel they act on the file it previews.
import * as vscode from "vscode";

import { knownSubsets, preview, previewUri } from "./preview";
import { explainFailure, refreshEnvironment, refreshStatus, state } from "./status";

let lastEditorUri: string | undefined;

function isIntegrationDoc(doc: vscode.TextDocument): boolean {
  return doc.uri.scheme === "file" && (doc.languageId === "python" || doc.fileName.endsWith("leap.yaml"));
}

/** Waits for a starting server; false (with a message that says what to do) when it is not there. */
export async function serverUp(): Promise<boolean> {
  for (let i = 0; i < 300 && state.server === "starting"; i++) await new Promise((r) => setTimeout(r, 200));
  if (state.server !== "stopped" && state.server !== "no-interpreter") return true;
  void vscode.window.showWarningMessage("Tensorleap: the server is not running (see the status bar item for why).",
    "Restart Server", "Show Logs").then((pick) => {
    if (pick === "Restart Server") void vscode.commands.executeCommand("tensorleap.restartServer");
    if (pick === "Show Logs") void vscode.commands.executeCommand("tensorleap.showLogs");
  });
  return false;
}

/** The file a command acts on: the active editor, else the last integration file, else the previewed one. */
export async function targetUri(): Promise<string | undefined> {
  const active = vscode.window.activeTextEditor?.document;
  if (active && isIntegrationDoc(active)) return active.uri.toString();
  const visible = vscode.window.visibleTextEditors.map((e) => e.document).find(isIntegrationDoc);
  const found = lastEditorUri ?? previewUri() ?? visible?.uri.toString();
  if (found) return found;
  const yaml = await vscode.workspace.findFiles("**/leap.yaml", "**/node_modules/**", 1);
  if (yaml.length) return yaml[0].toString();
  void vscode.window.showWarningMessage("Tensorleap: open a file of your integration first (or run \"Tensorleap: New Project\").");
  return undefined;
}

export interface RunResult {
  ok: boolean;
  ran?: boolean;
  summary?: string;
  message?: string;
  reason?: import("./messages").Reason;
}

export function registerCommands(context: vscode.ExtensionContext, hooks: { restart: () => Promise<void>; showLogs: () => void }): void {
  const remember = (e?: vscode.TextEditor) => {
    if (e && isIntegrationDoc(e.document)) lastEditorUri = e.document.uri.toString();
  };
  remember(vscode.window.activeTextEditor);
  context.subscriptions.push(
    vscode.window.onDidChangeActiveTextEditor(remember),
    vscode.commands.registerCommand("tensorleap.showLogs", hooks.showLogs),
    vscode.commands.registerCommand("tensorleap.gettingStarted", openWalkthrough),
    vscode.commands.registerCommand("tensorleap.restartServer", hooks.restart),
    vscode.commands.registerCommand("tensorleap.showPreview", async () => {
      if (!(await serverUp())) return;
      const uri = await targetUri();
      if (!uri) return;
      const subset = await vscode.window.showQuickPick(knownSubsets(), { placeHolder: "Subset" });
      if (!subset) return;
      const id = await vscode.window.showInputBox({ prompt: "Sample id (empty: the first sample)" });
      if (id === undefined) return;
      const sampleId = id === "" ? null : /^-?\d+$/.test(id) ? Number(id) : id;
      await preview(uri, subset, sampleId);
    }),
    vscode.commands.registerCommand("tensorleap.runIntegrationChecks", async () => {
      if (!(await serverUp())) return;
      const uri = await targetUri();
      if (!uri) return;
      state.running = true;
      refreshStatus();
      let res: RunResult | undefined;
      try {
        res = await vscode.commands.executeCommand<RunResult>("tensorleap.runChecks", { uri });
      } catch (err) {
        res = { ok: false, ran: false, message: err instanceof Error ? err.message : String(err) };
      } finally {
        state.running = false;
      }
      // "last run failed" only for a run that happened; a run that could not start says why instead
      if (res?.ran) state.lastRunFailed = !res.ok;
      refreshStatus();
      if (res?.reason) {
        explainFailure(res);
      } else if (res?.ok) {
        void vscode.window.showInformationMessage(`Tensorleap: ${res.summary ?? "done"}`);
      } else {
        void vscode.window.showWarningMessage(`Tensorleap: ${res?.message ?? "the checks did not run"}`);
      }
      void refreshEnvironment(uri);
    }),
    vscode.commands.registerCommand("tensorleap.newProject", newProject),
    vscode.commands.registerCommand("tensorleap.newSkeleton", async () => {
      let uri = vscode.window.activeTextEditor?.document.uri.toString();
      if (!uri) {
        const doc = await vscode.workspace.openTextDocument({ language: "python", content: "" });
        await vscode.window.showTextDocument(doc);
        uri = doc.uri.toString();
      }
      const res = await vscode.commands.executeCommand<{ ok: boolean; message?: string }>("tensorleap.generateSkeleton", { uri });
      if (res && !res.ok && res.message) void vscode.window.showWarningMessage(res.message);
    }),
  );
}

async function exists(uri: vscode.Uri): Promise<boolean> {
  try {
    await vscode.workspace.fs.stat(uri);
    return true;
  } catch {
    return false;
  }
}

/** A project from an empty folder: the server composes the files (and a tiny model when it can),
 *  they are written through one WorkspaceEdit (undoable), then the entry opens with the next step. */
async function newProject(): Promise<void> {
  const folders = vscode.workspace.workspaceFolders ?? [];
  let folder = folders.length === 1 ? folders[0].uri : undefined;
  if (folders.length > 1) {
    folder = (await vscode.window.showWorkspaceFolderPick({ placeHolder: "Folder of the new Tensorleap project" }))?.uri;
  } else if (!folders.length) {
    void vscode.window.showInformationMessage("Tensorleap: open an (empty) folder first, then run \"Tensorleap: New Project\" again.", "Open Folder")
      .then((pick) => pick && vscode.commands.executeCommand("workbench.action.files.openFolder"));
    return;
  }
  if (!folder) return;
  const taken = [];
  for (const name of ["leap.yaml", "leap_integration.py"]) {
    if (await exists(vscode.Uri.joinPath(folder, name))) taken.push(name);
  }
  if (taken.length) {
    void vscode.window.showWarningMessage(`Tensorleap: this folder already has ${taken.join(" and ")}; New Project writes into a folder without an integration (nothing was changed).`);
    return;
  }
  const res = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: "Tensorleap: preparing a new project" },
    () => vscode.commands.executeCommand<NewProject>("tensorleap.newProjectFiles", { folder: folder!.toString() }));
  if (!res?.ok) {
    void vscode.window.showErrorMessage("Tensorleap: the server could not prepare the project (see Tensorleap: Show Logs).");
    return;
  }
  const edit = new vscode.WorkspaceEdit();
  const files: [string, Uint8Array][] = [
    ...Object.entries(res.files).map(([rel, text]): [string, Uint8Array] => [rel, Buffer.from(text, "utf8")]),
    ...Object.entries(res.binary).map(([rel, b64]): [string, Uint8Array] => [rel, Buffer.from(b64, "base64")]),
  ];
  for (const [rel, contents] of files) {
    edit.createFile(vscode.Uri.joinPath(folder, ...rel.split("/")), { ignoreIfExists: true, contents });
  }
  if (!(await vscode.workspace.applyEdit(edit))) return;
  const skipped = Object.entries(res.skipped ?? {});
  if (skipped.length) {  // a symlink on the way or a file already there: the server left it out
    void vscode.window.showWarningMessage(`Tensorleap: not written: ${skipped.map(([rel, why]) => `${rel} (${why})`).join("; ")}.`);
  }
  const entry = vscode.Uri.joinPath(folder, res.entry);
  await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(entry));
  const model = res.model ? "a tiny generated ONNX model" : "a load_model stub to fill in (TODO)";
  const pick = await vscode.window.showInformationMessage(
    `Tensorleap: new project (code-loader ${res.sdk}, ${model}). Next: fill in the TODOs, then run the integration checks.`,
    "Run Integration Checks", "Getting Started");
  if (pick === "Run Integration Checks") void vscode.commands.executeCommand("tensorleap.runIntegrationChecks");
  if (pick === "Getting Started") void openWalkthrough();
}

export function openWalkthrough(): Thenable<unknown> {
  return vscode.commands.executeCommand("workbench.action.openWalkthrough", "tensorleap-ls.tensorleap-ls#tensorleap.gettingStarted");
}

interface NewProject {
  ok: boolean;
  files: Record<string, string>;
  binary: Record<string, string>;
  skipped?: Record<string, string>;  // files not written, and why
  entry: string;
  sdk: string;
  model: boolean;
}

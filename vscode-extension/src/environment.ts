// The project's environment from the editor: Select Interpreter (with or without the Python extension),
// Create .venv (a terminal holding the command that makes the project's .venv with its requirements),
// and a watcher that notices a .venv / venv created (or removed) while the server runs.
import * as fs from "fs";
import * as path from "path";
import * as vscode from "vscode";

import { hasPythonExtension } from "./status";
import { chosenInterpreters } from "./server";
import { chooseProjectInterpreter, listDir, pathCandidates, platformOf } from "./interpreter";
import { VENV_PATTERN, choiceChanged, interpreterPicks } from "./venv";

export async function selectInterpreter(): Promise<void> {
  if (hasPythonExtension()) {
    await vscode.commands.executeCommand("python.setInterpreter");
    return;
  }
  const plat = platformOf(process.platform);
  const exe = plat.os === "win32" ? ["Scripts", "python.exe"] : ["bin", "python"];
  const venvs = (vscode.workspace.workspaceFolders ?? []).flatMap((f) =>
    [".venv", "venv"].map((v) => path.join(f.uri.fsPath, v, ...exe))).filter((p) => fs.existsSync(p));
  const items: vscode.QuickPickItem[] = interpreterPicks(venvs, pathCandidates(process.env.PATH, plat, listDir))
    .map((p) => ({ label: p, description: venvs.includes(p) ? "project venv" : "PATH" }));
  const enter = { label: "$(edit) Enter an interpreter path…" };
  const create = { label: "$(add) Create a .venv with the project's requirements…" };
  const pick = await vscode.window.showQuickPick([...items, enter, create], {
    title: "Tensorleap: the interpreter that runs your integration",
    placeHolder: "The Python extension is not installed: the choice is saved in the tensorleap.interpreter setting",
  });
  if (!pick) return;
  if (pick === create) return vscode.commands.executeCommand("tensorleap.createVenv");
  let chosen: string | undefined = pick.label;
  if (pick === enter) chosen = await vscode.window.showInputBox({ prompt: "Path of a Python 3.8-3.12 interpreter with code-loader" });
  if (!chosen) return;
  await vscode.workspace.getConfiguration("tensorleap").update("interpreter", chosen, vscode.ConfigurationTarget.Workspace);
  void vscode.window.showInformationMessage(`Tensorleap: the project interpreter is ${chosen} (setting tensorleap.interpreter).`);
}

/** A terminal at the project holding the command that creates its .venv with the project's requirements
 *  (pinned from requirements.txt / pyproject.toml by the server); nothing runs until the user presses Enter. */
export async function createVenv(line?: string): Promise<void> {
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
  if (!line) {
    const env = await vscode.commands.executeCommand<{ create_venv?: string | null }>("tensorleap.environment",
      { uri: vscode.window.activeTextEditor?.document.uri.toString() ?? folder?.toString() ?? "" }).then((e) => e, () => undefined);
    line = env?.create_venv ?? undefined;
  }
  if (!line) {
    void vscode.window.showWarningMessage("Tensorleap: no Python 3.8-3.12 was found to create a .venv with; install one, or pick an interpreter.");
    return;
  }
  const terminal = vscode.window.createTerminal({ name: "Tensorleap: create .venv", cwd: folder });
  terminal.show();
  terminal.sendText(line, false); // typed, not run: the user presses Enter
  void vscode.window.showInformationMessage("Tensorleap: press Enter in the terminal to create the .venv; Tensorleap uses it as soon as it appears.");
}

/** Restarts the server when a .venv / venv appears or goes away in a workspace folder and the project
 *  interpreter the extension would choose changes. */
export function watchVenvs(context: vscode.ExtensionContext, restart: (why: string) => void): void {
  const plat = platformOf(process.platform);
  for (const folder of vscode.workspace.workspaceFolders ?? []) {
    const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(folder, VENV_PATTERN));
    const changed = (uri: vscode.Uri) => {
      const now = chosenInterpreters();
      const setting = vscode.workspace.getConfiguration("tensorleap", folder.uri).get<string>("interpreter")?.trim() || null;
      const next = chooseProjectInterpreter({ setting, pythonExtension: now?.project.source === "python-extension" ? now.project.path : null,
        workspaceFolder: folder.uri.fsPath, exists: fs.existsSync, plat }, now?.server ?? { path: "", source: "path", version: [0, 0, 0] });
      if (now && choiceChanged(now.project, next)) restart(`the project interpreter is now ${next.path} (${uri.fsPath} changed)`);
    };
    context.subscriptions.push(watcher, watcher.onDidCreate(changed), watcher.onDidDelete(changed));
  }
}

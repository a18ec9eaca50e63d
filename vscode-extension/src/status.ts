// The status bar item: state of the server and of the last run, with a tooltip naming the interpreters.
import * as vscode from "vscode";

import { statusText } from "./messages";

export const state = { running: false, problems: 0, lastRunFailed: false };
let item: vscode.StatusBarItem;

export function createStatus(context: vscode.ExtensionContext): void {
  item = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Left, 10);
  item.command = "tensorleap.showLogs";
  context.subscriptions.push(item, vscode.languages.onDidChangeDiagnostics(() => refreshStatus()));
  refreshStatus();
}

export function refreshStatus(): void {
  state.problems = vscode.languages.getDiagnostics().reduce(
    (n, [, ds]) => n + ds.filter((d) => d.source === "tensorleap").length, 0);
  item.text = statusText(state);
  item.show();
}

// Running a server command that runs user code (the checks, a preview): the extension hands the server a
// workDoneToken, shows its progress (a notification with Cancel, or the status bar) and cancels the
// request when the user asks. The user code's output goes to its own output channel.
import * as vscode from "vscode";
import { ExecuteCommandRequest, LanguageClient, WorkDoneProgress, WorkDoneProgressCancelNotification }
  from "vscode-languageclient/node";

import { OutputLog, OutputNotice } from "./messages";

export interface RunOptions {
  command: string;
  args: unknown;
  title: string;
  /** "notification": a toast with the counter and a Cancel button; "window": the status bar only */
  location: "notification" | "window";
  /** each progress report (the panel shows it) */
  onReport?: (message: string) => void;
  /** cancelled by the caller (the panel's Cancel, a newer preview) */
  cancel?: vscode.CancellationToken;
}

export interface RunOutcome<T> {
  result?: T;
  cancelled: boolean;
  error?: string;
}

let seq = 0;

export async function runServerCommand<T>(client: LanguageClient, o: RunOptions): Promise<RunOutcome<T>> {
  const location = o.location === "notification" ? vscode.ProgressLocation.Notification : vscode.ProgressLocation.Window;
  return vscode.window.withProgress({ location, title: o.title, cancellable: true }, async (progress, userCancel) => {
    const token = `tensorleap-${Date.now()}-${++seq}`;
    const source = new vscode.CancellationTokenSource();
    const stop = () => {
      if (source.token.isCancellationRequested) return;
      source.cancel(); // $/cancelRequest
      void client.sendNotification(WorkDoneProgressCancelNotification.type, { token });
    };
    const subs = [userCancel.onCancellationRequested(stop), ...(o.cancel ? [o.cancel.onCancellationRequested(stop)] : [])];
    let last = 0;
    subs.push(client.onProgress(WorkDoneProgress.type, token, (v) => {
      if (v.kind === "report" || v.kind === "begin") {
        const pct = v.percentage;
        const increment = typeof pct === "number" ? Math.max(pct - last, 0) : undefined;
        if (typeof pct === "number") last = Math.max(last, pct);
        if (v.message) o.onReport?.(v.message);
        progress.report({ message: v.message, increment });
      }
    }));
    if (o.cancel?.isCancellationRequested) stop();
    try {
      const result = await client.sendRequest(ExecuteCommandRequest.type,
        { command: o.command, arguments: [o.args], workDoneToken: token }, source.token) as T;
      const cancelled = source.token.isCancellationRequested || Boolean((result as { cancelled?: boolean })?.cancelled);
      return { result, cancelled };
    } catch (err) {
      if (source.token.isCancellationRequested) return { cancelled: true };
      return { cancelled: false, error: err instanceof Error ? err.message : String(err) };
    } finally {
      subs.forEach((d) => d.dispose());
      source.dispose();
    }
  });
}

let channel: vscode.OutputChannel | undefined;
const formatter = new OutputLog();

/** "Tensorleap: Output of your code": what the user's code prints during previews and checks. */
export function userOutput(): vscode.OutputChannel {
  channel ??= vscode.window.createOutputChannel("Tensorleap: Output of your code");
  return channel;
}

export function appendUserOutput(n: OutputNotice): void {
  const text = formatter.format(n);
  if (text) userOutput().append(text);
}

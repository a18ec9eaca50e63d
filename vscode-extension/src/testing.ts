// The Test Explorer: the project's bindings grouped by kind, each with its subsets as children (the tree
// is testTree.ts's, from the server's `tensorleap.testItems`, rebuilt when the bindings change as the user
// types). Running items runs the dynamic checks for just those functions and subsets through the server
// (its progress; cancelling the run cancels the request, which stops the child); each (function, subset)
// passes or fails with the finding's message at its line. Re-run failed is VS Code's own; the Debug
// profile debugs the first failing sample of the first item picked.
import * as vscode from "vscode";
import { ExecuteCommandRequest, LanguageClient, State } from "vscode-languageclient/node";

import { debugSample } from "./debug";
import { BindingItem, ItemResult, TreeNode, buildTree, firstFailingSample, selection, treeKey } from "./testTree";

type ClientOf = () => LanguageClient | undefined;

interface ItemsReply { ok: boolean; items: BindingItem[]; subsets: string[] }
interface RunReply { ok: boolean; ran?: boolean; cancelled?: boolean; message?: string; summary?: string; items: ItemResult[] }

let refreshNow: () => Promise<void> = async () => undefined;
let lastSave = 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A run right after a save waits for the save to reach the server (it restarts the process that runs the
 *  user's code), as the preview does: a save still being written, then its notification. */
async function saved(): Promise<void> {
  for (let i = 0; i < 10 && vscode.workspace.textDocuments.some((d) => d.isDirty && d.uri.scheme === "file"); i++) await sleep(100);
  const wait = lastSave + 700 - Date.now();
  if (wait > 0) await sleep(wait);
}

/** Rebuilds the tree now (the server just started). */
export function refreshTests(): Promise<void> {
  return refreshNow();
}

async function projectUri(): Promise<string | undefined> {
  const doc = vscode.window.activeTextEditor?.document;
  if (doc && doc.uri.scheme === "file" && doc.languageId === "python" && vscode.workspace.getWorkspaceFolder(doc.uri)) {
    return doc.uri.toString();
  }
  const found = await vscode.workspace.findFiles("**/leap.yaml", "**/node_modules/**", 1);
  return found[0]?.toString();
}

export function registerTesting(context: vscode.ExtensionContext, client: ClientOf): void {
  const ctrl = vscode.tests.createTestController("tensorleap", "Tensorleap");
  context.subscriptions.push(ctrl);
  let tree: TreeNode[] = [];
  let key = "";
  let uri: string | undefined;
  let results: ItemResult[] = [];
  const byId = new Map<string, vscode.TestItem>();

  const toItem = (n: TreeNode): vscode.TestItem => {
    const item = ctrl.createTestItem(n.id, n.label, n.uri ? vscode.Uri.parse(n.uri) : undefined);
    if (n.kind === "function" && n.line !== undefined) item.range = new vscode.Range(n.line, 0, n.line, 0);
    n.children.forEach((c) => item.children.add(toItem(c)));
    byId.set(n.id, item);
    return item;
  };

  const running = () => { const c = client(); return c && c.state === State.Running ? c : undefined; };

  refreshNow = async () => {
    if (!running()) return;
    uri = (await projectUri()) ?? uri;
    if (!uri) return;
    const reply = await vscode.commands.executeCommand<ItemsReply>("tensorleap.testItems", { uri }).then((r) => r, () => undefined);
    if (!reply?.ok) return;
    const next = buildTree(reply.items, reply.subsets);
    const k = treeKey(next);
    if (k === key) return;
    key = k;
    tree = next;
    byId.clear();
    ctrl.items.replace(tree.map(toItem));
  };
  ctrl.resolveHandler = async (item) => { if (!item) await refreshNow(); };
  ctrl.refreshHandler = () => refreshNow();

  let timer: ReturnType<typeof setTimeout> | undefined;
  const soon = () => { if (timer) clearTimeout(timer); timer = setTimeout(() => void refreshNow(), 400); };
  context.subscriptions.push(
    // the server publishes after each analysis: the bindings may have changed with the text
    vscode.languages.onDidChangeDiagnostics((e) => { if (e.uris.some((u) => u.path.endsWith(".py"))) soon(); }),
    vscode.workspace.onDidSaveTextDocument(() => { lastSave = Date.now(); soon(); }),
  );

  const run = async (request: vscode.TestRunRequest, token: vscode.CancellationToken) => {
    const sel = selection(tree, request.include?.map((i) => i.id), request.exclude?.map((i) => i.id) ?? []);
    const testRun = ctrl.createTestRun(request);
    const items = sel.leaves.map((l) => byId.get(l.id)).filter((i): i is vscode.TestItem => !!i);
    items.forEach((i) => testRun.started(i));
    try {
      await saved();
      const c = running();
      if (!c || !uri) throw new Error("the Tensorleap server is not running");
      const reply = await c.sendRequest(ExecuteCommandRequest.type, { command: "tensorleap.runTests",
        arguments: [{ uri, functions: sel.functions, subsets: sel.subsets }] }, token) as RunReply;
      if (reply.cancelled || token.isCancellationRequested) {
        items.forEach((i) => testRun.skipped(i));
      } else if (!reply.ok || !reply.ran) {
        items.forEach((i) => testRun.errored(i, new vscode.TestMessage(reply.message ?? "the checks did not run")));
      } else {
        const fresh = new Set(reply.items.map((r) => `${r.function}/${r.subset}`));
        results = [...results.filter((r) => !fresh.has(`${r.function}/${r.subset}`)), ...reply.items];
        testRun.appendOutput(`${reply.summary ?? ""}\r\n`);
        for (const leaf of sel.leaves) {
          const item = byId.get(leaf.id);
          const r = reply.items.find((x) => x.function === leaf.function && x.subset === leaf.subset);
          if (!item) continue;
          if (!r) testRun.skipped(item);
          else if (r.ok) testRun.passed(item);
          else testRun.failed(item, r.problems.map((p) => {
            const m = new vscode.TestMessage(`${p.code} ${p.message}`);
            m.location = new vscode.Location(vscode.Uri.parse(p.uri), new vscode.Range(p.range.start.line,
              p.range.start.character, p.range.end.line, p.range.end.character));
            return m;
          }));
        }
      }
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      items.forEach((i) => (token.isCancellationRequested ? testRun.skipped(i) : testRun.errored(i, new vscode.TestMessage(why))));
    } finally {
      testRun.end();
    }
  };
  ctrl.createRunProfile("Run", vscode.TestRunProfileKind.Run, run, true);
  ctrl.createRunProfile("Debug", vscode.TestRunProfileKind.Debug, async (request) => {
    const leaf = selection(tree, request.include?.map((i) => i.id), request.exclude?.map((i) => i.id) ?? []).leaves[0];
    if (!leaf || !uri) return;
    const test = leaf.bindingKind === "integration_test";
    await debugSample({ uri: leaf.uri ?? uri, subset: leaf.subset!, sampleId: firstFailingSample(results, leaf.function!, leaf.subset!),
      functions: [leaf.function!], integrationTest: test });
  }, true);
}

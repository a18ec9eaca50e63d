// Issue 26 (the editor, round two): the preview panel's state machine, runs you can see and stop, the user
// code's output, honest status and interpreter messages, new venvs noticed.
import * as assert from "assert";

import { chooseProjectInterpreter, platformOf } from "../interpreter";
import { OutputLog, PreviewResult, interpreterMessage, outputHtml, panelHtml, parseWebviewMessage, skeletonTarget, statusText }
  from "../messages";
import { PanelState, PreviewRequest, answers, navigate, onSave, onTrust, reduce, requestOf, view } from "../panel";
import { choiceChanged, interpreterPicks, interpreterSetting } from "../venv";

const URI = "file:///p/leap_integration.py";
const ok = (sample: number, extra: Partial<PreviewResult> = {}): PreviewResult & { uri: string } => ({
  uri: URI, ok: true, subset: "training", sample_id: sample, html: `<h1>training sample ${sample}</h1>`,
  neighbors: { prev: sample > 0 ? sample - 1 : null, next: sample + 1 }, subsets: ["training", "validation"], first: 0, ...extra });
const failed = (sample: unknown, message: string): PreviewResult & { uri: string } => ({
  uri: URI, ok: false, subset: "training", sample_id: sample, message, subsets: ["training", "validation"], first: 0,
  problems: [{ code: "TL501", message }] });

function run(events: Parameters<typeof reduce>[1][], from: PanelState = { kind: "empty" }): PanelState {
  return events.reduce(reduce, from);
}

describe("the preview panel: one state machine, whatever opened it (item 2)", () => {
  it("a panel opened by the lens (a result nobody here started) has working controls and follows saves", () => {
    const s = run([{ type: "result", result: ok(3) }]); // what the server's notification brings after a lens click
    assert.strictEqual(s.kind, "shown");
    assert.deepStrictEqual(navigate(s, "training", 4), { uri: URI, subset: "training", sampleId: 4 });
    assert.deepStrictEqual(navigate(s, "validation", null), { uri: URI, subset: "validation", sampleId: null });
    assert.deepStrictEqual(onSave(s), { uri: URI, subset: "training", sampleId: 3 });
    assert.strictEqual(requestOf(s)?.uri, URI);
  });
  it("after a failure a save re-runs the same request; after a success, the sample shown", () => {
    const req: PreviewRequest = { uri: URI, subset: "training", sampleId: null };
    const s1 = run([{ type: "start", request: req }, { type: "result", result: ok(0) }]);
    assert.deepStrictEqual(onSave(s1), { uri: URI, subset: "training", sampleId: 0 });
    const bad: PreviewRequest = { uri: URI, subset: "training", sampleId: 99999 };
    const s2 = run([{ type: "start", request: bad }, { type: "result", result: failed(99999, "no such sample") }], s1);
    assert.deepStrictEqual(onSave(s2), bad);
    assert.deepStrictEqual(navigate(s2, "training", 0)?.sampleId, 0); // "first sample ▶"
  });
  it("shows a run in progress with Cancel, never the previous sample's error as if it were this one's (item 1)", () => {
    const s = run([{ type: "result", result: failed(2, "KeyError: 2") },
      { type: "start", request: { uri: URI, subset: "training", sampleId: 3 } },
      { type: "progress", message: "input 'image' on training sample 3" }]);
    const v = view(s);
    assert.strictEqual(v.result, null);
    assert.deepStrictEqual(v.status, { kind: "running", title: "training sample 3", progress: "input 'image' on training sample 3", previous: false });
    const html = panelHtml(v.result, "n", "c", v.nav, false, v.status);
    assert.match(html, /Running the preview of <b>training sample 3<\/b>/);
    assert.match(html, /<button id="cancel">Cancel<\/button>/);
    assert.doesNotMatch(html, /KeyError/);
    // a previous success stays visible, dimmed and said to be the previous one
    const s2 = run([{ type: "result", result: ok(2) }, { type: "start", request: { uri: URI, subset: "training", sampleId: 3 } }]);
    const h2 = panelHtml(view(s2).result, "n", "c", view(s2).nav, false, view(s2).status);
    assert.match(h2, /<div id="preview" class="previous"><h1>training sample 2<\/h1>/);
    assert.match(h2, /the previous result, until this one is ready/);
  });
  it("cancelled: says so and offers to run again; a late answer to a cancelled or older request is ignored", () => {
    const req: PreviewRequest = { uri: URI, subset: "training", sampleId: 3 };
    const s = run([{ type: "start", request: req }, { type: "cancelled" }]);
    assert.strictEqual(s.kind, "cancelled");
    assert.match(panelHtml(view(s).result, "n", "c", view(s).nav, false, view(s).status), /was cancelled .* <button id="rerun">Run again/);
    assert.deepStrictEqual(onSave(s), req);
    // the server's answer to a cancelled preview is not a failure of the sample
    const viaServer = run([{ type: "start", request: req }, { type: "result", result: { ...failed(3, "the run was cancelled"), cancelled: true } }]);
    assert.strictEqual(viaServer.kind, "cancelled");
    const newer = run([{ type: "start", request: { uri: URI, subset: "training", sampleId: 4 } }, { type: "result", result: ok(3) }]);
    assert.strictEqual(newer.kind, "running"); // sample 3's answer does not end the run of sample 4
    assert.ok(answers({ uri: URI, subset: "training", sampleId: null }, ok(0)));
    assert.ok(!answers({ uri: URI, subset: "validation", sampleId: null }, ok(0)));
  });
  it("a panel that said 'not trusted' runs its preview once trust is granted (item 9)", () => {
    const s = run([{ type: "start", request: { uri: URI, subset: "training", sampleId: null } },
      { type: "result", result: { uri: URI, ok: false, subset: "training", sample_id: null, message: "not trusted", reason: { kind: "untrusted" } } }]);
    assert.deepStrictEqual(onTrust(s), { uri: URI, subset: "training", sampleId: null });
    assert.match(panelHtml((view(s).result), "n", "c", view(s).nav), /<button id="trust">Manage Workspace Trust<\/button>/);
    assert.strictEqual(onTrust(run([{ type: "result", result: ok(1) }])), undefined);
    assert.deepStrictEqual(parseWebviewMessage({ type: "trust" }), { type: "trust" });
    assert.deepStrictEqual(parseWebviewMessage({ type: "cancel" }), { type: "cancel" });
  });
  it("a server error while running becomes the panel's failure, with the project's subsets kept", () => {
    const s = run([{ type: "result", result: ok(1) }, { type: "start", request: { uri: URI, subset: "validation", sampleId: null } },
      { type: "error", message: "the server could not run the preview: gone" }]);
    assert.strictEqual(s.kind, "shown");
    const v = view(s);
    assert.match(panelHtml(v.result, "n", "c", v.nav), /Preview failed: validation/);
    assert.deepStrictEqual(v.nav?.subsets, ["training", "validation"]);
  });
});

describe("the user code's output (item 5)", () => {
  it("one header per run, then what the code printed", () => {
    const log = new OutputLog();
    const at = new Date(2026, 0, 1, 10, 0, 5);
    assert.strictEqual(log.format({ run: "a", title: "Tensorleap: preview of training sample 3", text: "hello\n" }, at),
      "── preview of training sample 3 (10:00:05) ──\nhello\n");
    assert.strictEqual(log.format({ run: "a", title: "x", text: "more" }, at), "more");
    assert.strictEqual(log.format({ run: "b", title: "Tensorleap: running the integration", text: "x\n" }, at),
      "\n── running the integration (10:00:05) ──\nx\n");
  });
  it("the preview shows the output, folded, escaped", () => {
    assert.strictEqual(outputHtml(""), "");
    const html = outputHtml("a <b>\nline 2\n");
    assert.match(html, /Output of your code \(2 lines\)/);
    assert.match(html, /a &lt;b&gt;/);
    assert.match(panelHtml(ok(1, { output: "printed\n" }), "n", "c"), /<details id="output">/);
  });
});

describe("status bar and interpreter messages (items 3, 9)", () => {
  it("information-only findings are not a warning triangle", () => {
    assert.match(statusText({ running: false, problems: 2, lastRunFailed: false, errors: 0, warnings: 0 }), /^\$\(info\) Tensorleap: 2 problems/);
    assert.match(statusText({ running: false, problems: 2, lastRunFailed: false, errors: 0, warnings: 1 }), /^\$\(warning\)/);
    assert.match(statusText({ running: false, problems: 2, lastRunFailed: false, errors: 1, warnings: 1 }), /^\$\(error\)/);
  });
  it("uses the server's pinned install line (requirements.txt, ensurepip first without pip)", () => {
    const line = "/w/bare/bin/python -m ensurepip --upgrade && /w/bare/bin/python -m pip install -r /p/requirements.txt";
    const m = interpreterMessage({ kind: "interpreter", role: "project", interpreter: "/w/bare/bin/python", version: "3.11.7",
      missing: ["code_loader"], packages: ["code-loader"], install: line, source: "setting" }, false);
    assert.strictEqual(m.install, line);
    assert.ok(m.text.includes(line));
  });
  it("a project without an interpreter of its own is offered a .venv, not a global install", () => {
    const create = "/usr/bin/python3.11 -m venv /p/.venv && /p/.venv/bin/python -m pip install -r /p/requirements.txt";
    const m = interpreterMessage({ kind: "interpreter", role: "project", interpreter: "/usr/bin/python3", version: "3.11.2",
      missing: ["code_loader"], packages: ["code-loader"], install: "/usr/bin/python3 -m pip install -r /p/requirements.txt",
      source: "fallback", create_venv: create }, false);
    assert.deepStrictEqual(m.actions, ["Create .venv", "Open Settings"]);
    assert.strictEqual(m.install, create);
    assert.match(m.text, /no interpreter of its own/);
    assert.doesNotMatch(m.text, /python3 -m pip install/);
  });
});

describe("a .venv created after the server started (item 3)", () => {
  const plat = platformOf("linux");
  const server = { path: "/usr/bin/python3.11", source: "path" as const, version: [3, 11, 7] as [number, number, number] };
  it("changes the choice from the server's interpreter to the venv, so the extension restarts", () => {
    const files = new Set<string>();
    const choose = () => chooseProjectInterpreter({ setting: null, pythonExtension: null, workspaceFolder: "/p",
      exists: (p) => files.has(p), plat }, server);
    const before = choose();
    assert.deepStrictEqual(before, { path: "/usr/bin/python3.11", source: "server" });
    assert.strictEqual(interpreterSetting(before), null); // the server looks for a venv itself at each run
    files.add("/p/.venv/bin/python");
    const after = choose();
    assert.ok(choiceChanged(before, after));
    assert.strictEqual(interpreterSetting(after), "/p/.venv/bin/python");
    assert.ok(!choiceChanged(after, choose()));
  });
  it("Select Interpreter without the Python extension offers the project's venvs first, each once", () => {
    assert.deepStrictEqual(interpreterPicks(["/p/.venv/bin/python"], ["/usr/bin/python3.12", "/p/.venv/bin/python"]),
      ["/p/.venv/bin/python", "/usr/bin/python3.12"]);
  });
});

describe("Generate Integration Skeleton with no editor open (item 9)", () => {
  it("writes leap_integration.py in the folder, never into an Untitled buffer", () => {
    assert.deepStrictEqual(skeletonTarget(undefined, ["file:///w/p/"]), { kind: "create", uri: "file:///w/p/leap_integration.py" });
    assert.deepStrictEqual(skeletonTarget({ scheme: "untitled", uri: "untitled:Untitled-1" }, ["file:///w/p"]), { kind: "save-first" });
    assert.deepStrictEqual(skeletonTarget({ scheme: "file", uri: "file:///w/p/x.py" }, []), { kind: "active", uri: "file:///w/p/x.py" });
    assert.deepStrictEqual(skeletonTarget(undefined, []), { kind: "no-folder" });
  });
});

describe("wording (item 8)", () => {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const fs = require("fs") as typeof import("fs");
  const root = `${__dirname}/../..`;
  it("the walkthrough names two interpreters and its Select Interpreter works without the Python extension", () => {
    const md = fs.readFileSync(`${root}/media/walkthrough/interpreter.md`, "utf8");
    assert.doesNotMatch(md, /the same interpreter/);
    assert.match(md, /usually \*\*not\*\* the project's/);
    const pkg = JSON.parse(fs.readFileSync(`${root}/package.json`, "utf8"));
    const step = pkg.contributes.walkthroughs[0].steps.find((s: { id: string }) => s.id === "interpreter");
    assert.match(step.description, /\(command:tensorleap\.selectInterpreter\)/);
    assert.doesNotMatch(step.description, /command:python\.setInterpreter/);
  });
  it("the extension README asks for the server's real floor (3.9), not 3.11", () => {
    const readme = fs.readFileSync(`${root}/README.md`, "utf8");
    assert.doesNotMatch(readme, /Python 3\.11 for the server/);
    assert.match(readme, /Python 3\.9 or newer for the server/);
  });
});


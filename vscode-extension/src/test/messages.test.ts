import * as assert from "assert";

import { LogJoiner, interpreterMessage, logText, navState, panelHtml, problemHtml, serverOutput, statusText, statusTooltip } from "../messages";

describe("interpreter message", () => {
  const reason = { kind: "interpreter" as const, role: "project" as const, interpreter: "/home/u/proj/.venv/bin/python",
    version: "3.10.12", missing: ["code_loader", "numpy"], packages: ["code-loader", "numpy"] };

  it("names the interpreter, its version, what is missing and the install line", () => {
    const m = interpreterMessage(reason, true);
    assert.strictEqual(m.install, "/home/u/proj/.venv/bin/python -m pip install code-loader numpy");
    assert.match(m.text, /project interpreter \/home\/u\/proj\/\.venv\/bin\/python \(Python 3\.10\.12\) cannot import code_loader, numpy/);
    assert.ok(m.text.includes(`Install with: ${m.install}`));
    assert.deepStrictEqual(m.actions, ["Select Interpreter", "Open Terminal"]);
  });
  it("offers the settings when the Python extension is not installed", () => {
    assert.deepStrictEqual(interpreterMessage(reason, false).actions, ["Open Settings", "Open Terminal"]);
  });
  it("uses the distribution name (Pillow for PIL) and quotes paths with spaces", () => {
    const m = interpreterMessage({ kind: "interpreter", role: "server", interpreter: "/opt/my env/bin/python",
      version: "3.11.7", missing: ["PIL"], packages: ["pillow"] }, true);
    assert.strictEqual(m.install, `"/opt/my env/bin/python" -m pip install pillow`);
    assert.match(m.text, /server interpreter .* cannot import PIL \(needed to render previews\)/);
  });
  it("says when the interpreter does not exist, without an install line", () => {
    const m = interpreterMessage({ kind: "interpreter", role: "server", interpreter: "/nope/python", version: null,
      missing: [], error: "not found" }, false);
    assert.strictEqual(m.install, null);
    assert.match(m.text, /\/nope\/python was not found/);
    assert.deepStrictEqual(m.actions, ["Open Settings"]);
  });
});

describe("preview navigation", () => {
  it("follows the real neighbouring sample ids and the project's subsets", () => {
    const s = navState({ ok: true, subset: "training", sample_id: "b", neighbors: { prev: "a", next: "c" },
      subsets: ["training", "validation"], first: "a" });
    assert.deepStrictEqual(s, { subsets: ["training", "validation"], subset: "training", sampleId: "b", prev: "a", next: "c", first: "a" });
  });
  it("keeps the subsets after a failure and offers the first sample", () => {
    const ok = navState({ ok: true, subset: "training", sample_id: 0, neighbors: { prev: null, next: 1 },
      subsets: ["training", "validation", "unlabeled"] });
    const failed = navState({ ok: false, subset: "training", sample_id: 99999, first: 0, subsets: null }, ok);
    assert.deepStrictEqual(failed.subsets, ["training", "validation", "unlabeled"]);
    assert.strictEqual(failed.prev, null);
    assert.strictEqual(failed.next, 0);
    const last = navState({ ok: true, subset: "training", sample_id: 59, neighbors: { prev: 58, next: null } }, failed);
    assert.strictEqual(last.next, null);
    assert.strictEqual(last.prev, 58);
    assert.deepStrictEqual(last.subsets, ["training", "validation", "unlabeled"]);
  });
  it("does not invent a subset the project does not have after a failure", () => {
    const s = navState({ ok: false, subset: "test", sample_id: null, first: null, subsets: ["training", "validation"] });
    assert.deepStrictEqual(s.subsets, ["training", "validation"]);
    assert.strictEqual(s.next, null);
  });
});

describe("preview panel", () => {
  it("shows the reason of a failure with the function, sample, subset and a link to the user's line", () => {
    const html = panelHtml({ ok: false, subset: "training", sample_id: 99999, first: 0, subsets: ["training", "validation"],
      message: "sample 99999 is not in the training subset (60 samples, e.g. [0, 1, 2])",
      problems: [{ message: "sample 99999 is not in the training subset (60 samples, e.g. [0, 1, 2])" }] }, "n", "c");
    assert.match(html, /Preview failed: training sample 99999/);
    assert.match(html, /is not in the training subset/);
    assert.match(html, /<option>validation<\/option>/);
    assert.match(html, /first sample ▶/);
    const p = problemHtml({ code: "TL523", message: "input_encoder() validation failed: float64", function: "input_encoder",
      sample: 2, subset: "training", file: "/p/mnist_tl/encoders.py", line: 11, called_at: { file: "/p/leap_integration.py", line: 42 } });
    assert.match(p, /TL523 in <code>input_encoder\(\)<\/code>/);
    assert.match(p, /sample 2, subset training/);
    assert.match(p, /data-file="\/p\/mnist_tl\/encoders.py" data-line="11">encoders.py:11<\/a>/);
    assert.match(p, /called at <a [^>]*>leap_integration.py:42/);
  });
  it("shows the install line for an interpreter problem", () => {
    const html = panelHtml({ ok: false, message: "no code_loader", reason: { kind: "interpreter", role: "project",
      interpreter: "/v/bin/python", version: "3.9.1", missing: ["code_loader"], packages: ["code-loader"] } }, "n", "c");
    assert.match(html, /<pre class="install">\/v\/bin\/python -m pip install code-loader<\/pre>/);
  });
  it("replaces the page's unlinked problem list with the located one", () => {
    const html = panelHtml({ ok: true, subset: "training", sample_id: 1, html: "<h1>x</h1><h2 class='problem'>Problems on this sample</h2><ul><li>old</li></ul>",
      problems: [{ code: "TL523", message: "m", file: "/p/a.py", line: 3 }] }, "n", "c");
    assert.ok(!html.includes("<li>old</li>"));
    assert.match(html, /a.py:3/);
  });
});

describe("status bar", () => {
  it("says when the server is not running or there is no interpreter", () => {
    assert.match(statusText({ running: false, problems: 0, lastRunFailed: false, server: "stopped" }), /server not running/);
    assert.match(statusText({ running: false, problems: 3, lastRunFailed: true, server: "no-interpreter" }), /no interpreter/);
    assert.doesNotMatch(statusText({ running: false, problems: 0, lastRunFailed: false, untrusted: true }), /failed/);
  });
  it("names both interpreters and the SDK version in the tooltip", () => {
    const tip = statusTooltip({ server: { interpreter: "/usr/bin/python3.11", version: "3.11.7" },
      project: { interpreter: "/p/.venv/bin/python", version: "3.9.18", code_loader: "1.0.214" }, trusted: true },
      { running: false, problems: 2, lastRunFailed: false });
    assert.match(tip, /Server interpreter: `\/usr\/bin\/python3.11` \(Python 3.11.7\)/);
    assert.match(tip, /Project interpreter: `\/p\/.venv\/bin\/python` \(Python 3.9.18\)/);
    assert.match(tip, /code-loader 1.0.214/);
    assert.match(statusTooltip({ server: { interpreter: "/s" }, project: { interpreter: "/p" }, trusted: false },
      { running: false, problems: 0, lastRunFailed: false }), /not checked \(the workspace is not trusted/);
  });
});

describe("log lines", () => {
  it("keeps a traceback whole, whatever the chunks", () => {
    const j = new LogJoiner();
    j.push("starting\nTraceback (most recent call last):\n  File \"x.py\", line 1, in <module>\n    f(");
    assert.deepStrictEqual(j.flush(), [{ level: "info", text: "starting" }]);
    j.push(")\n    ^\nValueError: boom\nnext line\n");
    assert.deepStrictEqual(j.flush(), [
      { level: "error", text: "Traceback (most recent call last):\n  File \"x.py\", line 1, in <module>\n    f()\n    ^\nValueError: boom" },
      { level: "info", text: "next line" }]);
  });
  it("never logs [object Object]", () => {
    assert.strictEqual(logText({ code: -32603, message: "x" }), '{"code":-32603,"message":"x"}');
    const seen: string[] = [];
    const log = { name: "t", info: (m: string) => seen.push(`info ${m}`), warn: (m: string) => seen.push(`warn ${m}`),
      error: (m: string) => seen.push(`error ${m}`), debug: (m: string) => seen.push(`debug ${m}`),
      show() {}, hide() {}, clear() {}, dispose() {} };
    const out = serverOutput(log);
    out.appendLine("[Error - 10:00:01 AM] internal error (KeyError): 'x'");
    out.appendLine("[Info  - 10:00:02 AM] ready");
    out.appendLine("[Error - 10:00:03 AM] Request textDocument/documentSymbol failed.\n  Message: boom\n  Code: -32603 \n[object Object]");
    out.append("Traceback (most recent call last):\n  File \"a\", line 1\nKeyError: 'x'\n");
    out.dispose();
    assert.deepStrictEqual(seen, ["error internal error (KeyError): 'x'", "info ready",
      "error Request textDocument/documentSymbol failed.\n  Message: boom\n  Code: -32603 ",
      "error Traceback (most recent call last):\n  File \"a\", line 1\nKeyError: 'x'"]);
  });
});

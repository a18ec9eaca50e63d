import * as assert from "assert";

import { chooseInterpreter, serverPythonPath, startFailure } from "../interpreter";
import { panelHtml, parseWebviewMessage, statusText } from "../messages";
import { needsRestart, resolveOptions } from "../settings";

const cfg = (values: Record<string, unknown>) => ({ get: <T>(k: string) => values[k] as T | undefined });

describe("settings", () => {
  it("uses the documented defaults", () => {
    const o = resolveOptions(cfg({}), false);
    assert.deepStrictEqual(o, { debounceMs: 100, interpreter: null, dynamicOnSave: false, samplesPerSubset: 5,
      timeoutS: 30, preprocessTimeoutS: 300, memoryMb: 4096, logLevel: "info", trusted: false });
  });
  it("reads values and falls back on bad ones", () => {
    const o = resolveOptions(cfg({ debounceMs: 0, interpreter: " /venv/bin/python ", samplesPerSubset: -3,
      timeoutSeconds: "x", memoryMb: 10, dynamicChecksOnSave: true }), true);
    assert.strictEqual(o.debounceMs, 0);
    assert.strictEqual(o.interpreter, "/venv/bin/python");
    assert.strictEqual(o.samplesPerSubset, 5);
    assert.strictEqual(o.timeoutS, 30);
    assert.strictEqual(o.memoryMb, 4096);
    assert.strictEqual(o.dynamicOnSave, true);
    assert.strictEqual(o.trusted, true);
  });
  it("follows VS Code's log level unless set", () => {
    assert.strictEqual(resolveOptions(cfg({}), false, "debug").logLevel, "debug");
    assert.strictEqual(resolveOptions(cfg({ logLevel: "error" }), false, "debug").logLevel, "error");
  });
  it("restarts only for the interpreter", () => {
    assert.ok(needsRestart((k) => k === "tensorleap.interpreter"));
    assert.ok(!needsRestart((k) => k === "tensorleap.debounceMs"));
  });
});

describe("interpreter", () => {
  it("prefers the setting, then the Python extension, then python3", () => {
    assert.deepStrictEqual(chooseInterpreter({ setting: "/a", pythonExtension: "/b", fallback: "python3" }), { path: "/a", source: "setting" });
    assert.deepStrictEqual(chooseInterpreter({ setting: null, pythonExtension: "/b", fallback: "python3" }), { path: "/b", source: "python-extension" });
    assert.deepStrictEqual(chooseInterpreter({ setting: null, pythonExtension: null, fallback: "python3" }), { path: "python3", source: "fallback" });
  });
  it("puts the bundled libraries first on PYTHONPATH", () => {
    assert.strictEqual(serverPythonPath("/ext/bundled/libs", undefined), "/ext/bundled/libs");
    assert.strictEqual(serverPythonPath("/ext/bundled/libs", "/user"), "/ext/bundled/libs:/user");
  });
  it("explains start failures", () => {
    assert.match(startFailure("/p", "ModuleNotFoundError: No module named 'numpy'"), /lacks numpy/);
    assert.match(startFailure("/p", "spawn /p ENOENT"), /not found/);
  });
});

describe("messages", () => {
  it("accepts only well-formed webview messages", () => {
    assert.deepStrictEqual(parseWebviewMessage({ type: "navigate", subset: "training", sampleId: 3 }),
      { type: "navigate", subset: "training", sampleId: 3 });
    assert.strictEqual(parseWebviewMessage({ type: "navigate", subset: 3 }), null);
    assert.strictEqual(parseWebviewMessage("x"), null);
  });
  it("formats the status bar", () => {
    assert.match(statusText({ running: true, problems: 0, lastRunFailed: false }), /checks running/);
    assert.match(statusText({ running: false, problems: 1, lastRunFailed: false }), /1 problem$/);
    assert.match(statusText({ running: false, problems: 0, lastRunFailed: true }), /last run failed/);
  });
  it("builds a panel with navigation and a strict CSP", () => {
    const html = panelHtml({ ok: true, subset: "validation", html: "<h1>x</h1>", neighbors: { prev: 4, next: 6 },
      subsets: ["training", "validation"] }, "abc", "vscode-resource:");
    assert.match(html, /script-src 'nonce-abc'/);
    assert.match(html, /<option selected>validation<\/option>/);
    assert.match(html, /"prev":4,"next":6/);
    assert.match(panelHtml({ ok: false, message: "<boom>" }, "n", "c"), /&lt;boom&gt;/);
  });
});

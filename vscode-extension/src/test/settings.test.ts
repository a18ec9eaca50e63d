import * as assert from "assert";

import { panelHtml, parseWebviewMessage, statusText } from "../messages";
import { EXTENSION_ONLY, SCHEMA, needsRestart, resolveOptions, setting } from "../settings";

const cfg = (values: Record<string, unknown>) => ({ get: <T>(k: string) => values[k] as T | undefined });

// package.json's contributes.configuration is the schema; settings.ts reads it and the server's
// lsp/settings.py is compared with it by tests/compat/test_settings_schema.py.
describe("settings", () => {
  it("has one entry per setting, each with a type and a default", () => {
    assert.deepStrictEqual(Object.keys(SCHEMA).sort(), ["debounceMs", "dynamicChecksOnSave", "inlayHints", "interpreter", "logLevel",
      "memoryMb", "preprocessTimeoutSeconds", "samplesPerSubset", "serverInterpreter", "timeoutSeconds"]);
    for (const [k, s] of Object.entries(SCHEMA)) {
      assert.ok(["string", "integer", "number", "boolean"].includes(s.type), k);
      assert.notStrictEqual(s.default, undefined, k);
    }
  });
  it("sends the server every setting but the extension's own, spelt as in package.json, with the defaults", () => {
    const o = resolveOptions(cfg({}), false) as unknown as Record<string, unknown>;
    const expected: Record<string, unknown> = { trusted: false };
    for (const [k, s] of Object.entries(SCHEMA)) if (!EXTENSION_ONLY.includes(k)) expected[k] = s.default;
    expected.interpreter = null;  // "" = not set
    assert.deepStrictEqual(o, expected);
    assert.strictEqual(o.samplesPerSubset, 5);
    assert.strictEqual(o.timeoutSeconds, 30);
  });
  it("enforces every minimum of the schema, and accepts the minimum itself", () => {
    for (const [k, s] of Object.entries(SCHEMA)) {
      if (s.minimum === undefined) continue;
      assert.strictEqual(setting(cfg({ [k]: s.minimum }), k), s.minimum, k);
      assert.strictEqual(setting(cfg({ [k]: s.minimum - 1 }), k), s.default, k);
    }
    assert.strictEqual(setting(cfg({ samplesPerSubset: 0 }), "samplesPerSubset"), 0);  // 0 = all samples
  });
  it("falls back to the default on values of the wrong type", () => {
    const o = resolveOptions(cfg({ debounceMs: 0, interpreter: " /venv/bin/python ", samplesPerSubset: 2.5,
      timeoutSeconds: "x", memoryMb: 10, dynamicChecksOnSave: true, logLevel: "loud" }), true);
    assert.strictEqual(o.debounceMs, 0);
    assert.strictEqual(o.interpreter, "/venv/bin/python");
    assert.strictEqual(o.samplesPerSubset, 5);
    assert.strictEqual(o.timeoutSeconds, 30);
    assert.strictEqual(o.memoryMb, 4096);
    assert.strictEqual(o.dynamicChecksOnSave, true);
    assert.strictEqual(o.logLevel, "info");
    assert.strictEqual(o.trusted, true);
  });
  it("follows VS Code's log level unless set", () => {
    assert.strictEqual(resolveOptions(cfg({}), false, "debug").logLevel, "debug");
    assert.strictEqual(resolveOptions(cfg({}), false, "trace").logLevel, "info");
    assert.strictEqual(resolveOptions(cfg({ logLevel: "error" }), false, "debug").logLevel, "error");
  });
  it("restarts the server for either interpreter only", () => {
    assert.ok(needsRestart((k) => k === "tensorleap.interpreter"));
    assert.ok(needsRestart((k) => k === "tensorleap.serverInterpreter"));
    assert.ok(!needsRestart((k) => k === "tensorleap.debounceMs"));
  });
});


describe("messages", () => {
  it("accepts only well-formed webview messages", () => {
    assert.deepStrictEqual(parseWebviewMessage({ type: "navigate", subset: "training", sampleId: 3 }),
      { type: "navigate", subset: "training", sampleId: 3 });
    assert.strictEqual(parseWebviewMessage({ type: "navigate", subset: 3 }), null);
    assert.strictEqual(parseWebviewMessage("x"), null);
    assert.strictEqual(parseWebviewMessage({ type: "refresh" }), null); // no panel sends it: not a message
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

describe("file watching", () => {
  it("is left to the server's own registration: the client adds no second watcher", () => {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const fs = require("fs") as typeof import("fs");
    for (const file of fs.readdirSync(`${__dirname}/../../src`).filter((f) => f.endsWith(".ts"))) {
      const text = fs.readFileSync(`${__dirname}/../../src/${file}`, "utf8");
      assert.ok(!/fileEvents|createFileSystemWatcher/.test(text), file);
    }
  });
});

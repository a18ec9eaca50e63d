import * as assert from "assert";

import { parseScanMessage, scanPanelHtml, scriptJson } from "../scanReport";

const reply = {
  ok: true,
  html: '<h1>Data-set scan of shapes</h1><span class=sample data-subset="training" data-sample="4321">4321</span><div data-chart></div>',
  summary: { root: "/p", scan: { samples: 3 }, charts: [{ subset: "training", title: "t", kind: "histogram", spec: { mark: "bar", title: "</script><b>" } }] },
};

describe("scan report panel", () => {
  it("shows the server's report with its chart specs as data and the bundled script, under a strict CSP", () => {
    const html = scanPanelHtml(reply, "n0nce", "vscode-resource:", "vscode-resource:/dist/scanWebview.js", false);
    assert.ok(html.includes(reply.html));
    const csp = /Content-Security-Policy" content="([^"]+)"/.exec(html)?.[1] ?? "";
    assert.ok(csp.includes("script-src 'nonce-n0nce' vscode-resource:"));
    assert.ok(!csp.includes("unsafe-eval"), "the charts use vega's interpreter, not eval");
    assert.ok(html.includes('<script nonce="n0nce" src="vscode-resource:/dist/scanWebview.js"></script>'));
    const specs = /<script type="application\/json" id="specs">(.*?)<\/script>/s.exec(html)?.[1] ?? "";
    assert.deepStrictEqual(JSON.parse(specs), [{ mark: "bar", title: "</script><b>" }]);
    assert.ok(!specs.includes("</script>"));
    assert.ok(html.includes('data-debug="0"'));
  });

  it("says why when there is no report, and that a cancelled scan shows what it reached", () => {
    const failed = scanPanelHtml({ ok: false, message: "preprocess <raised>" }, "n", "c", "s", true);
    assert.ok(failed.includes("preprocess &lt;raised&gt;") && failed.includes('data-debug="1"'));
    const cancelled = scanPanelHtml({ ...reply, cancelled: true }, "n", "c", "s", false);
    assert.ok(cancelled.includes("The scan was cancelled"));
  });

  it("accepts only the messages the page sends", () => {
    assert.deepStrictEqual(parseScanMessage({ type: "preview", subset: "training", sampleId: 7 }),
                           { type: "preview", subset: "training", sampleId: 7 });
    assert.deepStrictEqual(parseScanMessage({ type: "debug", subset: "validation", sampleId: "a" }),
                           { type: "debug", subset: "validation", sampleId: "a" });
    assert.deepStrictEqual(parseScanMessage({ type: "openReport" }), { type: "openReport" });
    assert.strictEqual(parseScanMessage({ type: "preview", subset: 3 }), null);
    assert.strictEqual(parseScanMessage("preview"), null);
  });

  it("writes JSON that cannot close its script element", () => {
    assert.strictEqual(scriptJson(["</script>", "\u2028"]), '["\\u003c/script>","\\u2028"]');
  });
});

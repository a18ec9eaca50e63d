import * as assert from "assert";

import { attachConfiguration, launchFor, resolveLaunch, sampleId } from "../debugConfig";
import { BindingItem, ItemResult, buildTree, firstFailingSample, functionId, groupId, leafId, leaves, selection, treeKey } from "../testTree";

const toUri = (f: string) => `file://${f}`;

describe("tensorleap launch configurations", () => {
  it("defaults: the active file, the training subset, its first sample, every function, with the integration test", () => {
    const r = resolveLaunch({ type: "tensorleap", request: "launch", name: "x" }, "file:///p/leap_integration.py", toUri);
    assert.deepStrictEqual(r, { ok: true, args: { uri: "file:///p/leap_integration.py", subset: "training", sampleId: null,
      functions: null, integrationTest: true } });
  });
  it("takes subset, sample, functions, integrationTest and file from launch.json", () => {
    const r = resolveLaunch({ file: "/p/mnist/encoders.py", subset: "validation", sample: "37",
      functions: ["input_encoder", " metadata_label "], integrationTest: false }, undefined, toUri);
    assert.deepStrictEqual(r, { ok: true, args: { uri: "file:///p/mnist/encoders.py", subset: "validation", sampleId: 37,
      functions: ["input_encoder", "metadata_label"], integrationTest: false } });
  });
  it("keeps string sample ids as strings, digits as numbers, empty as the first", () => {
    assert.strictEqual(sampleId("img_0042.png"), "img_0042.png");
    assert.strictEqual(sampleId(" 7 "), 7);
    assert.strictEqual(sampleId(-3), -3);
    assert.strictEqual(sampleId(""), null);
    assert.strictEqual(sampleId(undefined), null);
    assert.strictEqual(sampleId({ id: 1 }), undefined);
  });
  it("says which field is wrong instead of guessing", () => {
    const bad = (c: Record<string, unknown>, field: string) => {
      const r = resolveLaunch(c, "file:///p/a.py", toUri);
      assert.ok(!r.ok && r.error.includes(field), JSON.stringify(r));
    };
    bad({ subset: 3 }, "\"subset\"");
    bad({ sample: [1] }, "\"sample\"");
    bad({ functions: "input_encoder" }, "\"functions\"");
    bad({ functions: ["", "x"] }, "\"functions\"");
    bad({ integrationTest: "yes" }, "\"integrationTest\"");
    const none = resolveLaunch({}, undefined, toUri);
    assert.ok(!none.ok && none.error.includes("no integration file"));
  });
  it("an empty functions list means every function", () => {
    const r = resolveLaunch({ functions: [] }, "file:///p/a.py", toUri);
    assert.ok(r.ok && r.args.functions === null);
  });
  it("attaches to debugpy where the harness listens, user code only, harness frames hidden", () => {
    const c = attachConfiguration({ type: "tensorleap", request: "launch", name: "n", subset: "training" },
      { ok: true, host: "127.0.0.1", port: 5679, exclude: ["/ext/bundled/libs/tensorleap_ls/runtime/child/tensorleap_ls_child/**"] });
    assert.strictEqual(c.request, "attach");
    assert.deepStrictEqual(c.connect, { host: "127.0.0.1", port: 5679 });
    assert.strictEqual(c.justMyCode, true);
    assert.deepStrictEqual(c.rules, [{ path: "/ext/bundled/libs/tensorleap_ls/runtime/child/tensorleap_ls_child/**", include: false }]);
    assert.strictEqual(attachConfiguration({ justMyCode: false }, { ok: true, port: 1 }).justMyCode, false);
  });
  it("a launch for one sample round-trips through the resolution", () => {
    const args = { uri: "file:///p/e.py", subset: "validation", sampleId: 12, functions: ["gt_encoder"], integrationTest: false };
    const c = launchFor(args, "/p/e.py");
    assert.strictEqual(c.type, "tensorleap");
    assert.match(c.name!, /validation sample 12 \(gt_encoder\)/);
    assert.deepStrictEqual(resolveLaunch(c, undefined, toUri), { ok: true, args });
  });
});

const BINDINGS: BindingItem[] = [
  { kind: "input", function: "input_encoder", name: "image", uri: "file:///p/enc.py", line: 10 },
  { kind: "ground_truth", function: "gt_encoder", name: "classes", uri: "file:///p/enc.py", line: 15 },
  { kind: "metadata", function: "metadata_label", name: "label", uri: "file:///p/enc.py", line: 21 },
  { kind: "metadata", function: "metadata_stats", name: "stats", uri: "file:///p/enc.py", line: 27 },
  { kind: "integration_test", function: "integration_test", name: "integration_test", uri: "file:///p/leap.py", line: 40 },
];

describe("the Test Explorer's tree", () => {
  const tree = buildTree(BINDINGS, ["training", "validation"]);
  it("groups the bindings by kind, with the subsets as children", () => {
    assert.deepStrictEqual(tree.map((g) => g.label), ["Inputs", "Ground truths", "Metadata", "Integration test"]);
    const meta = tree[2];
    assert.strictEqual(meta.id, groupId("metadata"));
    assert.deepStrictEqual(meta.children.map((c) => c.label), ["metadata_label ('label')", "metadata_stats ('stats')"]);
    assert.deepStrictEqual(meta.children[0].children.map((c) => [c.id, c.label]),
      [[leafId("metadata_label", "training"), "training"], [leafId("metadata_label", "validation"), "validation"]]);
    assert.strictEqual(meta.children[1].line, 27);
    assert.strictEqual(tree[3].children[0].label, "integration_test");  // its name is its function
    assert.strictEqual(leaves(tree).length, 10);
  });
  it("follows the bindings: a renamed or added function is a new tree, the same bindings the same", () => {
    assert.strictEqual(treeKey(buildTree(BINDINGS, ["training", "validation"])), treeKey(tree));
    const renamed = BINDINGS.map((b) => (b.function === "gt_encoder" ? { ...b, function: "label_encoder" } : b));
    const t2 = buildTree(renamed, ["training", "validation"]);
    assert.notStrictEqual(treeKey(t2), treeKey(tree));
    assert.deepStrictEqual(t2[1].children.map((c) => c.id), [functionId("label_encoder")]);
    const moved = BINDINGS.map((b) => ({ ...b, line: b.line + 2 }));
    assert.notStrictEqual(treeKey(buildTree(moved, ["training", "validation"])), treeKey(tree));  // the gutter icons move
    assert.strictEqual(buildTree([...BINDINGS, BINDINGS[0]], ["training"])[0].children.length, 1);
  });
  it("runs just the functions and subsets picked", () => {
    assert.deepStrictEqual(selection(tree, undefined), { leaves: leaves(tree), functions: null, subsets: null });
    const one = selection(tree, [functionId("input_encoder")]);
    assert.deepStrictEqual([one.functions, one.subsets], [["input_encoder"], null]);
    assert.strictEqual(one.leaves.length, 2);
    const leaf = selection(tree, [leafId("metadata_stats", "validation")]);
    assert.deepStrictEqual([leaf.functions, leaf.subsets], [["metadata_stats"], ["validation"]]);
    const group = selection(tree, [groupId("metadata")], [leafId("metadata_label", "training")]);
    assert.deepStrictEqual([group.functions, group.subsets], [["metadata_label", "metadata_stats"], null]);
    assert.deepStrictEqual(group.leaves.map((l) => l.id), [leafId("metadata_label", "validation"),
      leafId("metadata_stats", "training"), leafId("metadata_stats", "validation")]);
  });
  it("debugs the first failing sample of a leaf, else the subset's first", () => {
    const results: ItemResult[] = [
      { function: "input_encoder", subset: "training", ok: false, problems: [
        { code: "TL504", message: "float64", uri: "file:///p/enc.py", range: { start: { line: 10, character: 0 }, end: { line: 10, character: 3 } }, sample: 37, subset: "training" }] },
      { function: "gt_encoder", subset: "training", ok: true, problems: [] },
    ];
    assert.strictEqual(firstFailingSample(results, "input_encoder", "training"), 37);
    assert.strictEqual(firstFailingSample(results, "gt_encoder", "training"), null);
    assert.strictEqual(firstFailingSample(results, "input_encoder", "validation"), null);
  });
});

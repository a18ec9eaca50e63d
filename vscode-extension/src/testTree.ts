// The Test Explorer's tree, built from the server's bindings list (`tensorleap.testItems`): one group per
// kind, one item per function, one child per subset; and what a run of some of its nodes asks the server
// for (`tensorleap.runTests`). No `vscode` import: mocha tests it in plain Node.

/** A binding as the server lists it. */
export interface BindingItem {
  kind: string;
  function: string;
  name: string;
  uri: string;
  line: number; // 0-based line of the def
}

export interface TreeNode {
  id: string;
  label: string;
  kind: "group" | "function" | "subset";
  function?: string;
  bindingKind?: string;
  subset?: string;
  uri?: string;
  line?: number;
  children: TreeNode[];
}

const KIND_LABELS: Record<string, string> = {
  input: "Inputs", ground_truth: "Ground truths", metadata: "Metadata", visualizer: "Visualizers",
  integration_test: "Integration test",
};

export const groupId = (kind: string) => `kind:${kind}`;
export const functionId = (fn: string) => `fn:${fn}`;
export const leafId = (fn: string, subset: string) => `fn:${fn}/${subset}`;

/** Groups in the server's order of kinds, functions in file order, subsets as the project has them. */
export function buildTree(items: BindingItem[], subsets: string[]): TreeNode[] {
  const groups = new Map<string, TreeNode>();
  const seen = new Set<string>();
  for (const b of items) {
    if (seen.has(b.function)) continue; // one item per function, even when registered twice
    seen.add(b.function);
    let g = groups.get(b.kind);
    if (!g) {
      g = { id: groupId(b.kind), label: KIND_LABELS[b.kind] ?? b.kind, kind: "group", children: [] };
      groups.set(b.kind, g);
    }
    const label = b.name && b.name !== b.function ? `${b.function} ('${b.name}')` : b.function;
    g.children.push({
      id: functionId(b.function), label, kind: "function", function: b.function, bindingKind: b.kind, uri: b.uri,
      line: b.line, children: subsets.map((s) => ({ id: leafId(b.function, s), label: s, kind: "subset" as const,
        function: b.function, bindingKind: b.kind, subset: s, uri: b.uri, line: b.line, children: [] })),
    });
  }
  return [...groups.values()];
}

/** A structural key: the tree is replaced only when it changed (typing elsewhere keeps it as it is). */
export function treeKey(tree: TreeNode[]): string {
  return JSON.stringify(tree);
}

export function leaves(nodes: TreeNode[]): TreeNode[] {
  return nodes.flatMap((n) => (n.kind === "subset" ? [n] : leaves(n.children)));
}

export interface Selection {
  /** the (function, subset) pairs to report */
  leaves: TreeNode[];
  /** what the server runs: null = all */
  functions: string[] | null;
  subsets: string[] | null;
}

/** The nodes picked (none: everything), minus the excluded: the leaves to report and the smallest run covering them. */
export function selection(tree: TreeNode[], include: string[] | undefined, exclude: string[] = []): Selection {
  const byId = new Map<string, TreeNode>();
  const walk = (ns: TreeNode[]) => ns.forEach((n) => { byId.set(n.id, n); walk(n.children); });
  walk(tree);
  const picked = include === undefined ? tree : include.map((id) => byId.get(id)).filter((n): n is TreeNode => !!n);
  const out = new Set(exclude);
  const chosen = leaves(picked).filter((l) => !out.has(l.id) && !out.has(functionId(l.function!)) && !out.has(groupId(l.bindingKind!)));
  const all = leaves(tree);
  const fns = [...new Set(chosen.map((l) => l.function!))];
  const subs = [...new Set(chosen.map((l) => l.subset!))];
  const allFns = new Set(all.map((l) => l.function!));
  const allSubs = new Set(all.map((l) => l.subset!));
  return {
    leaves: chosen,
    functions: fns.length === allFns.size ? null : fns,
    subsets: subs.length === allSubs.size ? null : subs,
  };
}

/** One (function, subset) result of `tensorleap.runTests`. */
export interface ItemResult {
  function: string;
  subset: string;
  ok: boolean;
  problems: { code: string; message: string; uri: string; range: { start: { line: number; character: number }; end: { line: number; character: number } }; sample?: unknown; subset?: string | null }[];
}

/** The sample to debug for a leaf: the one its last failure named, else null (the subset's first). */
export function firstFailingSample(results: ItemResult[], fn: string, subset: string): string | number | null {
  const r = results.find((x) => x.function === fn && x.subset === subset && !x.ok);
  const p = r?.problems.find((x) => x.sample !== undefined && x.sample !== null);
  return p && (typeof p.sample === "number" || typeof p.sample === "string") ? p.sample : null;
}

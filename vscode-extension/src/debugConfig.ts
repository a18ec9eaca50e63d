// The `tensorleap` debug type's configurations: what a launch.json entry (or the command, a lens, a code
// action, the Test Explorer) asks for, checked and completed, and the attach configuration handed to
// debugpy's adapter once the server's harness listens. No `vscode` import: mocha tests it in plain Node.

/** A launch.json entry of type `tensorleap` (every field optional but type/request/name). */
export interface LaunchConfig {
  type?: string;
  request?: string;
  name?: string;
  /** the integration file (or any file of the project): default the active editor's */
  file?: string;
  subset?: unknown;
  /** the sample id: a number or a string; empty / absent: the subset's first sample */
  sample?: unknown;
  /** only these functions (Python or registered names); absent: every function of the sample */
  functions?: unknown;
  /** also run the integration test on the sample (default true) */
  integrationTest?: unknown;
  [key: string]: unknown;
}

/** What the server's `tensorleap.debugSample` command takes. */
export interface DebugArgs {
  uri: string;
  subset: string;
  sampleId: string | number | null;
  functions: string[] | null;
  integrationTest: boolean;
}

export type Resolved = { ok: true; args: DebugArgs } | { ok: false; error: string };

/** A sample id as the user typed it: digits are a number (ids are ints or strings), empty is "the first". */
export function sampleId(raw: unknown): string | number | null | undefined {
  if (raw === undefined || raw === null || raw === "") return null;
  if (typeof raw === "number") return Number.isFinite(raw) ? raw : undefined;
  if (typeof raw !== "string") return undefined;
  const t = raw.trim();
  return /^-?\d+$/.test(t) ? Number(t) : t;
}

/** The entry checked: a clear message for each field that cannot be used (never a silent default). */
export function resolveLaunch(config: LaunchConfig, activeUri: string | undefined, toUri: (file: string) => string): Resolved {
  const uri = typeof config.file === "string" && config.file.trim() ? toUri(config.file.trim()) : activeUri;
  if (!uri) return { ok: false, error: "no integration file: open a file of the project or set \"file\" in launch.json" };
  const subset = config.subset === undefined || config.subset === "" ? "training" : config.subset;
  if (typeof subset !== "string") return { ok: false, error: "\"subset\" must be a subset name such as \"training\"" };
  const sample = sampleId(config.sample);
  if (sample === undefined) return { ok: false, error: "\"sample\" must be a sample id (a number or a string)" };
  let functions: string[] | null = null;
  if (config.functions !== undefined && config.functions !== null) {
    const f = config.functions;
    if (!Array.isArray(f) || !f.every((x) => typeof x === "string" && x.trim() !== "")) {
      return { ok: false, error: "\"functions\" must be a list of function names, e.g. [\"input_encoder\"]" };
    }
    functions = f.length ? f.map((x: string) => x.trim()) : null;
  }
  const test = config.integrationTest === undefined ? true : config.integrationTest;
  if (typeof test !== "boolean") return { ok: false, error: "\"integrationTest\" must be true or false" };
  return { ok: true, args: { uri, subset, sampleId: sample, functions, integrationTest: test } };
}

/** The server's answer once the harness listens. */
export interface Listening {
  ok: boolean;
  host?: string;
  port?: number;
  message?: string;
  /** glob patterns of the harness's own files */
  exclude?: string[];
}

/** The configuration the session runs with: an attach to debugpy where the harness listens, the user's
 *  code only (justMyCode; the harness's own frames hidden), its output in the Debug Console. */
export function attachConfiguration(config: LaunchConfig, reply: Listening): LaunchConfig {
  return {
    ...config,
    request: "attach",
    connect: { host: reply.host ?? "127.0.0.1", port: reply.port },
    justMyCode: config.justMyCode ?? true,
    redirectOutput: true,
    rules: (reply.exclude ?? []).map((path) => ({ path, include: false })),
  };
}

/** A launch configuration for one sample (the command, a lens, a code action, the Test Explorer). */
export function launchFor(args: DebugArgs, file: string): LaunchConfig {
  const what = args.functions?.length ? ` (${args.functions.join(", ")})` : "";
  return {
    type: "tensorleap", request: "launch", name: `Tensorleap: ${args.subset} sample ${args.sampleId ?? "(first)"}${what}`,
    file, subset: args.subset, sample: args.sampleId ?? "", ...(args.functions ? { functions: args.functions } : {}),
    integrationTest: args.integrationTest,
  };
}

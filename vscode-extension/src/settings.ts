// Settings resolution: VS Code configuration -> the server's initializationOptions.
// The schema (names, types, defaults, minima, allowed values) is package.json's
// contributes.configuration, read here, never copied; the server's lsp/settings.py is tested against it.
// No `vscode` import here so mocha can test it in plain Node.

export interface RawSettings {
  get<T>(key: string): T | undefined;
}

export interface SchemaEntry {
  type: string;
  default: unknown;
  minimum?: number;
  enum?: string[];
}

// dist/extension.js (bundled) and out/settings.js (tests) both sit one folder below package.json.
// eslint-disable-next-line @typescript-eslint/no-var-requires
const PACKAGE = require("../package.json");
const PREFIX = "tensorleap.";

/** `tensorleap.*` properties of package.json, keyed without the prefix. */
export const SCHEMA: Record<string, SchemaEntry> = Object.fromEntries(
  Object.entries(PACKAGE.contributes.configuration.properties as Record<string, SchemaEntry>)
    .map(([k, v]) => [k.slice(PREFIX.length), v]));

/** Settings the extension itself uses; the server never sees them. */
export const EXTENSION_ONLY = ["serverInterpreter"];

/** What the server receives: every schema key (same spelling) but the extension's own, plus trust. */
export interface ServerOptions {
  debounceMs: number;
  interpreter: string | null;
  dynamicChecksOnSave: boolean;
  samplesPerSubset: number;
  timeoutSeconds: number;
  preprocessTimeoutSeconds: number;
  memoryMb: number;
  logLevel: string;
  inlayHints: boolean;
  trusted: boolean;
}

function valid(v: unknown, s: SchemaEntry): boolean {
  switch (s.type) {
    case "integer":
      return typeof v === "number" && Number.isInteger(v) && (s.minimum === undefined || v >= s.minimum);
    case "number":
      return typeof v === "number" && Number.isFinite(v) && (s.minimum === undefined || v >= s.minimum);
    case "boolean":
      return typeof v === "boolean";
    case "string":
      return typeof v === "string" && (s.enum === undefined || s.enum.includes(v));
    default:
      return false;
  }
}

/** One setting: its value when valid for the schema, else its default (never throws). */
export function setting(cfg: RawSettings, key: string): unknown {
  const s = SCHEMA[key];
  const v = cfg.get(key);
  return valid(v, s) ? v : s.default;
}

/** A path setting: trimmed, null when empty. */
export function pathSetting(cfg: RawSettings, key: string): string | null {
  const v = setting(cfg, key);
  return typeof v === "string" && v.trim() ? v.trim() : null;
}

/** Reads `tensorleap.*` with the schema's defaults; bad values fall back to the default. */
export function resolveOptions(cfg: RawSettings, trusted: boolean, vscodeLogLevel?: string): ServerOptions {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(SCHEMA)) {
    if (!EXTENSION_ONLY.includes(key)) out[key] = setting(cfg, key);
  }
  out.interpreter = pathSetting(cfg, "interpreter");
  // "info" (the default) follows VS Code's own log level (Developer: Set Log Level)
  if (out.logLevel === "info" && vscodeLogLevel && SCHEMA.logLevel.enum?.includes(vscodeLogLevel)) {
    out.logLevel = vscodeLogLevel;
  }
  out.trusted = trusted;
  return out as unknown as ServerOptions;
}

/** Settings whose change needs a server restart (the rest is sent as didChangeConfiguration). */
export const RESTART_KEYS = ["tensorleap.serverInterpreter", "tensorleap.interpreter"];

export function needsRestart(changed: (key: string) => boolean): boolean {
  return RESTART_KEYS.some(changed);
}

// Settings resolution: VS Code configuration -> the server's initializationOptions.
// No `vscode` import here so mocha can test it in plain Node.

export interface RawSettings {
  get<T>(key: string): T | undefined;
}

export interface ServerOptions {
  debounceMs: number;
  interpreter: string | null;
  dynamicOnSave: boolean;
  samplesPerSubset: number;
  timeoutS: number;
  preprocessTimeoutS: number;
  memoryMb: number;
  logLevel: string;
  trusted: boolean;
}

const DEFAULTS: ServerOptions = {
  debounceMs: 100, interpreter: null, dynamicOnSave: false, samplesPerSubset: 5, timeoutS: 30,
  preprocessTimeoutS: 300, memoryMb: 4096, logLevel: "info", trusted: false,
};

function num(v: unknown, dflt: number, min: number): number {
  return typeof v === "number" && Number.isFinite(v) && v >= min ? v : dflt;
}

/** Reads `tensorleap.*` with defaults; bad values fall back to the default (never throw). */
export function resolveOptions(cfg: RawSettings, trusted: boolean, vscodeLogLevel?: string): ServerOptions {
  const interp = cfg.get<string>("interpreter");
  const level = cfg.get<string>("logLevel");
  return {
    debounceMs: Math.round(num(cfg.get("debounceMs"), DEFAULTS.debounceMs, 0)),
    interpreter: typeof interp === "string" && interp.trim() ? interp.trim() : null,
    dynamicOnSave: cfg.get("dynamicChecksOnSave") === true,
    samplesPerSubset: Math.round(num(cfg.get("samplesPerSubset"), DEFAULTS.samplesPerSubset, 0)),
    timeoutS: num(cfg.get("timeoutSeconds"), DEFAULTS.timeoutS, 0.1),
    preprocessTimeoutS: num(cfg.get("preprocessTimeoutSeconds"), DEFAULTS.preprocessTimeoutS, 0.1),
    memoryMb: Math.round(num(cfg.get("memoryMb"), DEFAULTS.memoryMb, 64)),
    logLevel: level && level !== "info" ? level : (vscodeLogLevel || "info"),
    trusted,
  };
}

/** Settings whose change needs a server restart (the rest is sent as didChangeConfiguration). */
export const RESTART_KEYS = ["tensorleap.interpreter"];

export function needsRestart(changed: (key: string) => boolean): boolean {
  return RESTART_KEYS.some(changed);
}

// The two interpreters, each chosen here and only here (pure logic, testable in Node):
//  - the server interpreter runs tensorleap-ls (Python >= SERVER_MIN, with the bundled libraries);
//  - the project interpreter runs the user's integration in the server's child process
//    (code-loader's range, 3.8-3.12); the server takes it as the `interpreter` setting.
// Nothing inside an untrusted workspace is ever executed here: such candidates are skipped, and a
// project venv's version is read from its pyvenv.cfg, not by running it.
import { execFile } from "child_process";
import * as fs from "fs";
import * as path from "path";

export type Version = [number, number, number];
export const SERVER_MIN: [number, number] = [3, 9];
export const PROJECT_RANGE: [[number, number], [number, number]] = [[3, 8], [3, 12]];

export interface Platform {
  os: string;          // process.platform
  delimiter: string;   // PYTHONPATH / PATH separator
  sep: string;
}

export function platformOf(os: string): Platform {
  return os === "win32" ? { os, delimiter: ";", sep: "\\" } : { os, delimiter: ":", sep: "/" };
}

export type ServerSource = "setting" | "python-extension" | "py-launcher" | "path";
export type ProjectSource = "setting" | "python-extension" | "venv" | "server";

export interface Probed {
  path: string;
  source: ServerSource;
  version: Version | null;
  packageDir?: string;   // where an installed tensorleap_ls lives in that interpreter, if any
  skipped?: string;      // why it was not run
}

export interface ServerChoice {
  path: string;
  source: ServerSource;
  version: Version;
  packageDir?: string;
}

export interface ServerSearch {
  choice: ServerChoice | null;
  tried: Probed[];
}

export interface ProjectChoice {
  path: string;
  source: ProjectSource;
  version: Version | null;
}

export function formatVersion(v: Version | null): string {
  return v ? v.join(".") : "unknown version";
}

export function atLeast(v: Version, min: [number, number]): boolean {
  return v[0] > min[0] || (v[0] === min[0] && v[1] >= min[1]);
}

/** The first line "(3, 11, 7)" or "3.11.7" of a probe's output. */
export function parseVersion(out: string): Version | null {
  const m = /(\d+)[.,]\s*(\d+)[.,]\s*(\d+)/.exec(out.split("\n")[0] ?? "");
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : null;
}

/** Interpreters on PATH, the newest python3.x first, then python3 / python (Windows: python.exe). */
export function pathCandidates(envPath: string | undefined, plat: Platform, listDir: (dir: string) => string[]): string[] {
  const versioned: { p: string; minor: number }[] = [];
  const plain: string[] = [];
  const seen = new Set<string>();
  const join = (d: string, n: string) => (d.endsWith(plat.sep) ? d + n : d + plat.sep + n);
  for (const dir of (envPath ?? "").split(plat.delimiter).filter(Boolean)) {
    // the Microsoft Store's python.exe stub opens the Store instead of running
    if (plat.os === "win32" && /\\WindowsApps\\?$/i.test(dir)) continue;
    let names: string[];
    try {
      names = listDir(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      const m = plat.os === "win32" ? null : /^python3\.(\d+)$/.exec(name);
      const isPlain = plat.os === "win32" ? /^python3?\.exe$/i.test(name) : name === "python3" || name === "python";
      if (!m && !isPlain) continue;
      const key = m ? name : name.toLowerCase();
      if (seen.has(key)) continue;  // PATH order: the first directory wins
      seen.add(key);
      if (m) versioned.push({ p: join(dir, name), minor: Number(m[1]) });
      else plain.push(join(dir, name));
    }
  }
  versioned.sort((a, b) => b.minor - a.minor);
  const order = (p: string) => (/python3(\.exe)?$/i.test(p) ? 0 : 1);
  return [...versioned.map((v) => v.p), ...plain.sort((a, b) => order(a) - order(b))];
}

/** Interpreters listed by the Windows launcher's `py -0p`, the newest first (both output formats). */
export function parsePyLauncher(out: string): string[] {
  const found: { p: string; v: [number, number] }[] = [];
  for (const line of out.split(/\r?\n/)) {
    const m = /^\s*-(?:V:)?(\d+)\.(\d+)\S*\s+(?:\*\s+)?(\S.*?)\s*$/.exec(line);
    if (m && /\.exe$/i.test(m[3])) found.push({ p: m[3], v: [Number(m[1]), Number(m[2])] });
  }
  return found.sort((a, b) => b.v[0] - a.v[0] || b.v[1] - a.v[1]).map((f) => f.p);
}

export interface ServerSources {
  setting: string | null;               // tensorleap.serverInterpreter
  pythonExtension: string | null;       // the Python extension's interpreter
  launcher: string[];                   // Windows: py -0p
  path: string[];                       // pathCandidates(...)
  probe: (python: string) => Promise<{ version: Version | null; packageDir?: string }>;
  mayRun: (python: string) => boolean;  // false inside an untrusted workspace
}

/** setting, else the Python extension's interpreter when new enough, else the newest suitable on PATH. */
export async function chooseServerInterpreter(s: ServerSources): Promise<ServerSearch> {
  const tried: Probed[] = [];
  const candidates: { path: string; source: ServerSource }[] = [];
  if (s.setting) {
    candidates.push({ path: s.setting, source: "setting" });
  } else {
    if (s.pythonExtension) candidates.push({ path: s.pythonExtension, source: "python-extension" });
    for (const p of s.launcher) candidates.push({ path: p, source: "py-launcher" });
    for (const p of s.path) candidates.push({ path: p, source: "path" });
  }
  for (const c of candidates) {
    if (!s.mayRun(c.path)) {
      tried.push({ ...c, version: null, skipped: "inside the untrusted workspace" });
      continue;
    }
    const r = await s.probe(c.path);
    tried.push({ ...c, version: r.version, packageDir: r.packageDir });
    if (r.version && atLeast(r.version, SERVER_MIN)) {
      return { choice: { ...c, version: r.version, packageDir: r.packageDir }, tried };
    }
  }
  return { choice: null, tried };
}

const SOURCE_NAMES: Record<ServerSource | ProjectSource, string> = {
  "setting": "setting", "python-extension": "Python extension", "py-launcher": "py launcher", "path": "PATH",
  "venv": "project venv", "server": "same as the server",
};

/** The one message when no interpreter can run the server: what was found and what to do. */
export function noServerMessage(search: ServerSearch): string {
  const min = SERVER_MIN.join(".");
  const found = search.tried.map(probedLine);
  const what = search.tried.some((t) => t.source === "setting")
    ? `Point tensorleap.serverInterpreter to Python ${min} or newer`
    : `Install Python ${min} or newer (any version: it only runs the Tensorleap server) and set tensorleap.serverInterpreter to it`;
  return `Tensorleap needs Python ${min} or newer to run its language server; ` +
    (found.length ? `found ${found.join("; ")}. ` : "found no Python interpreter. ") +
    `${what}. Your project may keep its own interpreter (tensorleap.interpreter, 3.8-3.12).`;
}

/** One log line per server candidate: path, where it came from, and its version or why it was not used. */
export function probedLine(t: Probed): string {
  const state = t.skipped ? `not run (${t.skipped})` : !t.version ? "does not run"
    : atLeast(t.version, SERVER_MIN) ? `Python ${formatVersion(t.version)}`
      : `Python ${formatVersion(t.version)}, too old for the server (needs ${SERVER_MIN.join(".")}+)`;
  return `${t.path} (${SOURCE_NAMES[t.source]}): ${state}`;
}

/** Both choices, for the log and the status bar's tooltip. */
export function describeInterpreters(server: ServerChoice, project: ProjectChoice): string {
  const [lo, hi] = PROJECT_RANGE;
  const v = project.version;
  const outOfRange = v && (!atLeast(v, lo) || atLeast(v, [hi[0], hi[1] + 1]))
    ? ` (code-loader supports ${lo.join(".")}-${hi.join(".")})` : "";
  return `Server interpreter: ${server.path} (Python ${formatVersion(server.version)}, ${SOURCE_NAMES[server.source]})\n` +
    `Project interpreter: ${project.path} (${v ? `Python ${formatVersion(v)}` : "version unknown"}, ` +
    `${SOURCE_NAMES[project.source]})${outOfRange}`;
}

export interface ProjectSources {
  setting: string | null;            // tensorleap.interpreter
  pythonExtension: string | null;
  workspaceFolder: string | null;
  exists: (p: string) => boolean;
  plat: Platform;
}

/** setting, else the Python extension's selection, else the project's .venv/venv, else the server's. */
export function chooseProjectInterpreter(s: ProjectSources, server: ServerChoice): Omit<ProjectChoice, "version"> {
  if (s.setting) return { path: s.setting, source: "setting" };
  if (s.pythonExtension) return { path: s.pythonExtension, source: "python-extension" };
  if (s.workspaceFolder) {
    const exe = s.plat.os === "win32" ? ["Scripts", "python.exe"] : ["bin", "python"];
    for (const venv of [".venv", "venv"]) {
      const p = [s.workspaceFolder, venv, ...exe].join(s.plat.sep);
      if (s.exists(p)) return { path: p, source: "venv" };
    }
  }
  return { path: server.path, source: "server" };
}

/** A venv's Python version from its pyvenv.cfg (`version = 3.8.18` / `version_info = 3.8.18.final.0`). */
export function venvVersion(cfgText: string): Version | null {
  const m = /^\s*version(?:_info)?\s*=\s*(\d+)\.(\d+)\.(\d+)/m.exec(cfgText);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : null;
}

/** The pyvenv.cfg beside or above the interpreter's folder (bin/ or Scripts/). */
export function pyvenvCfgOf(python: string): string {
  return path.join(path.dirname(path.dirname(python)), "pyvenv.cfg");
}

/** Is `p` inside one of `folders`? (What an untrusted workspace may not run.) Both sides are made
 *  absolute and normalised (`//`, `..`), also taken through their symlinks (`real`; as the server does),
 *  and compared without case where the file system ignores it (Windows, macOS). */
export function inside(p: string, folders: string[], plat: Platform, real: (p: string) => string = realPath): boolean {
  const P = plat.os === "win32" ? path.win32 : path.posix;
  const fold = plat.os === "win32" || plat.os === "darwin";
  const forms = (x: string): string[] => {
    const abs = P.resolve(x);
    return [...new Set([abs, P.resolve(real(abs))])]
      .map((y) => y.replace(/[\\/]+$/, ""))
      .map((y) => (fold ? y.toLowerCase() : y));
  };
  const candidates = forms(p);
  return folders.some((f) => forms(f).some((d) => candidates.some((q) => q === d || q.startsWith(d + P.sep))));
}

/** `p` through its symlinks, or `p` itself when it does not exist. */
export function realPath(p: string): string {
  try {
    return fs.realpathSync.native(p);
  } catch {
    return p;
  }
}

/** PYTHONPATH for the server: the bundled pure-Python libraries first, then the user's own. */
export function serverPythonPath(bundled: string, existing: string | undefined, plat: Platform): string {
  return existing ? `${bundled}${plat.delimiter}${existing}` : bundled;
}

export const LAUNCHER = ["tensorleap_ls", "_boot", "serve.py"];

/** The launcher file: the bundled copy, else the one of the tensorleap_ls installed in the server interpreter. */
export function launcherPath(bundled: string | null, server: ServerChoice, plat: Platform): string | null {
  if (bundled) return [bundled, ...LAUNCHER].join(plat.sep);
  if (server.packageDir) return [server.packageDir, ...LAUNCHER.slice(1)].join(plat.sep);
  return null;
}

// Runs isolated (-I: no PYTHON* variables, no user site, nothing of the working directory).
const PROBE = "import sys, importlib.util as u; print(tuple(sys.version_info[:3])); " +
  "s = u.find_spec('tensorleap_ls'); print(list(s.submodule_search_locations)[0] if s else '')";

/** Runs `python` once (from `cwd`, never the workspace) for its version and an installed tensorleap_ls. */
export function probe(python: string, cwd: string, timeoutMs = 15000): Promise<{ version: Version | null; packageDir?: string }> {
  return new Promise((resolve) => {
    execFile(python, ["-I", "-c", PROBE], { cwd, timeout: timeoutMs, windowsHide: true }, (err, stdout) => {
      if (err && !stdout) return resolve({ version: null });
      const lines = String(stdout).split(/\r?\n/);
      resolve({ version: parseVersion(lines[0] ?? ""), packageDir: lines[1]?.trim() || undefined });
    });
  });
}

/** `py -0p` (Windows only): the launcher's list of interpreters. */
export function pyLauncherList(cwd: string): Promise<string[]> {
  return new Promise((resolve) => {
    execFile("py", ["-0p"], { cwd, timeout: 10000, windowsHide: true }, (err, stdout) => {
      resolve(err && !stdout ? [] : parsePyLauncher(String(stdout)));
    });
  });
}

export function listDir(dir: string): string[] {
  return fs.readdirSync(dir);
}

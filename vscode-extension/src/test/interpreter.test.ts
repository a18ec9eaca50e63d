import * as assert from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

import {
  ServerChoice, Version, chooseProjectInterpreter, chooseServerInterpreter, describeInterpreters, inside,
  launcherPath, noServerMessage, parsePyLauncher, parseVersion, pathCandidates, platformOf, probe,
  serverPythonPath, venvVersion,
} from "../interpreter";

const linux = platformOf("linux");
const win = platformOf("win32");

/** A fake machine: interpreter path -> version (absent = does not run). */
function machine(versions: Record<string, Version>) {
  const probed: string[] = [];
  return {
    probed,
    probe: async (p: string) => {
      probed.push(p);
      return { version: versions[p] ?? null };
    },
  };
}

const none = { setting: null, pythonExtension: null, launcher: [], path: [], mayRun: () => true };

describe("server interpreter", () => {
  it("takes the setting first, and only the setting when it is set", async () => {
    const m = machine({ "/opt/py312/bin/python": [3, 12, 1], "/usr/bin/python3.11": [3, 11, 7] });
    const r = await chooseServerInterpreter({ ...none, ...m, setting: "/opt/py312/bin/python",
      pythonExtension: "/usr/bin/python3.11", path: ["/usr/bin/python3.11"] });
    assert.deepStrictEqual(r.choice, { path: "/opt/py312/bin/python", source: "setting", version: [3, 12, 1], packageDir: undefined });
    // a set but unusable setting is reported, never silently replaced
    const old = machine({ "/opt/py38/bin/python": [3, 8, 18], "/usr/bin/python3.11": [3, 11, 7] });
    const bad = await chooseServerInterpreter({ ...none, ...old, setting: "/opt/py38/bin/python", path: ["/usr/bin/python3.11"] });
    assert.strictEqual(bad.choice, null);
    assert.deepStrictEqual(old.probed, ["/opt/py38/bin/python"]);
    assert.match(noServerMessage(bad), /\/opt\/py38\/bin\/python \(setting\): Python 3\.8\.18, too old/);
    assert.match(noServerMessage(bad), /Point tensorleap\.serverInterpreter to Python 3\.9 or newer/);
  });

  it("uses the Python extension's interpreter when it is new enough", async () => {
    const m = machine({ "/ws/.venv/bin/python": [3, 10, 13], "/usr/bin/python3.12": [3, 12, 1] });
    const r = await chooseServerInterpreter({ ...none, ...m, pythonExtension: "/ws/.venv/bin/python", path: ["/usr/bin/python3.12"] });
    assert.strictEqual(r.choice?.path, "/ws/.venv/bin/python");
    assert.strictEqual(r.choice?.source, "python-extension");
  });

  it("passes over a Python extension interpreter that is too old, to the newest suitable one on PATH", async () => {
    const m = machine({ "/ws/.venv/bin/python": [3, 8, 18], "/usr/bin/python3.11": [3, 11, 7], "/usr/bin/python3": [3, 11, 7] });
    const r = await chooseServerInterpreter({ ...none, ...m, pythonExtension: "/ws/.venv/bin/python",
      path: pathCandidates("/usr/local/bin:/usr/bin", linux, (d) => (d === "/usr/bin" ? ["python3", "python3.8", "python3.11", "python3-config"] : [])) });
    assert.deepStrictEqual(r.choice, { path: "/usr/bin/python3.11", source: "path", version: [3, 11, 7], packageDir: undefined });
    assert.deepStrictEqual(m.probed, ["/ws/.venv/bin/python", "/usr/bin/python3.11"]);
    assert.strictEqual(r.tried[0].version?.[1], 8);
  });

  it("orders PATH candidates newest python3.x first, the first directory winning, then python3, python", () => {
    const dirs: Record<string, string[]> = {
      "/home/u/.local/bin": ["python3.10"],
      "/usr/bin": ["python", "python3", "python3.9", "python3.12", "python3.10", "python3.12-config", "pythonw"],
    };
    assert.deepStrictEqual(pathCandidates("/home/u/.local/bin::/usr/bin:/missing", linux, (d) => {
      if (!(d in dirs)) throw new Error("ENOENT");
      return dirs[d];
    }), ["/usr/bin/python3.12", "/home/u/.local/bin/python3.10", "/usr/bin/python3.9", "/usr/bin/python3", "/usr/bin/python"]);
  });

  it("on Windows splits PATH on ';', finds python.exe, skips the Store stub, and asks the py launcher", async () => {
    const dirs: Record<string, string[]> = {
      "C:\\Users\\u\\AppData\\Local\\Microsoft\\WindowsApps": ["python.exe", "python3.exe"],
      "C:\\Program Files\\Python39\\": ["python.exe", "pythonw.exe"],
    };
    const onPath = pathCandidates("C:\\Users\\u\\AppData\\Local\\Microsoft\\WindowsApps;C:\\Program Files\\Python39\\", win,
      (d) => dirs[d] ?? []);
    assert.deepStrictEqual(onPath, ["C:\\Program Files\\Python39\\python.exe"]);
    const oldFormat = "Installed Pythons found by py Launcher for Windows\r\n -3.8-64        C:\\Python38\\python.exe\r\n" +
      " -3.11-64 *     C:\\Users\\u\\AppData\\Local\\Programs\\Python\\Python311\\python.exe\r\n";
    const newFormat = " -V:3.12 *        C:\\Python312\\python.exe\r\n -V:3.10          C:\\Program Files\\Python310\\python.exe\r\n";
    assert.deepStrictEqual(parsePyLauncher(oldFormat),
      ["C:\\Users\\u\\AppData\\Local\\Programs\\Python\\Python311\\python.exe", "C:\\Python38\\python.exe"]);
    assert.deepStrictEqual(parsePyLauncher(newFormat), ["C:\\Python312\\python.exe", "C:\\Program Files\\Python310\\python.exe"]);
    const m = machine({ "C:\\Python312\\python.exe": [3, 12, 1] });
    const r = await chooseServerInterpreter({ ...none, ...m, launcher: parsePyLauncher(newFormat), path: onPath });
    assert.deepStrictEqual(r.choice && [r.choice.path, r.choice.source], ["C:\\Python312\\python.exe", "py-launcher"]);
  });

  it("when none is suitable, says so once with the versions found and what to do", async () => {
    const m = machine({ "/usr/bin/python3": [3, 8, 10] });
    const r = await chooseServerInterpreter({ ...none, ...m, path: ["/usr/bin/python3", "/usr/bin/python"] });
    assert.strictEqual(r.choice, null);
    const msg = noServerMessage(r);
    assert.match(msg, /needs Python 3\.9 or newer/);
    assert.match(msg, /\/usr\/bin\/python3 \(PATH\): Python 3\.8\.10, too old/);
    assert.match(msg, /\/usr\/bin\/python \(PATH\): does not run/);
    assert.match(msg, /Install Python 3\.9 or newer .* set tensorleap\.serverInterpreter/);
    assert.match(noServerMessage(await chooseServerInterpreter({ ...none, ...machine({}) })), /found no Python interpreter/);
  });

  it("never runs an interpreter inside an untrusted workspace", async () => {
    const m = machine({ "/ws/.venv/bin/python": [3, 11, 7], "/usr/bin/python3": [3, 11, 7] });
    const r = await chooseServerInterpreter({ ...none, ...m, pythonExtension: "/ws/.venv/bin/python", path: ["/usr/bin/python3"],
      mayRun: (p) => !inside(p, ["/ws"], linux) });
    assert.strictEqual(r.choice?.path, "/usr/bin/python3");
    assert.deepStrictEqual(m.probed, ["/usr/bin/python3"]);
    assert.strictEqual(r.tried[0].skipped, "inside the untrusted workspace");
    assert.ok(inside("C:/Proj/My Project/.venv/Scripts/python.exe", ["c:\\proj\\my project\\"], win));
    assert.ok(!inside("/ws2/python", ["/ws"], linux));
  });

  it("tells an interpreter inside the workspace however its path is spelled (normalised, resolved, case)", () => {
    // paths that do not exist on this machine: compared as written, normalised
    assert.ok(inside("/home/u//ws/.venv/bin/python", ["/home/u/ws"], linux));
    assert.ok(inside("/home/u/x/../ws/.venv/bin/python", ["/home/u/ws/"], linux));
    assert.ok(inside("/home/u/./ws/.venv/bin/python", ["/home/u//ws"], linux));
    assert.ok(inside("/Users/U/WS/.venv/bin/python", ["/Users/u/ws"], platformOf("darwin")));
    assert.ok(!inside("/ws/A/python", ["/WS"], linux));  // Linux file names keep their case
    assert.ok(inside("C:\\Proj\\x\\..\\ws\\.venv\\Scripts\\python.exe", ["c:/proj/WS"], win));
    // through symlinks, on this machine: a link into the workspace, and a workspace opened through a link
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tl-inside-"));
    try {
      const ws = path.join(tmp, "ws");
      fs.mkdirSync(path.join(ws, ".venv", "bin"), { recursive: true });
      fs.writeFileSync(path.join(ws, ".venv", "bin", "python"), "");
      fs.symlinkSync(ws, path.join(tmp, "link"));
      assert.ok(inside(path.join(tmp, "link", ".venv", "bin", "python"), [ws], linux));
      assert.ok(inside(path.join(ws, ".venv", "bin", "python"), [path.join(tmp, "link")], linux));
      assert.ok(!inside(path.join(tmp, "elsewhere", "python"), [ws], linux));
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it("probes a real interpreter for its version (isolated, from a folder of its own)", async () => {
    const python = execFileSync("python3", ["-c", "import sys; print(sys.executable)"]).toString().trim();
    const r = await probe(python, os.tmpdir());
    const expected = execFileSync(python, ["-c", "import sys; print('.'.join(map(str, sys.version_info[:3])))"]).toString().trim();
    assert.strictEqual(r.version?.join("."), expected);
    assert.deepStrictEqual(await probe("/nonexistent/python", os.tmpdir()), { version: null });
    assert.deepStrictEqual(parseVersion("(3, 9, 18)\n"), [3, 9, 18]);
    assert.strictEqual(parseVersion("Python"), null);
  });
});

describe("project interpreter", () => {
  const server: ServerChoice = { path: "/usr/bin/python3.11", source: "path", version: [3, 11, 7] };
  const base = { setting: null, pythonExtension: null, workspaceFolder: "/ws", exists: () => false, plat: linux };

  it("takes the setting, then the Python extension's selection, then the project's .venv/venv, then the server's", () => {
    assert.deepStrictEqual(chooseProjectInterpreter({ ...base, setting: "/p/bin/python", pythonExtension: "/x" }, server),
      { path: "/p/bin/python", source: "setting" });
    assert.deepStrictEqual(chooseProjectInterpreter({ ...base, pythonExtension: "/x/bin/python" }, server),
      { path: "/x/bin/python", source: "python-extension" });
    assert.deepStrictEqual(chooseProjectInterpreter({ ...base, exists: (p) => p === "/ws/venv/bin/python" }, server),
      { path: "/ws/venv/bin/python", source: "venv" });
    assert.deepStrictEqual(chooseProjectInterpreter({ ...base, exists: () => true }, server),
      { path: "/ws/.venv/bin/python", source: "venv" });
    assert.deepStrictEqual(chooseProjectInterpreter({ ...base, workspaceFolder: "C:\\My Project", plat: win,
      exists: (p) => p === "C:\\My Project\\.venv\\Scripts\\python.exe" }, server),
    { path: "C:\\My Project\\.venv\\Scripts\\python.exe", source: "venv" });
    assert.deepStrictEqual(chooseProjectInterpreter(base, server), { path: "/usr/bin/python3.11", source: "server" });
  });

  it("reads a venv's version from pyvenv.cfg (never runs it) and names both choices", () => {
    assert.deepStrictEqual(venvVersion("home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.8.18\n"), [3, 8, 18]);
    assert.deepStrictEqual(venvVersion("home = C:\\Python310\nversion_info = 3.10.13.final.0\n"), [3, 10, 13]);
    assert.strictEqual(venvVersion("home = /usr/bin\n"), null);
    const text = describeInterpreters(server, { path: "/ws/.venv/bin/python", source: "venv", version: [3, 8, 18] });
    assert.match(text, /Server interpreter: \/usr\/bin\/python3\.11 \(Python 3\.11\.7, PATH\)/);
    assert.match(text, /Project interpreter: \/ws\/\.venv\/bin\/python \(Python 3\.8\.18, project venv\)$/);
    assert.match(describeInterpreters(server, { path: "/p", source: "setting", version: [3, 13, 0] }), /code-loader supports 3\.8-3\.12/);
  });
});

describe("launch", () => {
  it("joins PYTHONPATH with the platform's delimiter, the bundled libraries first", () => {
    assert.strictEqual(serverPythonPath("/ext/bundled/libs", undefined, linux), "/ext/bundled/libs");
    assert.strictEqual(serverPythonPath("/ext/bundled/libs", "/user", linux), "/ext/bundled/libs:/user");
    assert.strictEqual(serverPythonPath("C:\\ext\\bundled\\libs", "D:\\mine", win), "C:\\ext\\bundled\\libs;D:\\mine");
  });
  it("runs the launcher file: the bundled one, else the installed package's", () => {
    const s: ServerChoice = { path: "/usr/bin/python3", source: "path", version: [3, 11, 7], packageDir: "/site/tensorleap_ls" };
    assert.strictEqual(launcherPath("/ext/bundled/libs", s, linux), "/ext/bundled/libs/tensorleap_ls/_boot/serve.py");
    assert.strictEqual(launcherPath(null, s, linux), "/site/tensorleap_ls/_boot/serve.py");
    assert.strictEqual(launcherPath("C:\\ext\\bundled\\libs", s, win), "C:\\ext\\bundled\\libs\\tensorleap_ls\\_boot\\serve.py");
    assert.strictEqual(launcherPath(null, { ...s, packageDir: undefined }, linux), null);
  });
});

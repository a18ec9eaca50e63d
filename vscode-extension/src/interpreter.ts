// Which Python runs the server (and, through it, the integration). Pure logic, testable in Node.

export interface InterpreterSources {
  setting: string | null;            // tensorleap.interpreter (resource scope)
  pythonExtension: string | null;    // the interpreter selected in the Python extension, if installed
  fallback: string;                  // python3 on PATH
}

export interface Choice {
  path: string;
  source: "setting" | "python-extension" | "fallback";
}

export function chooseInterpreter(s: InterpreterSources): Choice {
  if (s.setting) {
    return { path: s.setting, source: "setting" };
  }
  if (s.pythonExtension) {
    return { path: s.pythonExtension, source: "python-extension" };
  }
  return { path: s.fallback, source: "fallback" };
}

/** PYTHONPATH for the server: the bundled pure-Python libraries first, then the user's own. */
export function serverPythonPath(bundled: string, existing: string | undefined, sep = ":"): string {
  return existing ? `${bundled}${sep}${existing}` : bundled;
}

/** A readable reason when the server cannot start with this interpreter. */
export function startFailure(path: string, stderr: string): string {
  if (/No module named '?(numpy|yaml)/.test(stderr)) {
    const mod = /No module named '?([\w.]+)/.exec(stderr)?.[1] ?? "a module";
    return `The interpreter ${path} lacks ${mod}. Install your integration's requirements in it (code-loader brings numpy and PyYAML) or pick another interpreter.`;
  }
  if (/ENOENT|not found|No such file/.test(stderr)) {
    return `The interpreter ${path} was not found. Pick an interpreter with "Python: Select Interpreter" or set tensorleap.interpreter.`;
  }
  return `The Tensorleap server could not start with ${path}: ${stderr.split("\n").filter(Boolean).slice(-1)[0] ?? "unknown error"}`;
}

"""The engine's benchmark (issue 20), at the DEFAULT settings (no initializationOptions), over stdio
with the benchmark's client, against the real server started as editors start it:

- ``vendored``: the generated 100-module, ~50,000-line project of the vendored-library shape
  (bench/projects.py): didOpen of the entry -> diagnostics, cold (no persistent cache) and warm (the
  cache a previous run left); a one-character edit in the entry (the same edit in the one-module
  project, for the ratio); an edit inside a function body of a helper module of the library; peak RSS;
  ``tensorleap-ls check`` twice (the second reads the persistent cache; median of ``CLI_REPS`` such runs).
  The server and the CLI run as a user's install runs them: with the package's bytecode (pip compiles it at install
  time; the package is compiled first with ``compileall``, and the runs may write bytecode: a sandbox's
  PYTHONDONTWRITEBYTECODE=1 would otherwise make an editable install compile every module from source on every run).
- ``adversarial``: each adversarial project at its full size, ``check`` in process (seconds).
- ``typing``: an edit every 30 ms for a few seconds on the 400- and 3,000-line integrations and the
  vendored entry: publishes per second (all files, and the edited one), and the time from the last
  edit to the diagnostics of its version.

    .venv/bin/python bench/engine.py [vendored] [adversarial] [typing] [--reps N] [--json out.json] [--results bench/RESULTS.md]

``--results`` replaces its section of bench/RESULTS.md (between ``<!-- engine:begin -->`` and ``<!-- engine:end -->``);
``bench/run.py`` writes the rest of that file. The "Done when" verdicts below the section are written by hand, between
``<!-- verdicts:begin -->`` and ``<!-- verdicts:end -->`` (kept by both scripts).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import projects  # noqa: E402
from generate import generate  # noqa: E402
from lsp_client import LspClient, is_diag  # noqa: E402


def _launcher(python: str) -> list[str]:
    return [python, os.path.join(_package_dir(python), "_boot", "serve.py")]


def _env(cache_dir: str | None) -> dict:
    """The environment of the measured server and CLI runs: bytecode may be written (PYTHONDONTWRITEBYTECODE
    unset), and ``run`` compiles the package first (``compileall``), as an install has it."""
    env = {**os.environ, "TL_DISABLE_ANALYTICS": "1"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if cache_dir is not None:
        env["XDG_CACHE_HOME"] = cache_dir  # the persistent cache lives under it
    return env


def _package_dir(python: str) -> str:
    out = subprocess.run([python, "-c", "import tensorleap_ls, os; print(os.path.dirname(tensorleap_ls.__file__))"],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def _compile(python: str) -> None:
    """The package's bytecode, as pip leaves it at install time."""
    subprocess.run([python, "-m", "compileall", "-q", _package_dir(python)], env=_env(None), capture_output=True,
                   check=True)


CLI_REPS = 5  # second `check` runs (the median is reported)


def start_default(cmd: list[str], root: str, cache_dir: str | None = None) -> LspClient:
    """A server with no settings at all (the defaults are what is measured)."""
    client = LspClient(cmd, cwd=root, env=_env(cache_dir))
    uri = Path(root).resolve().as_uri()
    _, resp = client.request("initialize", {
        "processId": os.getpid(), "rootUri": uri, "workspaceFolders": [{"uri": uri, "name": "bench"}],
        "capabilities": {"textDocument": {"publishDiagnostics": {"versionSupport": True}}}}, timeout=120)
    if "error" in resp:
        raise RuntimeError(resp["error"])
    client.notify("initialized", {})
    return client


def _pos(text: str, needle: str, after: int = 0) -> dict:
    i = text.index(needle) + after
    return {"line": text.count("\n", 0, i), "character": i - (text.rfind("\n", 0, i) + 1)}


class Doc:
    """An open document and one-character edits at a fixed place (inserted, then removed)."""

    def __init__(self, client: LspClient, path: str, needle: str, after: int):
        self.client, self.path = client, path
        self.uri = Path(path).resolve().as_uri()
        self.text = Path(path).read_text(encoding="utf-8")
        self.pos = _pos(self.text, needle, after)
        self.version = 1
        self.inserted = False

    def open(self, timeout: float = 120) -> float:
        mark = self.client.mark()
        t0 = self.client.notify("textDocument/didOpen", {"textDocument": {
            "uri": self.uri, "languageId": "python", "version": 1, "text": self.text}})
        stamp, _ = self.client.wait_for(is_diag(self.uri, 1), mark, timeout=timeout)
        return stamp - t0

    def edit(self) -> float:
        """Sends one edit; returns the time of sending."""
        self.version += 1
        start = dict(self.pos)
        end = {"line": start["line"], "character": start["character"] + (1 if self.inserted else 0)}
        change = {"range": {"start": start, "end": end}, "text": "" if self.inserted else "x"}
        self.inserted = not self.inserted
        return self.client.notify("textDocument/didChange", {"textDocument": {"uri": self.uri, "version": self.version},
                                                             "contentChanges": [change]})

    def edit_and_wait(self, timeout: float = 120) -> float:
        mark = self.client.mark()
        t0 = self.edit()
        stamp, _ = self.client.wait_for(is_diag(self.uri, self.version), mark, timeout=timeout)
        return stamp - t0


def _median_ms(xs: list[float]) -> float:
    return statistics.median(xs) * 1000 if xs else float("nan")


def _edits(c: LspClient, path: str, needle: str, reps: int, after: int | None = None) -> float:
    """Opens ``path``; the median of ``reps`` one-character edits at ``needle`` -> their diagnostics, in ms."""
    doc = Doc(c, path, needle, len(needle) - 1 if after is None else after)
    doc.open()
    return round(_median_ms([doc.edit_and_wait() for _ in range(reps)]), 1)


# --- sections ------------------------------------------------------------------------------------

def _settle(c: LspClient, quiet: float = 0.5, limit: float = 30.0) -> None:
    """Waits until the server has sent nothing for ``quiet`` seconds."""
    end = time.perf_counter() + limit
    seen = -1
    while time.perf_counter() < end:
        with c._lock:  # noqa: SLF001
            now = len(c._notifications)  # noqa: SLF001
        if now == seen:
            return
        seen = now
        time.sleep(quiet)


def typing(cmd: list[str], work: str, seconds: float = 4.0, every: float = 0.030) -> dict:
    cases = {}
    for label, make in (("400 lines", lambda d: generate(d, 400, "decorator")),
                        ("3,000 lines", lambda d: generate(d, 3000, "decorator")),
                        ("vendored entry (100 modules)", lambda d: projects.vendored(d))):
        root = os.path.join(work, "typing-" + label.split()[0].replace(",", ""))
        shutil.rmtree(root, ignore_errors=True)
        entry = make(root)
        c = start_default(cmd, root, os.path.join(work, "cache-typing"))
        try:
            doc = Doc(c, entry, "'meta_0'", len("'meta_0"))
            doc.open()
            _settle(c)  # the open's publishes of the closure's other files are not the typing's
            mark = c.mark()
            t_start = time.perf_counter()
            sent = []
            while time.perf_counter() - t_start < seconds:
                sent.append((doc.version + 1, doc.edit()))
                time.sleep(max(0.0, every - (time.perf_counter() - sent[-1][1])))
            last_version, t_last = sent[-1]
            stamp, _ = c.wait_for(is_diag(doc.uri, last_version), mark, timeout=120)
            window = stamp - t_start
            with c._lock:  # noqa: SLF001
                published = [(s, m["params"]) for s, m in c._notifications[mark:]  # noqa: SLF001
                             if m.get("method") == "textDocument/publishDiagnostics"]
            own = [p for _, p in published if p["uri"] == doc.uri]
            versions = [p.get("version") for p in own]
            # how far behind the newest edit each publish of the edited file was (ms of typing it lags)
            cases[label] = {
                "edits": len(sent), "seconds": round(window, 2),
                "publishes_per_s": round(len(published) / window, 1),
                "edited_file_publishes_per_s": round(len(own) / window, 1),
                "last_edit_to_diagnostics_ms": round((stamp - t_last) * 1000, 1),
                "versions_in_order": versions == sorted(versions),
            }
        finally:
            c.close()
    return cases


def vendored(cmd: list[str], python: str, work: str, reps: int) -> dict:
    out: dict = {}
    root = os.path.join(work, "vendored")
    single = os.path.join(work, "single")
    for d in (root, single):
        shutil.rmtree(d, ignore_errors=True)
    entry = projects.vendored(root)
    single_entry = projects.vendored(single, library=False)
    helper = projects.vendored_helper(root)
    out["python_lines"] = sum(Path(dp, f).read_text(encoding="utf-8").count("\n")
                              for dp, _, fs in os.walk(root) for f in fs if f.endswith(".py"))
    out["modules"] = sum(1 for dp, _, fs in os.walk(root) for f in fs if f.endswith(".py"))
    cache = os.path.join(work, "cache-vendored")
    shutil.rmtree(cache, ignore_errors=True)
    # open -> diagnostics: cold (empty cache), then warm (what the cold run left)
    for label in ("open_cold_ms", "open_warm_ms"):
        c = start_default(cmd, root, cache)
        try:
            out[label] = round(Doc(c, entry, "'meta_0'", len("'meta_0")).open() * 1000, 1)
        finally:
            c.close()
    c = start_default(cmd, root, cache)
    try:
        out["entry_edit_ms"] = _edits(c, entry, "'meta_0'", reps)
        out["helper_edit_ms"] = _edits(c, helper, "    return arr\n", reps, after=len("    return ar"))
        out["peak_rss_mb"] = round(c.peak_rss_mb() or 0, 1)
    finally:
        c.close()
    c = start_default(cmd, single, cache)
    try:
        out["single_module_entry_edit_ms"] = _edits(c, single_entry, "'meta_0'", reps)
    finally:
        c.close()
    out["entry_edit_ratio"] = round(out["entry_edit_ms"] / out["single_module_entry_edit_ms"], 2)
    # the CLI with its bytecode (as installed): a first run, then second runs that read the persistent cache
    env = _env(cache)
    seconds = []
    for _ in range(1 + CLI_REPS):
        t0 = time.perf_counter()
        subprocess.run([python, "-m", "tensorleap_ls", "check", root], env=env, capture_output=True)
        seconds.append(time.perf_counter() - t0)
    out["check_first_s"] = round(seconds[0], 3)
    out["check_second_s"] = round(statistics.median(seconds[1:]), 3)
    return out


def adversarial(python: str, work: str) -> dict:
    out = {}
    for name, (gen, size, _) in projects.ADVERSARIAL.items():
        root = os.path.join(work, "adv-" + name)
        shutil.rmtree(root, ignore_errors=True)
        gen(root, size)
        code = ("import sys, time; from tensorleap_ls.core.engine.analysis import Analyzer; t = time.perf_counter(); "
                "pa = Analyzer().analyze_path(sys.argv[1]); "
                "print(time.perf_counter() - t, len(pa[0].project.modules), len(pa[0].bindings), len(pa[0].findings))")
        res = subprocess.run([python, "-c", code, root], env=_env(None), capture_output=True, text=True)
        if res.returncode != 0:
            out[name] = {"size": size, "error": res.stderr.strip().splitlines()[-1:]}
            continue
        seconds, modules, bindings, findings = res.stdout.split()
        out[name] = {"size": size, "seconds": round(float(seconds), 3), "modules": int(modules),
                     "bindings": int(bindings), "findings": int(findings)}
    return out


def render(results: dict) -> str:
    lines = ["## The engine at the default settings (bench/engine.py)", ""]
    v = results.get("vendored")
    if v:
        lines += [f"Generated vendored-library project: {v['modules']} modules, {v['python_lines']:,} lines of Python "
                  f"(bench/projects.py). Median of the edits; open and the first check are single runs, the second "
                  f"check the median of {CLI_REPS} runs; the server and the CLI run with the package's bytecode, as an install has it "
                  "(compileall first: this sandbox's PYTHONDONTWRITEBYTECODE=1 would compile every module on every run).", "",
                  "| figure | measured | target |", "|---|---|---|",
                  f"| didOpen entry -> diagnostics, cold | {v['open_cold_ms']} ms | <= 1000 ms |",
                  f"| didOpen entry -> diagnostics, warm cache | {v['open_warm_ms']} ms | <= 300 ms |",
                  f"| edit in the entry -> diagnostics | {v['entry_edit_ms']} ms (one-module project: "
                  f"{v['single_module_entry_edit_ms']} ms, x{v['entry_edit_ratio']}) | <= 3x |",
                  f"| edit in a helper module -> diagnostics | {v['helper_edit_ms']} ms | <= 30 ms |",
                  f"| `check`, first run | {v['check_first_s']} s | |",
                  f"| `check`, second run (persistent cache) | {v['check_second_s']} s | <= 0.3 s |",
                  f"| peak RSS of the server | {v['peak_rss_mb']} MB | <= 80 MB |", ""]
    a = results.get("adversarial")
    if a:
        lines += ["Adversarial projects (bench/projects.py), one full analysis in process:", "",
                  "| project | size | modules | bindings | findings | seconds |", "|---|---|---|---|---|---|"]
        for name, r in a.items():
            if "error" in r:
                lines.append(f"| {name} | {r['size']} | | | | failed: {r['error']} |")
            else:
                lines.append(f"| {name} | {r['size']} | {r['modules']} | {r['bindings']} | {r['findings']} | {r['seconds']} |")
        lines.append("")
    t = results.get("typing")
    if t:
        lines += ["Fast typing: an edit every 30 ms (default settings: coalescing, no debounce):", "",
                  "| document | edits | publishes/s (all files) | publishes/s (edited file) | last edit -> its diagnostics | versions in order |",
                  "|---|---|---|---|---|---|"]
        for label, r in t.items():
            lines.append(f"| {label} | {r['edits']} | {r['publishes_per_s']} | {r['edited_file_publishes_per_s']} | "
                         f"{r['last_edit_to_diagnostics_ms']} ms | {r['versions_in_order']} |")
        lines.append("")
    return "\n".join(lines)


def run(python: str, sections: list[str], reps: int = 20) -> dict:
    cmd = _launcher(python)
    _compile(python)
    work = tempfile.mkdtemp(prefix="tlengine-")
    results: dict = {}
    try:
        if "vendored" in sections:
            results["vendored"] = vendored(cmd, python, work, reps)
        if "adversarial" in sections:
            results["adversarial"] = adversarial(python, work)
        if "typing" in sections:
            results["typing"] = typing(cmd, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return results


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sections", nargs="*", default=["vendored", "adversarial", "typing"])
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--json", default=None)
    ap.add_argument("--results", default=None, help="RESULTS.md whose engine section is replaced")
    args = ap.parse_args()
    results = run(args.python, args.sections, args.reps)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1), encoding="utf-8")
    text = render(results)
    print(text)
    if args.results:
        path = Path(args.results)
        old = path.read_text(encoding="utf-8") if path.exists() else ""
        begin, end = "<!-- engine:begin -->", "<!-- engine:end -->"
        if begin in old and end in old:
            new = old[:old.index(begin) + len(begin)] + "\n" + text + "\n" + old[old.index(end):]
        else:
            new = old + f"\n{begin}\n{text}\n{end}\n"
        path.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

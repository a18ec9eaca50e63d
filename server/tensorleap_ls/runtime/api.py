"""The one door of the runtime: ``lsp/`` and ``cli.py`` import nothing else of it (a test scans
their imports).

    dynamic_findings(root, entry, *, python=None, samples=5, ...) -> list[Finding]      (CLI)
    preview_sample(root, entry, subset, sample_id, out_dir, *, python=None, ...) -> dict  (CLI)
    run_checks / preview / subsets (runner, python, root, entry, ..., events=Events(...))  (server, warm runner)
    run_summary(problems, stats, rechecked) -> str: what a run checked, said to the user
    choose, set_policy, probe, interpreter_failure, skeleton_model                       (interpreters, trust gate)
    model_facts, find_models, read_model                                                 (model files)
    debug_sample(python, root, entry, subset, sample, ...) -> DebugRun                   (debugging one sample)
    scan(root, entry, ScanOptions(...), ...) -> ScanResult; scan_findings, scan_report   (data-set scan)

User code runs only in the child process (the ``tensorleap_ls_child`` package) of the chosen
interpreter; what it answers is parsed into the dataclasses of its ``protocol`` module here.
Everything here blocks (subprocesses, pipes): the server calls it off the event loop.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from typing import TYPE_CHECKING, Any, Callable

from tensorleap_ls.core.fixdata import Install, RunSample, to_json
from tensorleap_ls.core.model import Finding, Severity, Span
from tensorleap_ls.runtime import interpreter, model_info
from tensorleap_ls.core.codes import RUN_IMPORT_FAILED, RUN_INTERPRETER

if TYPE_CHECKING:
    from tensorleap_ls.runtime import debug
    from tensorleap_ls.runtime.child.tensorleap_ls_child import protocol
    from tensorleap_ls.runtime.runner import ChildFault, Events, Runner
    from tensorleap_ls.runtime.scan.run import Options as ScanOptions, Result as ScanResult

# The runner, the child's protocol, debug, render and the scan are imported where they are used (or on first
# access of these names: ``api.Runner``...): a static ``check`` and the server's start import none of them.
_LAZY = {"Runner": ("tensorleap_ls.runtime.runner", "Runner"), "Limits": ("tensorleap_ls.runtime.runner", "Limits"),
         "Events": ("tensorleap_ls.runtime.runner", "Events"), "ChildFault": ("tensorleap_ls.runtime.runner", "ChildFault"),
         "protocol": ("tensorleap_ls.runtime.child.tensorleap_ls_child.protocol", None),
         "DebugRun": ("tensorleap_ls.runtime.debug", "DebugRun"), "DebugFailed": ("tensorleap_ls.runtime.debug", "DebugFailed"),
         "ScanOptions": ("tensorleap_ls.runtime.scan.run", "Options"), "ScanResult": ("tensorleap_ls.runtime.scan.run", "Result"),
         "scan_cores": ("tensorleap_ls.runtime.scan.run", "cores"), "scan_report": ("tensorleap_ls.runtime.scan.report", None)}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    module, attr = _LAZY[name]
    value = importlib.import_module(module)
    return value if attr is None else getattr(value, attr)

Progress = Callable[[str], None]

# --- interpreters and model files: what the server and the CLI use, through this door ----------------
choose = interpreter.choose  # which interpreter runs a project
chosen = interpreter.chosen  # ... and where it comes from ("setting", "venv", "fallback")
venv_line = interpreter.venv_line  # the command that creates a project's .venv with its requirements
set_policy = interpreter.set_policy  # the trust gate's policy: the server sets its client's trust
probe = interpreter.probe  # an interpreter's version and packages (runs it: trusted workspaces only)
popen = interpreter.popen  # a helper process that runs no user code (the analysis' compile worker)
model_facts = model_info.load_facts  # the model file's facts for the TL6xx checks
find_models = model_info.find_models
read_model = model_info.read


def line_span(path: str | None, line: int | None, fallback: str) -> Span:
    """The whole (stripped) source line ``line`` (1-based) of ``path``; the fallback file's first line."""
    target = path if path and os.path.isfile(path) else fallback
    line0 = max((line or 1) - 1, 0) if target == path else 0
    try:
        with open(target, encoding="utf-8", errors="replace") as f:  # (no pathlib: a static check's start)
            lines = f.read().split("\n")
    except OSError:
        return Span.point(target)
    line0 = min(line0, max(len(lines) - 1, 0))
    text = lines[line0] if lines else ""
    start = len(text) - len(text.lstrip())
    return Span(os.path.normpath(target), line0, start, line0, len(text.rstrip()))


def to_finding(p: protocol.Problem, entry: str) -> Finding:
    """A finding the child reported (at the user's line, else the entry's first line)."""
    where = {k: v for k, v in (("sample", p.sample), ("subset", p.subset)) if v is not None}
    return Finding(p.code or RUN_IMPORT_FAILED, p.message, line_span(p.file, p.line, entry),
                   data=RunSample(**where) if where else None)


def fault_finding(fault: ChildFault, entry: str) -> Finding:
    file, line = fault.where if fault.where else (None, None)
    return Finding(fault.code, fault.message[:2000], line_span(file, line, entry))


def interpreter_finding(python: str, root: str, entry: str, source: str | None = None) -> Finding | None:
    """TL534 when ``python`` cannot run the integration; with the install command when that is the fix.
    ``source`` "fallback" (the project has no interpreter of its own: the server's was used): a warning
    whose message offers a project .venv instead of installing into that interpreter."""
    why = interpreter.problem(python, root)
    if not why:
        return None
    if source == "fallback":
        venv = interpreter.venv_line(root)
        why = (f"This project has no interpreter of its own (no .venv or venv, no tensorleap.interpreter), and "
               f"{python} cannot run it: {why.split(' (', 1)[0]}. "
               + (f"Create a .venv with the project's requirements: {venv}" if venv else
                  "Create a virtual environment with Python 3.8-3.12 and the project's requirements")
               + ", or pick an interpreter.")
        return Finding(RUN_INTERPRETER, why, line_span(None, None, entry), severity=Severity.WARNING,
                       data=Install(venv, venv=True) if venv else None)
    line = interpreter.install_line(python, root)
    return Finding(RUN_INTERPRETER, why, line_span(None, None, entry), data=Install(line) if line in why else None)


def interpreter_failure(python: str, root: str, entry: str, source: str | None = None) -> tuple[dict, Finding] | None:
    """None when ``python`` can run the integration; else the failure for the client, naming what is
    missing (with the exact install line, or the command that creates a project .venv when the project
    has no interpreter of its own), and its TL534 finding."""
    from tensorleap_ls.core.project.requirements import distributions_for

    bad = interpreter_finding(python, root, entry, source)
    if bad is None:
        return None
    interpreter.problem.cache_clear()  # the user may install what is missing and try again
    interpreter.has_pip.cache_clear()
    info = interpreter.probe(python)
    reason = {"kind": "interpreter", "role": "project", "interpreter": python, "version": info.get("version"),
              "missing": info["missing"], "packages": [distributions_for(m)[0] for m in info["missing"]],
              "error": info.get("error"), "source": source or "setting",
              "install": interpreter.install_line(python, root) if info["missing"] and not info.get("error") else None,
              "create_venv": interpreter.venv_line(root) if source == "fallback" else None, "root": root}
    return {"ok": False, "message": bad.message, "reason": reason,
            "problems": [{"code": RUN_INTERPRETER, "message": bad.message, **to_json(bad.data)}]}, bad


def skeleton_model(python: str, folder: str) -> tuple[str | None, str | None]:
    """A tiny ONNX model (base64) built by ``python`` for a new project, or (None, why not)."""
    import subprocess

    from tensorleap_ls.core.fixes import stubs
    from tensorleap_ls.runtime.runner import run_script

    try:
        out = run_script(python, stubs.MODEL_SCRIPT, root=folder, timeout=120,  # limited, guarded, gated
                         env={"PATH": os.environ.get("PATH", "")})
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, str(e)
    return (out.stdout.strip(), None) if out.returncode == 0 else (None, out.stderr.strip()[-500:])


def run_checks(runner: Runner, python: str, root: str, entry: str, samples: int, progress: Progress | None = None,
               cancel: threading.Event | None = None, auth_secret: str | None = None, events: Events | None = None,
               also: list | None = None, functions: list[str] | None = None,
               subsets: list[str] | None = None) -> tuple[list[Finding], dict]:
    """Dynamic checks through a (possibly warm) runner; faults become findings, never exceptions.
    ``also``: [subset, sample id] pairs checked besides the picked samples (samples a preview or an
    earlier run saw fail: a run never reports "no problem" without looking at them again).
    ``functions`` / ``subsets``: just these (Python or registered names; subset names); None: all."""
    from tensorleap_ls.runtime.child.tensorleap_ls_child import protocol
    from tensorleap_ls.runtime.runner import CANCELLED, ChildFault, Events

    bad = interpreter_finding(python, root, entry)
    if bad:
        return [bad], {}
    stats: dict[str, Any] = {"samples_per_subset": samples}

    def on_progress(msg: protocol.Progress) -> None:
        if progress and msg.total:
            progress(f"{msg.progress}/{msg.total} samples")
        if events is not None and events.progress is not None:
            events.progress(msg)

    try:
        resp = _call(runner, python, root, entry, protocol.Check(samples=samples, seed=0, progress_every=1,
                                                                   also=list(also or []), functions=functions,
                                                                   subsets=subsets),
                     cancel=cancel, events=Events(progress=on_progress, output=events.output if events else None),
                     auth_secret=auth_secret)
    except ChildFault as fault:
        if fault.code == CANCELLED:
            return [], {"cancelled": True}
        return [fault_finding(fault, entry)], stats
    assert isinstance(resp, protocol.Checked)
    findings = [to_finding(f, entry) for f in resp.findings]
    if resp.exit:
        runner.invalidate(root)
    if not resp.ok and not findings:
        findings.append(Finding(RUN_IMPORT_FAILED, resp.message or "the dynamic checks failed", line_span(None, None, entry)))
    observed = None if resp.observed is None else [[o.kind, o.name, o.seen] for o in resp.observed if o.seen]
    stats = {"calls": resp.calls, "user_seconds": resp.user_seconds, "total_seconds": resp.total_seconds,
             "samples": resp.samples, "observed": observed, "samples_per_subset": samples,
             "counts": resp.counts, "also": resp.also, "not_called": resp.not_called,
             "values": [o.to_wire() for o in resp.observed or [] if o.samples],  # inlay hints
             "internal": None if resp.failures is None else [p.to_wire() for p in resp.failures]}
    findings = model_info.with_run_findings(findings, python, root, entry, observed)  # TL610/TL611
    return findings, stats


def run_summary(problems: int, stats: dict, rechecked: list[dict] | None = None) -> str:
    """What a run did, in one line: how many problems, on how many samples of how many (per subset), and
    what became of the samples seen failing earlier in the session (``rechecked``: {"subset", "sample",
    "message", "passes"}). A run never says "no problem" without saying how much it looked at."""
    head = f"{problems} problem{'' if problems == 1 else 's'} found" if problems else "no problem found"
    counts = stats.get("counts") or []
    if not counts:
        return f"{head} (the run stopped before it checked samples)" if problems else head
    checked, total = sum(c.get("checked", 0) for c in counts), sum(c.get("of", 0) for c in counts)
    scope = f"all {total:,} samples" if checked >= total else f"{checked:,} of {total:,} samples"
    per = ", ".join(f"{c.get('subset')} {c.get('checked', 0):,} of {c.get('of', 0):,}" for c in counts)
    text = f"{head} on {scope} ({per})"
    n = stats.get("samples_per_subset")
    if checked < total and n:
        text += f"; {n} per subset (setting tensorleap.samplesPerSubset, 0 = all)"
    for r in rechecked or []:
        where = f"{r.get('subset')} sample {r.get('sample')!r}"
        if r.get("passes"):
            text += f"; {where}, which failed earlier ({r.get('message')}), passes now"
        else:
            text += f"; {where} still fails ({r.get('message')})"
    if stats.get("not_called"):
        text += (f"; {stats['not_called']} call(s) skipped: their function had exceeded its time limit "
                 "(setting tensorleap.timeoutSeconds)")
    return text


def _call(runner: Runner, python: str, root: str, entry: str, req: protocol.Request, **kw: Any) -> protocol.Reply:
    """One request; a run the server restarted because the project changed (a save) is run
    again on the new code, once, instead of being reported as a crash."""
    from tensorleap_ls.runtime.runner import CANCELLED, RESTARTED, ChildFault

    timeout = max(runner.limits.timeout_s, runner.limits.preprocess_timeout_s) + 5
    try:
        return runner.call(python, root, entry, req, timeout=timeout, **kw)
    except ChildFault as fault:
        if fault.code != RESTARTED:
            raise
    try:
        return runner.call(python, root, entry, req, timeout=timeout, **kw)
    except ChildFault as fault:
        if fault.code == RESTARTED:  # changed again: say so, as information, not as a crash
            raise ChildFault(CANCELLED, fault.message) from None
        raise


def dynamic_findings(root: str, entry: str, *, python: str | None = None, samples: int = 5, timeout_s: float = 30.0,
                     preprocess_timeout_s: float = 300.0, memory_mb: int = 4096, progress: Progress | None = None,
                     env: dict | None = None) -> list[Finding]:
    from tensorleap_ls.runtime.runner import Limits, Runner

    runner = Runner(Limits(timeout_s=timeout_s, preprocess_timeout_s=preprocess_timeout_s, memory_mb=memory_mb))
    try:
        findings, _ = run_checks(runner, interpreter.choose(root, python), root, entry, samples, progress,
                                 auth_secret=(env or {}).get("AUTH_SECRET"))
        return findings
    finally:
        runner.close()


MAX_PREVIEW_BYTES = 8 * 1024 * 1024  # PNG bytes of one preview (the HTML page embeds them once more)


def preview(runner: Runner, python: str, root: str, entry: str, subset: str, sample_id: Any,
            functions: dict[str, list] | None = None, auth_secret: str | None = None,
            cancel: threading.Event | None = None, events: Events | None = None) -> dict:
    """A preview summary (strict JSON-able) with rendered PNGs and an HTML page, bounded in size."""
    from tensorleap_ls.runtime import render
    from tensorleap_ls.runtime.child.tensorleap_ls_child import protocol
    from tensorleap_ls.runtime.runner import CANCELLED, ChildFault

    bad = interpreter_finding(python, root, entry)
    if bad:
        return {"ok": False, "message": bad.message, "problems": [{"code": RUN_INTERPRETER, "message": bad.message, **to_json(bad.data)}]}
    try:
        resp = _call(runner, python, root, entry, protocol.Preview(
            subset=subset, sample_id=sample_id, loaders=[f for f, (k, _) in (functions or {}).items() if k == "load_model"],
            functions=functions or {}, run_test=True),
                     auth_secret=auth_secret, cancel=cancel, events=events)
    except ChildFault as fault:
        if fault.code == CANCELLED:
            return {"ok": False, "cancelled": True, "message": fault.message, "problems": []}
        f = fault_finding(fault, entry)
        return {"ok": False, "message": f.message, "problems": [{"code": f.code, "message": f.message,
                                                                 "file": f.span.path, "line": f.span.line + 1}]}
    assert isinstance(resp, protocol.Previewed)
    if not resp.ok:
        problems = [p.to_wire() for p in resp.findings] or [{"message": resp.message or "preview failed"}]
        return {"ok": False, "message": resp.message or problems[0].get("message"), "problems": problems}
    model = model_info.run_findings(python, root, entry, predictions=resp.predictions)  # TL603
    resp.problems += [protocol.Problem(code=f.code, message=f.message, file=f.span.path, line=f.span.line + 1)
                      for f in model]
    out = resp.payload()  # the display values stay JSON: the page and the panel render them
    images = render.images_of(out)
    total, kept = 0, {}
    for key, png in images.items():
        total += len(png)
        if total > MAX_PREVIEW_BYTES:
            out.setdefault("reduced", []).append(f"{key}: not shown, the preview reached {MAX_PREVIEW_BYTES >> 20} MB")
            continue
        kept[key] = png
    out["html"] = render.html_page(out, kept)
    out["images"] = kept
    return out


def preview_sample(root: str, entry: str, subset: str, sample_id: Any, out_dir: str, *, python: str | None = None,
                   timeout_s: float = 30.0, preprocess_timeout_s: float = 300.0, memory_mb: int = 4096,
                   functions: dict[str, list] | None = None) -> dict:
    """CLI: writes index.html, summary.json and one PNG per image into ``out_dir``."""
    from tensorleap_ls.runtime import render
    from tensorleap_ls.runtime.child.tensorleap_ls_child import wire
    from tensorleap_ls.runtime.runner import Limits, Runner

    if functions is None:
        functions = static_functions(root, entry)
    runner = Runner(Limits(timeout_s=timeout_s, preprocess_timeout_s=preprocess_timeout_s, memory_mb=memory_mb))
    try:
        result = preview(runner, interpreter.choose(root, python), root, entry, subset, sample_id, functions)
    finally:
        runner.close()
    from pathlib import Path

    os.makedirs(out_dir, exist_ok=True)
    lines = []
    images = result.pop("images", {}) or {}
    used: set[str] = set()
    for key, png in images.items():
        name = safe_file_name(key.replace("/", "__"), ".png", used)
        Path(out_dir, name).write_bytes(png)
        lines.append(f"wrote {os.path.join(out_dir, name)}")
    page = result.pop("html", None) or render.html_page(result, {})
    Path(out_dir, "index.html").write_text(page, encoding="utf-8")
    # strict JSON: a NaN in a sample is the string "NaN" here, never a bare token
    Path(out_dir, "summary.json").write_text(wire.dumps(_strip_pixels(result), indent=1), encoding="utf-8")
    for p in result.get("problems", []):
        lines.append(f"problem: {p.get('code', p.get('type', ''))} {p.get('message', '')}")
    if not result.get("ok"):
        lines.append(f"preview failed: {result.get('message')}")
    result["lines"] = lines
    result["errors"] = not result.get("ok") or bool(result.get("problems"))
    return result


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_NAME = 100  # characters of a file name we write (file systems stop at 255 bytes)


def safe_file_name(name: str, suffix: str, used: set[str] | None = None) -> str:
    """A registered name as a file name: no NUL, path separator or other special character, no
    leading dot, bounded; shortened or altered names get a hash suffix, so two names never
    collide."""
    base = _UNSAFE.sub("_", name).strip("._") or "item"
    if base != name or len(base) > MAX_NAME:
        digest = hashlib.sha1(name.encode("utf-8", "surrogatepass")).hexdigest()[:10]
        base = f"{base[:MAX_NAME]}-{digest}"
    out = base + suffix
    if used is not None:
        n = 2
        while out in used:
            out = f"{base}-{n}{suffix}"
            n += 1
        used.add(out)
    return out


def _strip_pixels(obj: Any) -> Any:
    """summary.json keeps shapes and values, not the raw pixels (they are in the PNGs)."""
    if isinstance(obj, dict):
        return {k: ("<pixels>" if k == "data" and isinstance(v, str) and len(v) > 200 else _strip_pixels(v))
                for k, v in obj.items()}
    if isinstance(obj, list):
        return [_strip_pixels(v) for v in obj]
    return obj


def subsets(runner: Runner, python: str, root: str, entry: str, auth_secret: str | None = None,
            cancel: threading.Event | None = None, events: Events | None = None) -> list[protocol.Subset]:
    """The project's subsets (name, first sample ids...) from the child's cached preprocess; [] when
    preprocess fails (the preview then says why)."""
    from tensorleap_ls.runtime.child.tensorleap_ls_child import protocol
    from tensorleap_ls.runtime.runner import ChildFault

    try:
        resp = runner.call(python, root, entry, protocol.Preprocess(), timeout=runner.limits.preprocess_timeout_s + 5,
                           auth_secret=auth_secret, cancel=cancel, events=events)
    except ChildFault:
        return []
    assert isinstance(resp, protocol.Preprocessed)
    return resp.subsets


def static_functions(root: str, entry: str, bindings=None) -> dict[str, list]:
    """Function name -> [kind, registered name] from the static analysis: how the preview labels
    what the integration test produced, and which function loads the model."""
    if bindings is None:
        from tensorleap_ls.core.engine.analysis import Analyzer

        bindings = [b for pa in Analyzer().analyze_file(entry) for b in pa.bindings]
    return {b.function: [b.kind.value, b.name or b.function] for b in bindings if b.function}


def debug_sample(python: str, root: str, entry: str, subset: str, sample: Any, **kw: Any) -> debug.DebugRun:
    """The sample's harness under debugpy, listening for a DAP client (``debug.start``'s options); DebugFailed
    (with the reason for the user) when the interpreter cannot run the integration or debugpy cannot listen."""
    from tensorleap_ls.runtime import debug

    bad = interpreter_finding(python, root, entry)
    if bad:
        raise debug.DebugFailed(bad.message)
    return debug.start(python, root, entry, subset, sample, **kw)


# --- data-set scan (runtime/scan/): the CLI's `scan` and the server's `tensorleap.scan` -------------------------
# (ScanOptions, ScanResult, scan_cores, scan_report: module attributes on first access, see _LAZY)
def scan(root: str, entry: str, options: ScanOptions, *, python: str | None = None, project=None,
         progress: Callable[[int, int], None] | None = None, cancel: threading.Event | None = None,
         auth_secret: str | None = None, out: str | None = None) -> ScanResult:
    """Every sample of every subset through every function (runtime/scan/run.py); the interpreter chosen as for
    ``check``. ``out``: where summary.json and report.html go (default: the project's .tensorleap/scan)."""
    from tensorleap_ls.runtime.scan import cache as _scan_cache, report as scan_report, run as _scan

    python = interpreter.choose(root, python)
    bad = interpreter_finding(python, root, entry)
    if bad is not None:
        result = _scan.Result(root=root, entry=entry, python=python, backend=options.backend, workers=0, error=bad.message)
        result.failures.append({"subset": None, "sample_id": None, "function": None, "code": bad.code,
                                "message": bad.message})
    else:
        result = _scan.scan(root, entry, python, options, project=project, progress=progress, cancel=cancel,
                            auth_secret=auth_secret)
    result.report = scan_report.write(out or os.path.join(_scan_cache.folder(root), "scan"), scan_report.document(result))
    return result


def scan_findings(result: ScanResult) -> list[Finding]:
    """The diagnostics a scan feeds: one per function and check, with counts and the first sample ids."""
    from tensorleap_ls.runtime.scan import report as scan_report

    out = []
    for g in scan_report.grouped(result):
        data = RunSample(sample=g["sample_id"], subset=g["subset"]) if g["sample_id"] is not None else None
        out.append(Finding(g["code"], g["summary"][:4000], line_span(g["file"], g["line"], result.entry), data=data))
    return out

"""Dynamic checks and sample previews over LSP.

Commands ``tensorleap.runChecks`` ({uri}) and ``tensorleap.preview`` ({uri, subset, sampleId}),
a "Preview sample" CodeLens above encoders, metadata functions and visualizers, and checks on
save when ``dynamicChecksOnSave`` is set. User code runs only in the runtime's child process, and only
in a trusted workspace. The runtime is reached through ``runtime/api.py`` only, always off the event
loop (``off_loop`` / ``progress.stoppable``): it starts processes and waits on pipes. Each run reports
work-done progress with Cancel and forwards the user code's output (``lsp/progress.py``); its summary says
how many samples of how many it checked, and it checks again the samples the session saw fail. The state of the runs
(the warm runner, restarts, anchors of run-time findings) is the session's (``lsp/session.py``).
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import re
import threading
from typing import Any

import attrs
from lsprotocol import types as lsp
from pygls.uris import to_fs_path

from tensorleap_ls.core.model import Kind
from tensorleap_ls.core.project.closure import norm
from tensorleap_ls.core.checks.root_cause import absorb_test_failures, absorb_test_problems, anchor, still_true
from tensorleap_ls.lsp import inlay
from tensorleap_ls.lsp.convert import to_range
from tensorleap_ls.lsp.progress import Run, stoppable
from tensorleap_ls.lsp.session import Session, off_loop
from tensorleap_ls.runtime import api

UNTRUSTED = ("This workspace is not trusted: Tensorleap runs no user code here. Static checks keep working; "
             "trust the workspace to run dynamic checks and previews.")
_LENS_KINDS = (Kind.INPUT, Kind.GROUND_TRUTH, Kind.METADATA, Kind.VISUALIZER)


@attrs.define
class UriArgs:
    uri: str


@attrs.define
class FolderArgs:
    folder: str


@attrs.define
class PreviewArgs:
    uri: str
    subset: str = "training"
    sampleId: Any = None  # noqa: N815 - the wire name


_RUNNER_LOCK = threading.Lock()


def _runner(ls: Session) -> api.Runner:
    """The session's warm runner, replaced when the limits in the settings change.

    Called from worker threads: the lock keeps two first runs from each starting (and leaking) a runner."""
    limits = api.Limits(timeout_s=ls.settings.timeout_s, preprocess_timeout_s=ls.settings.preprocess_timeout_s,
                        memory_mb=ls.settings.memory_mb)
    with _RUNNER_LOCK:
        runner = ls.runner
        if runner is None or runner.limits != limits:
            if runner is not None:
                runner.close()
            runner = api.Runner(limits)
            ls.runner = runner
            atexit.register(runner.close)  # a client that disappears must not leave children behind
        return runner


def _project(ls: Session, uri: str):
    path = to_fs_path(uri)
    if path is None:
        return None
    analyses = ls.analyses_for(norm(path))
    return analyses[0] if analyses else None


def register(server: Session) -> None:
    @server.command("tensorleap.runChecks")
    async def run_checks(ls, args: UriArgs) -> dict:  # `ls` unannotated: pygls resolves hints at run time
        return await _run_checks(ls, args.uri, progress=True)

    @server.command("tensorleap.preview")
    async def preview(ls, args: PreviewArgs) -> dict:
        result = await _preview(ls, args)
        # the panel is fed by this notification: it carries the reason of a failure too (a cancelled
        # preview has nothing to show: whoever cancelled it knows)
        if not result.get("cancelled"):
            ls.protocol.notify("tensorleap/preview", panel_message(args, result))
        return result

    @server.command("tensorleap.newProjectFiles")
    async def new_project(ls, args: FolderArgs) -> dict:
        return await off_loop(lambda: _new_project(ls, args.folder))

    @server.command("tensorleap.environment")
    async def environment(ls, args: UriArgs) -> dict:
        return await off_loop(lambda: _environment(ls, args.uri))

    def on_save(ls: Session, uri: str) -> None:
        runner = ls.runner
        pa = _project(ls, uri)
        if runner is not None and pa is not None:
            ls.restarts[pa.project.root] = ls.restarts.get(pa.project.root, 0) + 1
            runner.invalidate(pa.project.root)  # the next run re-imports the edited code
        if ls.settings.dynamic_on_save and ls.settings.trusted and pa is not None:
            asyncio.get_running_loop().create_task(_run_checks(ls, uri, progress=False))

    def on_change(ls: Session, uri: str) -> None:
        path = to_fs_path(uri)
        text = ls.analyzer.read_text(path) if path else None
        if path is not None and text is not None:
            withdraw_stale(ls, norm(path), text)

    server.change_hooks.append(on_change)
    server.save_hooks.append(on_change)
    server.save_hooks.append(on_save)  # also called for files changed on disk (data files the code reads)

    @server.feature(lsp.SHUTDOWN)
    def shutdown(ls, params: None) -> None:
        if ls.runner is not None:
            ls.runner.close()  # kills any child still running user code
        ls.persist()

    server.code_lens_providers.append(_preview_lenses)


async def _preview(ls: Session, args: PreviewArgs) -> dict:
    if not ls.settings.trusted:
        return {"ok": False, "message": UNTRUSTED, "reason": {"kind": "untrusted"}}
    pa = _project(ls, args.uri)
    if pa is None:
        return {"ok": False, "message": "this file is not part of a Tensorleap integration (no leap.yaml or entry file)"}
    python, source = api.chosen(pa.project.root, ls.settings.interpreter)
    bad = await off_loop(lambda: api.interpreter_failure(python, pa.project.root, pa.project.entry, source))
    if bad:  # also a diagnostic with its fix (the install line in a terminal), as after a run
        _show_dynamic(ls, pa, [bad[1]])
        return bad[0]
    what = "the first sample" if args.sampleId is None else f"sample {args.sampleId!r}"
    run = Run(ls, f"Tensorleap: preview of {args.subset} {what}", args.uri)
    await run.begin(f"interpreter {python}")
    try:
        result = await _preview_run(ls, args, pa, python, run)
    except BaseException:
        run.end("failed")
        raise
    run.finish_output()
    if run.saw_output():
        result["output"] = run.output_tail()
    run.end("cancelled" if result.get("cancelled") else "shown" if result.get("ok") else
            f"failed: {str(result.get('message') or '')[:200]}")
    _remember_preview(ls, pa.project.root, result)
    return result


async def _preview_run(ls: Session, args: PreviewArgs, pa, python: str, run: Run) -> dict:
    root, entry = pa.project.root, pa.project.entry
    functions = api.static_functions(root, entry, pa.bindings)
    subsets = await stoppable(ls, run.cancel, lambda: api.subsets(_runner(ls), python, root, entry,
                                                                  ls.settings.auth_secret, run.cancel, run.events))
    if run.cancel.is_set():
        return {"ok": False, "cancelled": True, "message": "the preview was cancelled", "subset": args.subset,
                "sample_id": args.sampleId, "subsets": [s.name for s in subsets], "problems": []}
    sample = args.sampleId
    if sample is None:
        sample = next((s.first[0] for s in subsets if s.name == args.subset and s.first), 0)

    def work() -> dict:
        return api.preview(_runner(ls), python, root, entry, args.subset, sample, functions,
                           ls.settings.auth_secret, run.cancel, run.events)

    generation = ls.restarts.get(root, 0)
    result = await stoppable(ls, run.cancel, work)
    if not result.get("ok") and not run.cancel.is_set() and ls.restarts.get(root, 0) != generation:
        result = await stoppable(ls, run.cancel, work)  # a save restarted the child under it: not the user's fault
    images = result.pop("images", {}) or {}
    result["images"] = {k: base64.b64encode(v).decode("ascii") for k, v in images.items()}
    _strip_raw(result)
    result.setdefault("subset", args.subset)
    result.setdefault("sample_id", sample)
    if not result.get("subsets"):  # a failed run still knows the project's subsets (the panel's picker)
        result["subsets"] = [s.name for s in subsets]
    result["first"] = next((s.first[0] for s in subsets if s.name == args.subset and s.first), None)
    problems = absorb_test_problems(result.get("problems") or [])
    result["problems"] = [_locate(p, pa.bindings, args) for p in problems]
    if result.get("ok"):
        seen = inlay.from_preview(result)
        await off_loop(lambda: inlay.remember(ls, pa, seen, f"in the preview of {args.subset} sample {sample!r}"))
        inlay.refresh(ls)
    return result


def _remember_preview(ls: Session, root: str, result: dict) -> None:
    """A sample the preview saw fail is checked again by the next run, whose summary says how it went (a
    later preview that passes does not forget it: the run says "passes now", then forgets it)."""
    if result.get("cancelled") or result.get("reason"):
        return
    failing = [p for p in result.get("problems") or [] if p.get("code") and not p.get("internal")]
    key = (result.get("subset"), _sample_key(result.get("sample_id")))
    seen = ls.failures_seen.setdefault(root, {})
    if failing:
        p = failing[0]
        seen[key] = {"subset": key[0], "sample": result.get("sample_id"),
                     "message": f"{p.get('code')} {str(p.get('message') or '')[:120]}"}


def _sample_key(sample: Any) -> str:
    return repr(sample)


def panel_message(args: PreviewArgs, result: dict) -> dict:
    """What the preview panel needs, success or failure (the failure's reason included)."""
    keys = ("ok", "html", "message", "problems", "neighbors", "subsets", "reason", "first", "output")
    return {"uri": args.uri, "subset": result.get("subset", args.subset),
            "sample_id": result.get("sample_id", args.sampleId), **{k: result.get(k) for k in keys}}


_VALIDATION = re.compile(r"(\w+)\(\) validation failed")


def _locate(problem: dict, bindings, args: PreviewArgs) -> dict:
    """Names the user's function behind a problem and where it is defined (a link in the panel)."""
    p = {"subset": args.subset, **problem}
    m = _VALIDATION.search(p.get("message") or "")
    by_function = {b.function: b for b in bindings if b.function}
    by_name = {b.name: b for b in bindings if b.name}
    b = by_function.get(m.group(1)) if m else by_name.get(p.get("name"))
    if b is not None:
        p["function"] = b.function
        if b.def_span is not None:
            if p.get("file"):
                p["called_at"] = {"file": p["file"], "line": p.get("line")}
            p["file"], p["line"] = b.def_span.path, b.def_span.line + 1
    return p


def _environment(ls: Session, uri: str) -> dict:
    """Both interpreters and the SDK version (the status bar's tooltip, the new-project pin)."""
    import platform
    import sys

    root = None
    pa = _project(ls, uri) if uri else None
    if pa is not None:
        root = pa.project.root
    elif uri:
        root = to_fs_path(uri)
    python, source = api.chosen(root or ".", ls.settings.interpreter)
    out = {"server": {"interpreter": sys.executable, "version": platform.python_version()},
           "project": {"interpreter": python, "source": source, "version": None, "code_loader": None, "onnx": False},
           "trusted": ls.settings.trusted,
           # the command that makes the project's .venv with its requirements (nothing runs it here)
           "create_venv": api.venv_line(root) if root else None}
    if ls.settings.trusted:  # running the project interpreter is running the workspace's code
        info = api.probe(python)
        out["project"].update({k: info.get(k) for k in ("version", "code_loader", "onnx", "missing", "error")})
    return out


def _new_project(ls: Session, folder_uri: str) -> dict:
    """The files of a new project (the client writes them through a WorkspaceEdit the user asked for).
    In a trusted workspace the project interpreter is asked for its SDK version, and builds a tiny
    ONNX model when it has onnx and onnxruntime; otherwise code-loader 1.0.214 and a load_model stub.
    ``skipped``: the files not written, and why (a symlink on the way, a file already there)."""
    from tensorleap_ls.core.fixes import stubs
    from tensorleap_ls.core.source.files import unsafe_target

    folder = to_fs_path(folder_uri) or folder_uri
    python = api.choose(folder, ls.settings.interpreter)
    info: dict = {}
    model = None
    if ls.settings.trusted:  # the project interpreter runs only in a trusted workspace
        info = api.probe(python, ("code_loader", "numpy", "onnx", "onnxruntime"))
        if info.get("version") and not {"onnx", "onnxruntime", "numpy"} & set(info.get("missing") or []):
            model, why = api.skeleton_model(python, folder)
            if model is None:
                ls.log(f"building the skeleton's model with {python} failed: {why}")
    # only regular paths inside the folder: a cloned `model -> ../elsewhere` or a dangling
    # `requirements.txt` link gets nothing written through it, and the answer says so
    skipped = {rel: why for rel in (stubs.MODEL_FILE,) if model and (why := unsafe_target(folder, rel))}
    if skipped:
        model = None  # the entry gets the load_model stub instead of loading a file that is not there
    files = stubs.project_files(info.get("code_loader"), with_model=model is not None, python_version=info.get("version"))
    skipped.update({rel: why for rel in files if (why := unsafe_target(folder, rel))})
    return {"ok": True, "files": {rel: text for rel, text in files.items() if rel not in skipped},
            "binary": {stubs.MODEL_FILE: model} if model else {}, "skipped": skipped,
            "entry": "leap_integration.py", "sdk": info.get("code_loader") or stubs.DEFAULT_SDK,
            "interpreter": python, "model": model is not None, "trusted": ls.settings.trusted}


def withdraw_stale(ls: Session, path: str, text: str) -> None:
    """Run-time findings of ``path`` whose function changed are withdrawn; the others follow their function."""
    for root, pairs in list(ls.anchors.items()):
        if not any(f.span.path == path for f, _ in pairs):
            continue
        kept = []
        for f, where in pairs:
            g = f if f.span.path != path else still_true(f, where, text)
            if g is not None:
                kept.append((g, (where[0] + g.span.line - f.span.line, where[1]) if where and g is not f else where))
        if len(kept) != len(pairs) or any(a is not b for (a, _), (b, _) in zip(kept, pairs)):
            ls.anchors[root] = kept
            ls.extra_findings[root] = [f for f, _ in kept]
            ls.republish(root)


def _strip_raw(result: dict) -> None:
    """The structured result keeps shapes and values; raw pixels travel as PNGs."""
    for section in ("inputs", "ground_truths", "visualizers"):
        for item in result.get(section) or []:
            render = item.get("render")
            if isinstance(render, dict):
                render.pop("data", None)
                if isinstance(render.get("image"), dict):
                    render["image"].pop("data", None)


async def _run_checks(ls: Session, uri: str, progress: bool, only: Any = None) -> dict:
    """``only`` (the Test Explorer, ``lsp/testing.py``): ``.functions`` / ``.subsets`` to run (None: all), and
    ``.merge(previous, new, pa)``, the run-time findings to show after a run of part of the project."""
    if not ls.settings.trusted:  # the client shows the message (once), with the trust action
        return {"ok": False, "ran": False, "message": UNTRUSTED, "reason": {"kind": "untrusted"}}
    pa = _project(ls, uri)
    if pa is None:
        return {"ok": False, "ran": False,
                "message": "this file is not part of a Tensorleap integration (no leap.yaml or entry file)"}
    root, entry = pa.project.root, pa.project.entry
    python, source = api.chosen(root, ls.settings.interpreter)
    bad = await off_loop(lambda: api.interpreter_failure(python, root, entry, source))
    if bad:  # the message for the user, and a diagnostic whose fix opens a terminal with the install line
        _show_dynamic(ls, pa, [bad[1]])
        return {**bad[0], "ran": False}
    run = Run(ls, "Tensorleap: running the integration", uri, progress=progress)
    await run.begin(f"interpreter {python}")
    seen = dict(ls.failures_seen.get(root, {}))
    also = [[v["subset"], v["sample"]] for v in seen.values()]
    try:
        findings, stats = await stoppable(ls, run.cancel, lambda: api.run_checks(
            _runner(ls), python, root, entry, ls.settings.samples_per_subset, None, run.cancel,
            ls.settings.auth_secret, events=run.events, also=also,
            functions=only and only.functions, subsets=only and only.subsets))
    except BaseException:
        run.end("failed")
        raise
    run.finish_output()
    if (stats or {}).get("cancelled"):
        run.end("cancelled")
        return {"ok": False, "cancelled": True, "message": "the run was cancelled"}
    text_of = ls.analyzer.read_text
    findings = absorb_test_failures(findings, pa.bindings, text_of)
    ran = findings
    if only is not None:  # part of the project ran: what the rest showed stays
        findings = only.merge(ls.extra_findings.get(root, []), findings, pa)
    ls.anchors[root] = [(f, anchor(f, text_of)) for f in findings]
    for kind, name, shape in (stats or {}).get("observed") or []:
        ls.observations[(root, kind, name)] = shape
    await off_loop(lambda: inlay.remember(ls, pa, (stats or {}).get("values") or [], "by the dynamic checks ({samples} samples)"))
    inlay.refresh(ls)
    _show_dynamic(ls, pa, findings)
    rechecked = _remember_run(ls, root, ran, seen, (stats or {}).get("also") or [])
    summary = api.run_summary(len(ran), stats or {}, rechecked)
    run.end(summary)
    out = {"ok": True, "ran": True, "findings": len(findings), "codes": sorted({f.code for f in findings}),
           "summary": summary, "stats": stats, "output": run.saw_output()}
    if only is not None:
        out["ran_findings"] = ran
    return out


def _remember_run(ls: Session, root: str, findings: list, seen: dict, checked: list) -> list[dict]:
    """What became of the samples seen failing before this run (it checked them too); the samples this
    run saw fail are remembered for the next one."""
    failing: dict[tuple, Any] = {}
    for f in findings:
        d = f.data
        if getattr(d, "subset", None) is not None and getattr(d, "sample", None) is not None:
            failing.setdefault((d.subset, _sample_key(d.sample)), f)
    checked_keys = {(c[0], _sample_key(c[1])) for c in checked if isinstance(c, list) and len(c) == 2}
    out = []
    for key, v in seen.items():
        if key in checked_keys or key in failing:
            out.append({**v, "passes": key not in failing})
    remembered = ls.failures_seen.setdefault(root, {})
    for key in seen:
        if key in checked_keys and key not in failing:
            remembered.pop(key, None)
    for key, f in failing.items():
        remembered[key] = {"subset": key[0], "sample": f.data.sample, "message": f"{f.code} {f.message[:120]}"}
    return out


def _show_dynamic(ls: Session, pa, findings: list) -> None:
    root = pa.project.root
    ls.extra_findings[root] = [f for f in findings if f is not None]
    ls.latest.setdefault(f"{root}|{pa.project.entry}", pa)  # publish even if no file of the project is open
    ls.republish(root)


def _preview_lenses(ls: Session, path: str) -> list[lsp.CodeLens]:
    if not ls.settings.trusted:  # a preview runs the user's code: not offered in an untrusted workspace
        return []
    out = []
    seen = set()
    for pa in ls.analyses_for(path):
        for b in pa.bindings:
            if b.kind not in _LENS_KINDS or b.def_span is None or b.def_span.path != path or b.def_span.line in seen:
                continue
            seen.add(b.def_span.line)
            rng = to_range(b.def_span, ls.line_text, ls.encoding)
            out.append(lsp.CodeLens(range=rng, command=lsp.Command(
                title="▶ Preview sample", command="tensorleap.preview",
                arguments=[{"uri": lsp_uri(path), "subset": "training", "sampleId": None}])))
    return out


def lsp_uri(path: str) -> str:
    from pygls.uris import from_fs_path

    return from_fs_path(path) or path

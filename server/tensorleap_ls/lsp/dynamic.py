"""Dynamic checks and sample previews over LSP.

Commands ``tensorleap.runChecks`` ({uri}) and ``tensorleap.preview`` ({uri, subset, sampleId}),
a "Preview sample" CodeLens above encoders, metadata functions and visualizers, and checks on
save when ``dynamicOnSave`` is set. User code runs only in the runtime's child process, and only
in a trusted workspace.
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import threading
import uuid
from typing import TYPE_CHECKING, Any

import attrs
from lsprotocol import types as lsp
from pygls.uris import to_fs_path

from tensorleap_ls.core.model import Kind
from tensorleap_ls.core.project import norm
from tensorleap_ls.lsp.convert import to_range

if TYPE_CHECKING:
    from tensorleap_ls.lsp.server import TensorleapServer

UNTRUSTED = ("This workspace is not trusted: Tensorleap runs no user code here. Static checks keep working; "
             "trust the workspace to run dynamic checks and previews.")
_LENS_KINDS = (Kind.INPUT, Kind.GROUND_TRUTH, Kind.METADATA, Kind.VISUALIZER)


@attrs.define
class UriArgs:
    uri: str


@attrs.define
class PreviewArgs:
    uri: str
    subset: str = "training"
    sampleId: Any = None  # noqa: N815 - the wire name


def _runner(ls: "TensorleapServer"):
    from tensorleap_ls.runtime.api import Limits, Runner

    runner = getattr(ls, "runner", None)
    limits = Limits(timeout_s=ls.settings.timeout_s, preprocess_timeout_s=ls.settings.preprocess_timeout_s,
                    memory_mb=ls.settings.memory_mb)
    if runner is None or runner.limits != limits:
        if runner is not None:
            runner.close()
        runner = Runner(limits)
        ls.runner = runner
        atexit.register(runner.close)  # a client that disappears must not leave children behind
    return runner


def _project(ls: "TensorleapServer", uri: str):
    path = to_fs_path(uri)
    if path is None:
        return None
    analyses = ls.analyses_for(norm(path))
    return analyses[0] if analyses else None


def register(server: "TensorleapServer") -> None:
    @server.command("tensorleap.runChecks")
    async def run_checks(ls, args: UriArgs) -> dict:  # `ls` unannotated: pygls resolves hints at run time
        return await _run_checks(ls, args.uri, progress=True)

    @server.command("tensorleap.preview")
    async def preview(ls, args: PreviewArgs) -> dict:
        if not ls.settings.trusted:
            ls.window_show_message(lsp.ShowMessageParams(type=lsp.MessageType.Warning, message=UNTRUSTED))
            return {"ok": False, "message": UNTRUSTED}
        pa = _project(ls, args.uri)
        if pa is None:
            return {"ok": False, "message": "this file is not part of a Tensorleap integration"}
        from tensorleap_ls.runtime import api, interpreter

        python = interpreter.choose(pa.project.root, ls.settings.interpreter)
        functions = api.static_functions(pa.project.root, pa.project.entry, pa.bindings)
        sample = args.sampleId
        if sample is None:
            sample = await _first_sample(ls, python, pa, args.subset)
        cancel = threading.Event()
        result = await _stoppable(ls, cancel, lambda: api.preview(
            _runner(ls), python, pa.project.root, pa.project.entry, args.subset, sample, functions,
            ls.settings.auth_secret, cancel))
        images = result.pop("images", {}) or {}
        result["images"] = {k: base64.b64encode(v).decode("ascii") for k, v in images.items()}
        _strip_raw(result)
        ls.protocol.notify("tensorleap/preview", {"uri": args.uri, "subset": args.subset,
                                                  "sample_id": result.get("sample_id", sample),
                                                  "html": result.get("html", ""), "ok": result.get("ok", False),
                                                  "problems": result.get("problems", []),
                                                  "neighbors": result.get("neighbors"), "subsets": result.get("subsets")})
        return result

    def on_save(ls: "TensorleapServer", uri: str) -> None:
        runner = getattr(ls, "runner", None)
        pa = _project(ls, uri)
        if runner is not None and pa is not None:
            runner.invalidate(pa.project.root)  # the next run re-imports the edited code
        if ls.settings.dynamic_on_save and ls.settings.trusted and pa is not None:
            asyncio.get_running_loop().create_task(_run_checks(ls, uri, progress=False))

    server.save_hooks.append(on_save)  # also called for files changed on disk (data files the code reads)

    @server.feature(lsp.SHUTDOWN)
    def shutdown(ls, params: None) -> None:
        runner = getattr(ls, "runner", None)
        if runner is not None:
            runner.close()  # kills any child still running user code

    server.code_lens_providers.append(_preview_lenses)


def _strip_raw(result: dict) -> None:
    """The structured result keeps shapes and values; raw pixels travel as PNGs."""
    for section in ("inputs", "ground_truths", "visualizers"):
        for item in result.get(section) or []:
            render = item.get("render")
            if isinstance(render, dict):
                render.pop("data", None)
                if isinstance(render.get("image"), dict):
                    render["image"].pop("data", None)


async def _first_sample(ls, python, pa, subset: str):
    from tensorleap_ls.runtime import api

    return await asyncio.get_running_loop().run_in_executor(
        None, lambda: api.first_sample(_runner(ls), python, pa.project.root, pa.project.entry, subset))


async def _run_checks(ls: "TensorleapServer", uri: str, progress: bool) -> dict:
    if not ls.settings.trusted:
        ls.window_show_message(lsp.ShowMessageParams(type=lsp.MessageType.Warning, message=UNTRUSTED))
        return {"ok": False, "message": UNTRUSTED}
    pa = _project(ls, uri)
    if pa is None:
        return {"ok": False, "message": "this file is not part of a Tensorleap integration"}
    from tensorleap_ls.runtime import api, interpreter

    root, entry = pa.project.root, pa.project.entry
    python = interpreter.choose(root, ls.settings.interpreter)
    loop = asyncio.get_running_loop()
    cancel = threading.Event()
    token = str(uuid.uuid4())
    use_progress = progress and _supports_progress(ls)
    if use_progress:
        try:
            await ls.work_done_progress.create_async(token)
            ls.work_done_progress.begin(token, lsp.WorkDoneProgressBegin(
                title="Tensorleap: running the integration", message=f"interpreter {python}", cancellable=True,
                percentage=0))
            fut = ls.work_done_progress.tokens.get(token)
            if fut is not None:
                fut.add_done_callback(lambda f: cancel.set() if f.cancelled() else None)
        except Exception:  # noqa: BLE001 - progress is a nicety
            use_progress = False

    def report(msg: str) -> None:
        if use_progress:
            loop.call_soon_threadsafe(lambda: ls.work_done_progress.report(token, lsp.WorkDoneProgressReport(message=msg)))

    findings, stats = await _stoppable(ls, cancel, lambda: api.run_checks(
        _runner(ls), python, root, entry, ls.settings.samples_per_subset, report, cancel, ls.settings.auth_secret))
    if (stats or {}).get("cancelled"):
        if use_progress:
            ls.work_done_progress.end(token, lsp.WorkDoneProgressEnd(message="cancelled"))
        return {"ok": False, "cancelled": True, "message": "the run was cancelled"}
    ls.extra_findings[root] = findings
    for kind, name, seen in (stats or {}).get("observed") or []:
        ls.observations[(root, kind, name)] = seen
    ls.latest.setdefault(f"{root}|{entry}", pa)  # publish even if no file of the project is open
    ls.republish(root)
    summary = f"{len(findings)} problem(s) found on real samples" if findings else "no problem found on real samples"
    if use_progress:
        ls.work_done_progress.end(token, lsp.WorkDoneProgressEnd(message=summary))
    return {"ok": True, "findings": len(findings), "codes": sorted({f.code for f in findings}),
            "summary": summary, "stats": stats}


async def _stoppable(ls: "TensorleapServer", cancel: threading.Event, work):
    """Runs ``work`` off the event loop; when the request is cancelled the child running the
    user's code is stopped too, so the next request does not wait for the cancelled work.
    pygls runs a command under workspace/executeCommand, whose future (not this coroutine) a
    $/cancelRequest cancels: we watch that future (found through pygls 2's request-id context)."""
    proto = ls.protocol
    ctx = getattr(proto, "_ctx_msg_id", None)
    request = getattr(proto, "_request_futures", {}).get(ctx.get(None)) if ctx is not None else None
    if request is not None:
        request.add_done_callback(lambda f: cancel.set() if f.cancelled() else None)
    try:
        return await asyncio.get_running_loop().run_in_executor(None, work)
    except asyncio.CancelledError:
        cancel.set()
        raise


def _supports_progress(ls: "TensorleapServer") -> bool:
    window = ls.client_capabilities.window
    return bool(window and window.work_done_progress)


def _preview_lenses(ls: "TensorleapServer", path: str) -> list[lsp.CodeLens]:
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

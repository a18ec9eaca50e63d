"""The data-set scan over LSP: the ``tensorleap.scan`` command ({uri, subsets?, workers?, backend?, rayAddress?,
visualizers?}).

Trusted workspaces only. The scan runs off the event loop through ``runtime/api.py`` with LSP work-done progress
(samples done, samples/s) and can be cancelled from the progress notification or with ``$/cancelRequest``
(what was scanned stays in the cache). Its failures feed the diagnostics like the dynamic run's: one per
function and check, with the count and the first sample ids, withdrawn when their function is edited. The
reply carries the report (statistics, charts, grouped failures) that the editor's panel shows; the same
report is written to the project's ``.tensorleap/scan/`` (summary.json, report.html).
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid

import attrs
from lsprotocol import types as lsp

from tensorleap_ls.core.checks.root_cause import anchor
from tensorleap_ls.lsp import dynamic
from tensorleap_ls.lsp.session import Session, off_loop
from tensorleap_ls.runtime import api

PREFIX = "scan: "  # the diagnostics of a scan (api.scan_findings) say so: the next scan replaces them
MAX_FAILURES_SENT = 500  # failures listed in the reply (all of them are in summary.json; groups are complete)


@attrs.define
class ScanArgs:
    uri: str
    subsets: list[str] | None = None
    workers: int | None = None
    backend: str = "local"
    rayAddress: str | None = None  # noqa: N815 - the wire name
    visualizers: bool = False


def register(server: Session) -> None:
    @server.command("tensorleap.scan")
    async def scan(ls, args: ScanArgs) -> dict:
        return await run_scan(ls, args)


async def run_scan(ls: Session, args: ScanArgs) -> dict:
    if not ls.settings.trusted:
        return {"ok": False, "message": dynamic.UNTRUSTED, "reason": {"kind": "untrusted"}}
    if args.backend not in ("local", "ray") or (args.workers is not None and not 1 <= int(args.workers) <= 1024):
        return {"ok": False, "message": "backend must be 'local' or 'ray', workers between 1 and 1024"}
    pa = dynamic._project(ls, args.uri)
    if pa is None:
        return {"ok": False, "message": "this file is not part of a Tensorleap integration (no leap.yaml or entry file)"}
    root, entry = pa.project.root, pa.project.entry
    python = api.choose(root, ls.settings.interpreter)
    bad = await off_loop(lambda: api.interpreter_failure(python, root, entry))
    if bad:
        dynamic._show_dynamic(ls, pa, [bad[1]])
        return bad[0]
    cancel = threading.Event()
    progress = _Progress(ls, cancel)
    await progress.begin(f"Tensorleap: scanning the data set ({args.backend})")
    options = api.ScanOptions(subsets=args.subsets or None, workers=args.workers, backend=args.backend,
                              ray_address=args.rayAddress, visualizers=bool(args.visualizers),
                              limits=api.Limits(timeout_s=ls.settings.timeout_s, memory_mb=ls.settings.memory_mb,
                                                preprocess_timeout_s=ls.settings.preprocess_timeout_s))
    try:
        result = await dynamic._stoppable(ls, cancel, lambda: api.scan(
            root, entry, options, python=python, project=pa.project, progress=progress.report, cancel=cancel,
            auth_secret=ls.settings.auth_secret))
    except ValueError as e:  # an unknown subset
        progress.end(str(e))
        return {"ok": False, "message": str(e)}
    findings = api.scan_findings(result)
    _publish(ls, pa, findings)
    summary = (f"{result.samples:,} samples, {len(result.failures):,} failure(s)"
               + (" (cancelled)" if result.cancelled else ""))
    progress.end(summary)
    doc = api.scan_report.summary(api.scan_report.document(result))
    failures = doc["scan"]["failures"]
    doc["scan"]["failures"] = failures[:MAX_FAILURES_SENT]
    doc["scan"]["failures_total"] = len(failures)
    return {"ok": result.error is None, "cancelled": result.cancelled, "message": result.error or summary,
            "findings": len(findings), "report": result.report, "summary": doc, "uri": args.uri,
            "html": api.scan_report.body(doc)}


def _publish(ls: Session, pa, findings: list) -> None:
    """The scan's diagnostics replace the previous scan's; the dynamic run's stay."""
    root = pa.project.root
    kept = [f for f in ls.extra_findings.get(root, []) if not f.message.startswith(PREFIX)]
    text_of = ls.analyzer.read_text
    ls.anchors[root] = [(f, w) for f, w in ls.anchors.get(root, []) if not f.message.startswith(PREFIX)] + \
        [(f, anchor(f, text_of)) for f in findings]
    dynamic._show_dynamic(ls, pa, kept + findings)


class _Progress:
    """LSP work-done progress of one scan, cancellable; a client without it gets none."""

    def __init__(self, ls: Session, cancel: threading.Event):
        self.ls, self.cancel, self.token = ls, cancel, str(uuid.uuid4())
        self.on = False
        self.loop = asyncio.get_running_loop()
        self.t0 = time.monotonic()
        self.last = 0.0

    async def begin(self, title: str) -> None:
        if not dynamic._supports_progress(self.ls):
            return
        try:
            await self.ls.work_done_progress.create_async(self.token)
            self.ls.work_done_progress.begin(self.token, lsp.WorkDoneProgressBegin(
                title=title, message="preprocess", cancellable=True, percentage=0))
            fut = self.ls.work_done_progress.tokens.get(self.token)
            if fut is not None:
                fut.add_done_callback(lambda f: self.cancel.set() if f.cancelled() else None)
            self.on = True
        except Exception:  # noqa: BLE001 - progress is a nicety
            self.on = False

    def report(self, done: int, total: int) -> None:
        """From the scan's threads: at most every 0.2 s (and the last one)."""
        now = time.monotonic()
        if not self.on or (now - self.last < 0.2 and done < total):
            return
        self.last = now
        rate = done / max(now - self.t0, 1e-6)
        msg = f"{done:,}/{total:,} samples, {rate:,.0f}/s"
        pct = int(100 * done / total) if total else 0
        self.loop.call_soon_threadsafe(lambda: self.ls.work_done_progress.report(
            self.token, lsp.WorkDoneProgressReport(message=msg, percentage=pct, cancellable=True)))

    def end(self, message: str) -> None:
        if self.on:
            self.ls.work_done_progress.end(self.token, lsp.WorkDoneProgressEnd(message=message))

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

import time

import attrs

from tensorleap_ls.core.checks.root_cause import anchor
from tensorleap_ls.lsp import dynamic
from tensorleap_ls.lsp.progress import Run, stoppable
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
    python, source = api.chosen(root, ls.settings.interpreter)
    bad = await off_loop(lambda: api.interpreter_failure(python, root, entry, source))
    if bad:
        dynamic._show_dynamic(ls, pa, [bad[1]])
        return bad[0]
    run = Run(ls, f"Tensorleap: scanning the data set ({args.backend})", args.uri)
    await run.begin("preprocess")
    t0 = time.monotonic()

    def report(done: int, total: int) -> None:  # from the scan's threads (Run keeps the reports' pace)
        rate = done / max(time.monotonic() - t0, 1e-6)
        run.report(f"{done:,}/{total:,} samples, {rate:,.0f}/s", int(100 * done / total) if total else 0)

    options = api.ScanOptions(subsets=args.subsets or None, workers=args.workers, backend=args.backend,
                              ray_address=args.rayAddress, visualizers=bool(args.visualizers),
                              limits=api.Limits(timeout_s=ls.settings.timeout_s, memory_mb=ls.settings.memory_mb,
                                                preprocess_timeout_s=ls.settings.preprocess_timeout_s))
    try:
        result = await stoppable(ls, run.cancel, lambda: api.scan(
            root, entry, options, python=python, project=pa.project, progress=report, cancel=run.cancel,
            auth_secret=ls.settings.auth_secret))
    except ValueError as e:  # an unknown subset
        run.end(str(e))
        return {"ok": False, "message": str(e)}
    except BaseException:
        run.end("failed")
        raise
    findings = api.scan_findings(result)
    _publish(ls, pa, findings)
    summary = (f"{result.samples:,} samples, {len(result.failures):,} failure(s)"
               + (" (cancelled)" if result.cancelled else ""))
    run.end(summary)
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

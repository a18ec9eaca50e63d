"""One run of user code as the editor shows it: LSP work-done progress with a sample counter and
Cancel, and the user code's stdout/stderr in the client's output channel.

Any feature that runs user code through ``runtime/api`` (checks, previews; a scan or a debug session
too) uses it the same way::

    run = Run(ls, "Tensorleap: running the integration", uri)
    await run.begin(f"interpreter {python}")
    result = await stoppable(ls, run.cancel, lambda: api.run_checks(..., cancel=run.cancel, events=run.events))
    run.end("no problem found on 10 of 70,000 samples")

- The token is the client's (``ExecuteCommandParams.workDoneToken``: the VS Code extension shows it as
  a notification with a Cancel button), else one the server creates (``window/workDoneProgress/create``)
  when the client supports it, else none (the output is still forwarded).
- Cancel: ``window/workDoneProgress/cancel``, ``$/cancelRequest`` of the command (``stoppable``), or
  ``run.cancel.set()``; the runner then kills the child and the next request gets a fresh one.
- ``run.events`` (``api.Events``) is called from the runner's reader threads: progress becomes
  ``$/progress`` reports ("3/10 samples · input 'image' on training sample 7", a percentage), at most
  ``REPORTS_PER_S`` a second; the output becomes ``tensorleap/output`` notifications
  ``{uri, run, title, text}`` (at most ``OUTPUT_CAP`` bytes a run, then one line saying how much was
  left out); ``run.output_tail()`` keeps the last ``TAIL`` characters for the preview panel.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from typing import Any, Callable

from lsprotocol import types as lsp

from tensorleap_ls.lsp.protocol import WORK_DONE_TOKEN
from tensorleap_ls.lsp.session import Session, off_loop
from tensorleap_ls.runtime import api

OUTPUT_CAP = 64 * 1024  # characters of user output forwarded per run (the child's own cap is 64 KB too)
TAIL = 8 * 1024  # characters of output the preview panel shows
REPORTS_PER_S = 8
OUTPUT_METHOD = "tensorleap/output"


def progress_text(p: api.protocol.Progress) -> tuple[str, int | None]:
    """The report's message and percentage: the sample counter, then the call that runs."""
    parts = []
    if p.total:
        parts.append(f"{min(p.progress, p.total)}/{p.total} samples")
    if p.what:
        at = f" on {p.subset} sample {p.sample!r}" if p.subset is not None and p.sample is not None else ""
        parts.append(f"{p.what}{at}")
    elif p.phase:
        parts.append(p.phase)
    pct = int(100 * min(p.progress, p.total) / p.total) if p.total else None
    return " · ".join(parts), pct


class Run:
    def __init__(self, ls: Session, title: str, uri: str | None = None, progress: bool = True):
        self.ls, self.title, self.uri = ls, title, uri
        self.id = str(uuid.uuid4())
        self.cancel = threading.Event()
        self.token: Any = WORK_DONE_TOKEN.get() if progress else None
        self._want_progress = progress
        self._loop = asyncio.get_running_loop()
        self._sent = 0
        self._dropped = 0
        self._tail = ""
        self._last_report = 0.0
        self._pending: tuple[str, int | None] | None = None
        self._lock = threading.Lock()
        self.events = api.Events(progress=self._on_progress, output=self._on_output)

    # --- progress -----------------------------------------------------------------------------
    async def begin(self, message: str = "") -> None:
        ls = self.ls
        if self._want_progress and self.token is None and _server_progress(ls):
            token = f"tensorleap-{self.id}"
            try:
                await ls.work_done_progress.create_async(token)
                self.token = token
            except Exception:  # noqa: BLE001 - progress is a nicety
                self.token = None
        if self.token is None:
            return
        try:
            ls.work_done_progress.begin(self.token, lsp.WorkDoneProgressBegin(
                title=self.title, message=message or None, cancellable=True, percentage=0))
            fut = ls.work_done_progress.tokens.get(self.token)
            if fut is not None:
                fut.add_done_callback(lambda f: self.cancel.set() if f.cancelled() else None)
        except Exception:  # noqa: BLE001
            self.token = None

    def report(self, message: str, percentage: int | None = None) -> None:
        """Thread-safe; reports closer than 1/REPORTS_PER_S s apart keep only the last one."""
        if self.token is None:
            return
        with self._lock:
            first = self._pending is None
            self._pending = (message, percentage)
            if not first:
                return  # a flush is already on its way: it sends the latest
            wait = max(0.0, self._last_report + 1 / REPORTS_PER_S - time.monotonic())
        self._loop.call_soon_threadsafe(lambda: self._loop.call_later(wait, self._flush_report))

    def _flush_report(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, None
            self._last_report = time.monotonic()
        if pending is None or self.token is None:
            return
        message, pct = pending
        self.ls.work_done_progress.report(self.token, lsp.WorkDoneProgressReport(message=message, percentage=pct))

    def end(self, message: str) -> None:
        """On the event loop: the last report, the end, and the token forgotten."""
        if self.token is None:
            return
        self._flush_report()
        self.ls.work_done_progress.end(self.token, lsp.WorkDoneProgressEnd(message=message))
        self.ls.work_done_progress.tokens.pop(self.token, None)
        self.token = None

    def _on_progress(self, p: api.protocol.Progress) -> None:
        message, pct = progress_text(p)
        if message:
            self.report(message, pct)

    # --- output -------------------------------------------------------------------------------
    def _on_output(self, text: str) -> None:
        with self._lock:
            self._tail = (self._tail + text)[-TAIL:]
            room = OUTPUT_CAP - self._sent
            if room <= 0:
                self._dropped += len(text)
                return
            if len(text) > room:
                self._dropped += len(text) - room
                text = text[:room]
            self._sent += len(text)
        self._notify(text)

    def _notify(self, text: str) -> None:
        params = {"uri": self.uri, "run": self.id, "title": self.title, "text": text}
        self._loop.call_soon_threadsafe(lambda: self.ls.protocol.notify_json(OUTPUT_METHOD, params))

    def finish_output(self) -> None:
        """Says how much output was left out (once, at the end of the run)."""
        if self._dropped:
            self._notify(f"\n[tensorleap-ls: {self._dropped} more characters of output not shown "
                         f"(at most {OUTPUT_CAP // 1024} KB per run)]\n")
            self._dropped = 0

    def output_tail(self) -> str:
        return self._tail

    def saw_output(self) -> bool:
        return bool(self._sent or self._dropped)


def _server_progress(ls: Session) -> bool:
    window = ls.client_capabilities.window
    return bool(window and window.work_done_progress)


async def stoppable(ls: Session, cancel: threading.Event, work: Callable[[], Any]):
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
        return await off_loop(work)
    except asyncio.CancelledError:
        cancel.set()
        raise

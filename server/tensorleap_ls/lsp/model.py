"""The model checks (TL6xx) in the server: the facts of the model file a project's load_model loads
are read in the project interpreter, off the event loop, and only in a trusted workspace, with the
runs' memory limit and the child's guardian (runtime/model_info.py); when they change, the project
is analysed and published again."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from typing import TYPE_CHECKING

from tensorleap_ls.lsp.session import Session

if TYPE_CHECKING:
    from tensorleap_ls.core.engine.analysis import ProjectAnalysis

log = logging.getLogger(__name__)
_RETRY_S = 60.0  # a model that could not be read is tried again after this long


def refresh(ls: Session, pa: "ProjectAnalysis") -> None:
    if not ls.settings.trusted:
        return  # no interpreter of an untrusted workspace runs, not even to read a model file
    from tensorleap_ls.core.checks.model import model_path
    from tensorleap_ls.runtime import api

    found = model_path(pa.bindings, pa.modules, pa.project.root)
    if found is None:
        return
    try:
        st = os.stat(found[0])
    except OSError:
        return
    python = api.choose(pa.project.root, ls.settings.interpreter)
    # A changed stat (or interpreter) triggers a read; the facts themselves are cached by content.
    stamp = (python, st.st_size, st.st_mtime_ns)
    seen = ls.model_stamps
    prev = seen.get(found[0])
    if prev is not None and prev[0] == stamp and time.monotonic() < prev[1]:
        return
    seen[found[0]] = (stamp, float("inf"))
    loop = asyncio.get_running_loop()
    entry_uri = ls.uri_of(pa.project.entry)

    def work() -> None:
        try:
            if api.model_facts(ls.analyzer, pa, python, trusted=True, memory_mb=ls.settings.memory_mb) and entry_uri:
                loop.call_soon_threadsafe(ls.schedule, entry_uri, 0)
            if "error" in ls.analyzer.model_facts.get(found[0], {}):
                seen[found[0]] = (stamp, time.monotonic() + _RETRY_S)  # the user may install the library
        except Exception:  # noqa: BLE001 - model facts are an extra; never take the server down
            log.exception("reading the model facts of %s failed", found[0])

    # off the event loop, in a thread of its own: a model read may take minutes (a large Keras file),
    # and must not hold one of the two workers that analyse edits
    threading.Thread(target=work, name="tl-model-facts", daemon=True).start()

"""Quick fixes keyed by diagnostic code, one module per check group (as core/checks/), and the refactorings.

``fixes_for(finding, analysis)`` returns core ``Fix`` objects: minimal text edits that keep the rest
of the file as it is. A fixer reads the finding's typed data (core/fixdata.py; its class is the one
core/codes.py registers for the code) and re-derives positions from the parsed module when it needs more.

Modules: ``structure`` (1xx), ``imports`` (the slips: TL112-TL114, TL420), ``contracts`` (2xx), ``registrars`` (advanced registrars), ``test_body``
(3xx), ``bundle`` (leap.yaml and the bundle, 4xx), ``model`` (6xx); ``refactor`` holds the actions no
diagnostic asks for (legacy -> decorators, companions of an encoder, stubs from the model file, the
skeleton); ``edits`` what they share.
"""

from __future__ import annotations

import logging
from typing import Callable

from tensorleap_ls.core.model import Finding, Fix

Fixer = Callable[[Finding, object], list[Fix]]
FIXERS: dict[str, Fixer] = {}
log = logging.getLogger(__name__)


def fixer(*codes: str) -> Callable[[Fixer], Fixer]:
    """Registers the decorated function as the fixer of ``codes`` (one fixer per code)."""
    def deco(fn: Fixer) -> Fixer:
        for c in codes:
            assert c not in FIXERS, f"two fixers for {c}"
            FIXERS[c] = fn
        return fn
    return deco


def run_fixer(finding: Finding, analysis) -> list[Fix]:
    """The fixes for ``finding``; a fixer that raises raises here (the tests call this)."""
    fn = FIXERS.get(finding.code)
    out = fn(finding, analysis) if fn is not None else []
    for f in out:
        f.codes = (finding.code,)
    return out


def fixes_for(finding: Finding, analysis) -> list[Fix]:
    """``run_fixer`` for the editor: a fixer that raises offers nothing and is logged with the finding."""
    try:
        return run_fixer(finding, analysis)
    except Exception:  # noqa: BLE001 - the user gets no action, the log gets the bug
        log.exception("fixer for %s failed on %s:%d", finding.code, finding.span.path, finding.span.line + 1)
        return []


# The group modules register their fixers on import.
from tensorleap_ls.core.fixes import bundle, contracts, imports, model, registrars, structure, test_body  # noqa: E402,F401
from tensorleap_ls.core.fixes.refactor import (  # noqa: E402,F401
    companions, convert_binding, convert_file, is_empty, model_stubs, skeleton, to_decorator,
)

"""The static checks, run in order on one project. Each module exposes ``check(ctx)``."""

from __future__ import annotations

import logging

from tensorleap_ls.core.checks import (bundle, contracts, imports, model, registrars, results, sdk_api, structure,
                                      test_body)
from tensorleap_ls.core.checks.base import Check, CheckContext
from tensorleap_ls.core.model import Finding

log = logging.getLogger(__name__)

CHECKS: tuple[Check, ...] = (structure.check, contracts.check, results.check, test_body.check, bundle.check,
                             sdk_api.check, model.check, registrars.check, imports.check)


def run_checks(ctx: CheckContext) -> list[Finding]:
    out: list[Finding] = []
    for check in CHECKS:
        try:
            out.extend(check(ctx))
        except Exception:  # noqa: BLE001 - one broken check must not hide the others
            log.exception("check %s failed on %s", getattr(check, "__module__", check), ctx.entry)
    # One function registered several times (a factory called with several keys, a loop) is checked once per
    # binding: the same finding at the same place is one root cause, reported once.
    seen: set = set()
    unique = []
    for f in out:
        key = (f.code, f.span, f.message)
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return imports.fold(unique, ctx)  # one root cause, one finding: what a failing import hides is its related info

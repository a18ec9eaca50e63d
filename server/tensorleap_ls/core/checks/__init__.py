"""The static checks, run in order on one project. Each module exposes ``check(ctx)``: a plain function, or a
``ScopedCheck`` whose per-binding findings the engine reuses (checks/base.py)."""

from __future__ import annotations

import logging
from collections import Counter
from typing import Callable

from tensorleap_ls.core.checks import (bundle, contracts, imports, model, registrars, results, sdk_api, structure,
                                      test_body)
from tensorleap_ls.core.checks.base import Check, CheckContext, ScopedCheck
from tensorleap_ls.core.model import Binding, Finding

log = logging.getLogger(__name__)

CHECKS: tuple[Check, ...] = (structure.check, contracts.check, results.check, test_body.check, bundle.check,
                             sdk_api.check, model.check, registrars.check, imports.check)


def run_checks(ctx: CheckContext, reuse: dict | None = None, keep: dict | None = None,
               fingerprint: Callable[[Binding], str] | None = None, stats: Counter | None = None) -> list[Finding]:
    """Every check, in order. With ``fingerprint``, the binding part of a ``ScopedCheck`` is taken from
    ``reuse`` (the last analysis' findings by (check, fingerprint)) when there, and what this analysis
    used goes to ``keep`` (the engine's next ``reuse``)."""
    out: list[Finding] = []
    try:
        prints = {id(b): fingerprint(b) for b in ctx.bindings} if fingerprint is not None else None
    except Exception:  # noqa: BLE001 - without fingerprints every check simply runs
        log.exception("fingerprints failed on %s", ctx.entry)
        prints = None
    for check in CHECKS:
        try:
            if isinstance(check, ScopedCheck) and prints is not None:
                out.extend(_binding_parts(check, ctx, prints, reuse or {}, keep if keep is not None else {},
                                          stats if stats is not None else Counter()))
                out.extend(check.project(ctx))
            else:
                out.extend(check(ctx))
        except Exception:  # noqa: BLE001 - one broken check must not hide the others
            log.exception("check %s failed on %s", getattr(check, "name", getattr(check, "__module__", check)), ctx.entry)
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


def _binding_parts(check: ScopedCheck, ctx: CheckContext, prints: dict, reuse: dict, keep: dict,
                   stats: Counter) -> list[Finding]:
    out: list[Finding] = []
    for b in ctx.bindings:
        key = (check.name, prints[id(b)])
        found = keep.get(key)
        if found is None:
            found = reuse.get(key)
            if found is None:
                found = list(check.binding(ctx, b))
                stats["binding_checks_run"] += 1
            else:
                stats["binding_checks_reused"] += 1
            keep[key] = found
        out.extend(found)
    return out

"""Placeholder: the owner replaces it. Every check module exposes check(ctx)."""

from __future__ import annotations

from tensorleap_ls.core.checks.base import CheckContext
from tensorleap_ls.core.model import Finding


def check(ctx: CheckContext) -> list[Finding]:
    return []

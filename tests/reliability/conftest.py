"""Collects the figures docs/reliability.md reports (inputs tried, edits fuzzed, faults injected)
into test-artifacts/reliability-figures.json at the end of a run."""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

ARTIFACT = HERE.parents[1] / "test-artifacts" / "reliability-figures.json"


def pytest_sessionfinish(session, exitstatus):
    figures: dict = {}
    for name in ("test_bad_input", "test_fuzz_lsp", "test_fuzz_engine", "test_faults", "test_runtime_load"):
        mod = sys.modules.get(name)
        if mod is None:
            continue
        for attr in ("COUNTS", "STATS"):
            figures.update({f"{name}.{k}": v for k, v in getattr(mod, attr, {}).items()})
    if figures:
        ARTIFACT.parent.mkdir(exist_ok=True)
        ARTIFACT.write_text(json.dumps(figures, indent=1, sort_keys=True), encoding="utf-8")

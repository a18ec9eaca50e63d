"""The slips (issue 25) against the real code-loader: every planted slip of tests/core/test_codes.py (TL112-TL114,
both styles, several files) fails the SDK where tensorleap-ls reports it, and once its preferred quick fix is
applied the SDK accepts the project again, imported as the platform does and run as ``python
leap_integration.py`` runs it. That is what "a quick fix leaves code that imports" means.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

import pytest

from oracle_sdk import analyze, code_cases, describe, errors
from tensorleap_ls.core.fixes import run_fixer

TC = code_cases()
SLIPS = [c for c in TC.CASES if c.code in ("TL112", "TL113", "TL114")]


sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core"))
from test_fixes import apply  # noqa: E402


def _apply(fix) -> None:
    by_file = defaultdict(list)
    for e in fix.edits:
        by_file[e.span.path].append(e)
    for path, edits in by_file.items():
        p = Path(path)
        p.write_text(apply(p.read_text(encoding="utf-8"), edits), encoding="utf-8")


@pytest.mark.parametrize("case", SLIPS, ids=[f"{c.code}-{c.base.split('_')[0]}-{i}" for i, c in enumerate(SLIPS)])
def test_the_sdk_fails_where_we_report_and_passes_after_the_fix(tmp_path, sdk, case):
    root = TC.plant(tmp_path, case)
    entry = TC.ENTRY[case.base]
    before = sdk.run(root, entry)
    assert not before["ok"], f"the SDK accepts the {case.code} slip"
    assert before["type"] in ("NameError", "ImportError"), before["error"]
    analysis = analyze(root)
    ours = [f for f in errors(analysis) if f.code == case.code]
    lines = {((root / w["file"]).resolve(), w["line"]) for w in before["where"]}
    assert any((Path(f.span.path).resolve(), f.span.line + 1) in lines for f in ours), (before["where"], describe(ours))
    fix = next(x for x in run_fixer(ours[0], analysis) if x.preferred)
    _apply(fix)
    for mode in ("load", "local"):
        after = sdk.run(root, entry, mode=mode)
        assert after["ok"], (fix.title, mode, after["error"], after["log"][-600:])
    assert not errors(analyze(root)), describe(errors(analyze(root)))

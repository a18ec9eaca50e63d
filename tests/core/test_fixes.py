"""The in-process tier of the quick fixes: every planted mistake of test_codes.py that has a fixer gets
a fix that applies cleanly, parses, and makes that finding go away on re-analysis.

Fixers are called directly (not through ``fixes_for``), so a fixer that raises fails here instead of
silently offering nothing. The end-to-end tier over LSP is tests/e2e/test_actions.py.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

from tensorleap_ls.core.analysis import Analyzer
from tensorleap_ls.core.fixes import FIXERS
from tensorleap_ls.core.model import TextEdit

from test_codes import CASES, Case, _ids, plant

FIXABLE = [c for c in CASES if c.code in FIXERS and c.code != "TL190"]


def apply(text: str, edits: list[TextEdit]) -> str:
    """Applies non-overlapping edits (0-based lines, code-point columns), last first."""
    lines = text.split("\n")
    offsets = [0]
    for ln in lines:
        offsets.append(offsets[-1] + len(ln) + 1)
    for e in sorted(edits, key=lambda e: (e.span.line, e.span.col), reverse=True):
        s = e.span
        start = offsets[min(s.line, len(lines))] + (s.col if s.line < len(lines) else 0)
        end = offsets[min(s.end_line, len(lines))] + (s.end_col if s.end_line < len(lines) else 0)
        text = text[:start] + e.new_text + text[end:]
    return text


@pytest.mark.parametrize("case", FIXABLE, ids=_ids)
def test_fix_applies_and_removes_the_finding(tmp_path, case: Case):
    root = plant(tmp_path, case)
    (pa,) = Analyzer().analyze_path(str(root))
    where = str((root / (case.where or case.file)).resolve())
    finding = next(f for f in pa.findings if f.code == case.code and f.span.path == where)
    fixes = FIXERS[case.code](finding, pa)
    assert fixes, f"no fix for {case.code}: {finding.message}"
    fix = next((f for f in fixes if f.preferred), fixes[0])
    by_file: dict[str, list[TextEdit]] = defaultdict(list)
    for e in fix.edits:
        by_file[e.span.path].append(e)
    for path, edits in by_file.items():
        p = Path(path)
        old = p.read_text(encoding="utf-8") if p.exists() else ""
        new = apply(old, edits)
        assert new != old, f"{fix.title}: no change to {p.name}"
        if p.suffix == ".py":
            ast.parse(new)
        p.write_text(new, encoding="utf-8")
    (after,) = Analyzer().analyze_path(str(root))
    assert not [f for f in after.findings if f.code == case.code and f.message == finding.message], fix.title


@pytest.mark.parametrize("written, offered", [("3.10", ["py310"]), ("python3.8", ["py38"]), ("'3.9'", ["py39"]),
                                              ("latest", ["py38", "py39", "py310", "py311", "py312"])])
def test_python_version_fix_spells_what_the_user_wrote(tmp_path, written, offered):
    """The project's version, never the server's: `3.10` (which YAML reads as 3.1) becomes py310."""
    case = Case("TL409", "decorator_mnist", "leap.yaml", "pythonVersion: py311", f"pythonVersion: {written}")
    root = plant(tmp_path, case)
    (pa,) = Analyzer().analyze_path(str(root))
    finding = next(f for f in pa.findings if f.code == "TL409")
    fixes = FIXERS["TL409"](finding, pa)
    assert [f.edits[0].new_text for f in fixes] == offered
    assert [f.preferred for f in fixes] == [len(offered) == 1] * len(offered)

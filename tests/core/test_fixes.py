"""The in-process tier of the quick fixes: every planted mistake of test_codes.py that has a fixer gets
a fix that applies cleanly, parses, and makes that finding go away on re-analysis.

Fixers are called through ``run_fixer`` (not ``fixes_for``, which logs and offers nothing), so a fixer
that raises fails here. The end-to-end tier over LSP is tests/e2e/test_actions.py. Every finding carries
data of the class core/codes.py registers for its code (core/fixdata.py), and that data survives the
diagnostic's JSON.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from tensorleap_ls.core.engine.analysis import Analyzer
from tensorleap_ls.core.codes import CODES
from tensorleap_ls.core.fixdata import from_json, registered, to_json
from tensorleap_ls.core.fixes import FIXERS, run_fixer
from tensorleap_ls.core.model import TextEdit

from test_codes import CASES, Case, _ids, analyzer, plant

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "advanced"))
from advanced_projects import findings as advanced_findings, project as advanced_project  # noqa: E402
from test_registrars import CASES as ADVANCED  # noqa: E402

# The codes that have a quick fix: a fixer lost in a refactoring fails here instead of leaving the tiers.
WITH_FIX = {
    "TL101", "TL102", "TL103", "TL104", "TL105", "TL106", "TL110", "TL112", "TL113", "TL114", "TL120",
    "TL211", "TL212", "TL213", "TL215", "TL216", "TL217", "TL218", "TL219", "TL220", "TL222", "TL223", "TL224",
    "TL227", "TL230", "TL231", "TL232", "TL242",
    "TL301", "TL302", "TL305", "TL306", "TL307", "TL310",
    "TL402", "TL405", "TL406", "TL409", "TL420",
    "TL601", "TL606", "TL607",
}
# Cases of a code with a fix that docs/code-actions.md says have none: logic in the test that feeds no decorated call.
NO_FIX = {("TL302", "np.argmax(prediction)")}
FIXABLE = [c for c in CASES if c.code in WITH_FIX and c.code != "TL190" and (c.code, c.marker) not in NO_FIX]


def test_every_code_with_a_fix_has_its_fixer_and_a_case():
    assert set(FIXERS) == WITH_FIX
    # elsewhere: TL242 in tests/advanced/test_advanced_stubs.py, TL601/TL606 in tests/model/test_model_static.py,
    # TL420 in tests/core/test_slips.py (it needs the installed SDK)
    assert WITH_FIX - {"TL242", "TL601", "TL606", "TL420"} <= {c.code for c in CASES}
    for code in FIXERS:
        assert CODES[code].data is not None, f"{code} has a fixer but registers no data"


def _assert_typed(findings) -> None:
    """Each finding: data of its code's registered class, or none; the diagnostic's JSON rebuilds it."""
    for f in findings:
        if f.data is None:
            continue
        kinds = registered(f.code)
        assert kinds, f"{f.code} carries {f.data!r} but registers no data class"
        assert isinstance(f.data, kinds), f"{f.code}: {type(f.data).__name__}, registered {kinds}"
        assert from_json(f.code, {**to_json(f.data), "code": f.code}) == f.data, f.code


def test_fix_data_is_a_frozen_value_with_the_dataclass_signature():
    """The shapes' methods come from the FixData base (core/fixdata.py), not generated per class: the same
    values as a frozen dataclass would have, and its errors for a wrong call."""
    import dataclasses

    from tensorleap_ls.core.fixdata import ImportedName, UndefinedName

    a = UndefinedName("x", imports="import x")
    assert (a.name, a.suggestion, a.imports) == ("x", None, "import x")
    assert a == UndefinedName(name="x", suggestion=None, imports="import x") and hash(a) == hash(UndefinedName("x", None, "import x"))
    assert a != UndefinedName("x") and a != ImportedName("x", "import x") and len({a, UndefinedName("x"), a}) == 2
    assert repr(a) == "UndefinedName(name='x', suggestion=None, imports='import x')"
    assert dataclasses.replace(a, suggestion="y") == UndefinedName("x", "y", "import x")
    assert [f.name for f in dataclasses.fields(ImportedName)] == ["name", "module", "suggestion"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.name = "y"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del a.name
    for bad in (lambda: UndefinedName(), lambda: UndefinedName("x", name="y"), lambda: UndefinedName(nam="x"),
                lambda: UndefinedName("x", None, None, None)):
        with pytest.raises(TypeError):
            bad()


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_findings_carry_their_code_s_data(tmp_path, case: Case):
    root = plant(tmp_path, case)
    findings = [f for pa in analyzer().analyze_path(str(root)) for f in pa.findings]
    assert any(f.code == case.code for f in findings)
    _assert_typed(findings)


@pytest.mark.parametrize("case", ADVANCED, ids=[c.id for c in ADVANCED])
def test_advanced_registrar_findings_carry_their_code_s_data(tmp_path, case):
    """The planted faults of tests/advanced (TL240-TL245), statically only (the SDK runs there)."""
    root = advanced_project(tmp_path, case.fixture, case.replace, case.file)
    findings = advanced_findings(root)
    assert any(f.code == case.code for f in findings)
    _assert_typed(findings)


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
    (pa,) = analyzer().analyze_path(str(root))
    where = str((root / (case.where or case.file)).resolve())
    finding = next(f for f in pa.findings if f.code == case.code and f.span.path == where)
    fixes = run_fixer(finding, pa)
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
    (after,) = analyzer().analyze_path(str(root))
    assert not [f for f in after.findings if f.code == case.code and f.message == finding.message], fix.title
    # a fix never leaves code that fails at import (issue 25): no name it uses or imports is missing
    broken = [f"{f.code} {f.message}" for f in after.findings if f.code in IMPORT_TIME]
    assert not broken, (fix.title, broken)


# What fails when the integration is imported, or when a registered function runs: what no fix may leave.
IMPORT_TIME = {"TL110", "TL112", "TL113", "TL114", "TL190"}


@pytest.mark.parametrize("written, offered", [("3.10", ["py310"]), ("python3.8", ["py38"]), ("'3.9'", ["py39"]),
                                              ("latest", ["py38", "py39", "py310", "py311", "py312"])])
def test_python_version_fix_spells_what_the_user_wrote(tmp_path, written, offered):
    """The project's version, never the server's: `3.10` (which YAML reads as 3.1) becomes py310."""
    case = Case("TL409", "decorator_mnist", "leap.yaml", "pythonVersion: py311", f"pythonVersion: {written}")
    root = plant(tmp_path, case)
    (pa,) = analyzer().analyze_path(str(root))
    finding = next(f for f in pa.findings if f.code == "TL409")
    fixes = run_fixer(finding, pa)
    assert [f.edits[0].new_text for f in fixes] == offered
    assert [f.preferred for f in fixes] == [len(offered) == 1] * len(offered)


def test_a_fixer_that_raises_is_logged_by_the_editor_path_and_raises_for_the_tests(monkeypatch, caplog):
    from tensorleap_ls.core.fixes import fixes_for
    from tensorleap_ls.core.model import Finding, Span

    def broken(f, pa):
        raise ValueError("bug in a fixer")

    monkeypatch.setitem(FIXERS, "TL219", broken)
    finding = Finding("TL219", "`length=` is deprecated", Span("/p/e.py", 3, 0, 3, 9))
    with pytest.raises(ValueError):
        run_fixer(finding, None)
    assert fixes_for(finding, None) == []
    assert "fixer for TL219 failed on /p/e.py:4" in caplog.text and "bug in a fixer" in caplog.text

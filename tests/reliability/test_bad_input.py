"""Bad input to the analysis core: each answered by a clear finding or a quiet no-result.

Every case goes through the same public API the server and the CLI use
(``Analyzer.analyze_file`` / ``analyze_path``) and asserts three things: no exception
escapes, every finding lies inside its document, and the case's own expectation
(a syntax error reported at the right line, a leap.yaml problem named...).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from tensorleap_ls.core.engine.analysis import Analyzer
from tensorleap_ls.core.model import Finding

FIXTURE = Path(__file__).parent / "fixtures" / "mnist_decorator"
ENTRY_TEXT = (FIXTURE / "leap_integration.py").read_text(encoding="utf-8")

# Figures reported in docs/reliability.md are counted by these tests (see conftest).
COUNTS: dict[str, int] = {}


def _count(kind: str, n: int = 1) -> None:
    COUNTS[kind] = COUNTS.get(kind, 0) + n


def _lines_of(path: str, overlays: dict[str, str]) -> list[str] | None:
    if path in overlays:
        text = overlays[path]
    else:
        try:
            text = Path(path).read_bytes().decode("utf-8", errors="replace")
        except OSError:
            return None
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def assert_inside(findings: list[Finding], overlays: dict[str, str] | None = None) -> None:
    overlays = overlays or {}
    for f in findings:
        lines = _lines_of(f.span.path, overlays)
        if lines is None:
            continue
        s = f.span
        assert 0 <= s.line < len(lines), f"{f.code} line {s.line} outside {len(lines)} lines"
        assert 0 <= s.end_line < len(lines), f"{f.code} end line {s.end_line} outside"
        assert (s.line, s.col) <= (s.end_line, s.end_col), f"{f.code} reversed span {s}"
        assert 0 <= s.col <= len(lines[s.line]), f"{f.code} col {s.col} outside line {s.line}"
        assert 0 <= s.end_col <= len(lines[s.end_line]), f"{f.code} end col {s.end_col} outside"
        assert f.message.strip(), f"{f.code} without a message"


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    dst = tmp_path / "proj"
    shutil.copytree(FIXTURE, dst)
    return dst


def analyse(analyzer: Analyzer, path: Path, text: str | None = None) -> list[Finding]:
    overlays = {}
    if text is not None:
        analyzer.set_overlay(str(path), text)
        overlays[str(path)] = text
    findings = [f for pa in analyzer.analyze_file(str(path)) for f in pa.findings]
    assert_inside(findings, overlays)
    return findings


def test_clean_fixture_has_no_errors(project: Path) -> None:
    findings = analyse(Analyzer(), project / "leap_integration.py")
    errors = [f for f in findings if f.effective_severity == 1]
    assert errors == [], errors


def test_truncated_at_every_line(project: Path) -> None:
    """The script cut after each of its lines: never an exception, positions stay in the text."""
    analyzer = Analyzer()
    entry = project / "leap_integration.py"
    lines = ENTRY_TEXT.split("\n")
    for n in range(len(lines) + 1):
        analyse(analyzer, entry, "\n".join(lines[:n]))
        _count("truncations")
    # cut inside a line too: in the middle of each non-empty line
    for n, line in enumerate(lines):
        if line:
            analyse(analyzer, entry, "\n".join(lines[:n] + [line[: len(line) // 2]]))
            _count("truncations")


def test_syntax_error_reported_at_its_line_and_rest_kept(project: Path) -> None:
    analyzer = Analyzer()
    entry = project / "leap_integration.py"
    good = analyse(analyzer, entry)
    broken = ENTRY_TEXT.replace("def preprocess()", "def preprocess(:", 1)
    line = next(i for i, ln in enumerate(broken.split("\n")) if "def preprocess(:" in ln)
    findings = analyse(analyzer, entry, broken)
    syntax = [f for f in findings if f.code == "TL190"]
    assert len(syntax) == 1 and syntax[0].span.line == line
    # the last good analysis of the project is kept: no flood of "missing preprocess"
    assert not [f for f in findings if f.code in ("TL101", "TL102")], findings
    # findings elsewhere in the project stay; the broken file shows only its syntax error
    elsewhere = {(f.code, f.span) for f in good if f.span.path != str(entry)}
    assert elsewhere <= {(f.code, f.span) for f in findings}
    assert {f.code for f in findings if f.span.path == str(entry)} == {"TL190"}


@pytest.mark.parametrize(
    "name,text",
    [
        ("nul", ENTRY_TEXT.replace("import numpy as np", "import numpy as np\x00", 1)),
        ("crlf", ENTRY_TEXT.replace("\n", "\r\n")),
        ("mixed-eol", ENTRY_TEXT.replace("\n", "\r\n", 10)),
        ("cr-only", ENTRY_TEXT.replace("\n", "\r")),
        ("long-line", ENTRY_TEXT + "\nX = '" + "a" * 200_000 + "'\n"),
        ("emoji", ENTRY_TEXT.replace("# leap", "# 🧪 ünïcödé leap", 1) + "\nLABEL = '🧪🧪'  # 日本語\n"),
        ("deep-nesting", ENTRY_TEXT + "\nX = " + "(" * 3000 + "1" + ")" * 3000 + "\n"),
        ("deep-list", ENTRY_TEXT + "\nX = " + "[" * 150 + "]" * 150 + "\n"),
        ("only-bom", "\ufeff"),
        ("empty", ""),
        ("no-code-loader", "import os\n\ndef f():\n    return 1\n"),
    ],
)
def test_odd_text(project: Path, name: str, text: str) -> None:
    findings = analyse(Analyzer(), project / "leap_integration.py", text)
    _count("odd texts")
    if name in ("crlf", "emoji"):
        # same program: the same codes as the clean file
        clean = {f.code for f in analyse(Analyzer(), project / "leap_integration.py")}
        assert {f.code for f in findings} == clean


def test_non_utf8_file_on_disk(project: Path) -> None:
    helper = project / "tensorleap" / "labels.py"
    helper.write_bytes(b"LABELS = ['caf\xe9']\n")  # Latin-1, not UTF-8
    findings = analyse(Analyzer(), project / "leap_integration.py")
    _count("odd texts")
    assert any(f.code in ("TL191", "TL190") and f.span.path == str(helper) for f in findings) or not any(
        f.span.path == str(helper) for f in findings
    )


def test_twenty_thousand_lines(project: Path) -> None:
    block = "\n\ndef helper_{i}(x):\n    return x + {i}\n"
    text = ENTRY_TEXT + "".join(block.format(i=i) for i in range(5000))
    assert text.count("\n") > 20_000
    analyse(Analyzer(), project / "leap_integration.py", text)
    _count("odd texts")


def test_circular_and_missing_imports(project: Path) -> None:
    (project / "tensorleap" / "a.py").write_text("from tensorleap.b import *\nimport does_not_exist\n")
    (project / "tensorleap" / "b.py").write_text("from tensorleap.a import *\nfrom . import a\n")
    text = ENTRY_TEXT.replace("import numpy as np", "import numpy as np\nfrom tensorleap.a import *\nimport missing_local_mod", 1)
    analyse(Analyzer(), project / "leap_integration.py", text)
    _count("import graphs")


def test_self_import(project: Path) -> None:
    text = ENTRY_TEXT.replace("import numpy as np", "import numpy as np\nimport leap_integration\nfrom leap_integration import *", 1)
    analyse(Analyzer(), project / "leap_integration.py", text)
    _count("import graphs")


YAML_CASES = {
    "empty": "",
    "list": "- a\n- b\n",
    "scalar": "just a string\n",
    "tabs": "entryFile: leap_integration.py\ninclude:\n\t- leap_integration.py\n",
    "outside": "entryFile: ../outside.py\n",
    "folder": "entryFile: tensorleap\n",
    "itself": "entryFile: leap.yaml\n",
    "binary": "\x00\x01\x02entryFile",
    "unclosed": "entryFile: 'leap_integration.py\ninclude: [a\n",
    "wrong types": "entryFile: [1, 2]\ninclude: 3\nexclude: {a: b}\npythonVersion: 3.11\n",
    "anchors": "a: &x [1]\nb: *x\nentryFile: leap_integration.py\n",
}


@pytest.mark.parametrize("case", sorted(YAML_CASES))
def test_bad_leap_yaml(project: Path, case: str) -> None:
    (project / "leap.yaml").write_text(YAML_CASES[case], encoding="utf-8")
    analyzer = Analyzer()
    findings = [f for pa in analyzer.analyze_path(str(project)) for f in pa.findings]
    findings += analyse(analyzer, project / "leap.yaml", YAML_CASES[case])
    assert_inside(findings)
    _count("leap.yaml variants")
    if case in ("empty", "list", "scalar", "tabs", "outside", "folder", "itself", "unclosed", "wrong types", "binary"):
        yaml_codes = {f.code for f in findings if f.span.path == str(project / "leap.yaml")}
        assert yaml_codes & {"TL401", "TL403", "TL404", "TL411", "TL412"}, (case, findings)


@pytest.mark.skipif(sys.platform == "win32", reason="symlinks")
def test_symlink_loop(project: Path) -> None:
    os.symlink(project, project / "tensorleap" / "loop")
    os.symlink(project / "nowhere", project / "dangling.py")
    findings = [f for pa in Analyzer().analyze_path(str(project)) for f in pa.findings]
    assert_inside(findings)
    _count("file-system oddities")


def test_file_deleted_while_open(project: Path) -> None:
    analyzer = Analyzer()
    entry = project / "leap_integration.py"
    helper = project / "tensorleap" / "encoders.py"
    analyse(analyzer, entry)
    helper_text = helper.read_text()
    analyzer.set_overlay(str(helper), helper_text)
    helper.unlink()
    analyzer.invalidate(str(helper))
    analyse(analyzer, entry)
    analyzer.set_overlay(str(helper), None)  # closed after deletion
    findings = analyse(analyzer, entry)
    # the encoders are gone now: the missing input encoder is reported
    assert any(f.code in ("TL102", "TL110", "TL112") for f in findings)
    _count("file-system oddities")


def test_two_projects_side_by_side(tmp_path: Path) -> None:
    a = tmp_path / "ws" / "a"
    b = tmp_path / "ws" / "b"
    shutil.copytree(FIXTURE, a)
    shutil.copytree(FIXTURE, b)
    (b / "leap_integration.py").write_text(ENTRY_TEXT.replace("@tensorleap_preprocess()", "", 1))
    analyzer = Analyzer()
    fa = analyse(analyzer, a / "leap_integration.py")
    fb = analyse(analyzer, b / "leap_integration.py")
    assert all(f.span.path.startswith(str(a)) for f in fa)
    assert all(f.span.path.startswith(str(b)) for f in fb)
    assert not any(f.code == "TL101" for f in fa)
    assert any(f.code == "TL101" for f in fb)
    _count("file-system oddities")

"""The CLI's JSON, recorded: refactors must keep it byte-identical.

Every project under ``examples/`` and ``tests/fixtures/`` (each folder holding a leap.yaml), and every
planted case of ``test_codes.py``, is checked with ``tensorleap-ls check --format json``; the output
(absolute roots replaced by ``<root>``) must equal the recording in ``tests/golden/``. A change that
means to alter what the CLI says re-records with ``TL_GOLDEN_UPDATE=1`` and the diff is reviewed.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path

import pytest

from tensorleap_ls import cli

from test_codes import CASES, plant  # tests/core is on sys.path (rootdir-relative import mode)

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden"
UPDATE = os.environ.get("TL_GOLDEN_UPDATE") == "1"


def _projects() -> list[Path]:
    found = [p.parent for base in (ROOT / "examples", ROOT / "tests" / "fixtures") for p in base.rglob("leap.yaml")]
    return sorted(found)


def _check_json(root: Path) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        cli.main(["check", "--format", "json", str(root)])
    return out.getvalue().replace(str(root.resolve()), "<root>").replace(str(root), "<root>")


def _compare(name: str, got: dict[str, str]) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(got, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    want = json.loads(path.read_text(encoding="utf-8"))
    assert sorted(got) == sorted(want), "the set of recorded projects changed (TL_GOLDEN_UPDATE=1 re-records)"
    changed = [k for k in sorted(want) if got[k] != want[k]]
    assert not changed, f"CLI JSON changed for {changed[:5]}; first:\n{got[changed[0]]}"


def test_fixture_projects_json_is_unchanged():
    got = {str(p.relative_to(ROOT)): _check_json(p) for p in _projects()}
    assert len(got) >= 20
    _compare("cli_fixtures.json", got)


def test_planted_cases_json_is_unchanged(tmp_path):
    got: dict[str, str] = {}
    for i, case in enumerate(CASES):
        root = plant(tmp_path / str(i), case)
        got[f"{i:03d}-{case.code}-{case.base}"] = _check_json(root)
    _compare("cli_cases.json", got)


@pytest.mark.parametrize("name", ["cli_fixtures.json", "cli_cases.json"])
def test_recordings_hold_diagnostics(name):
    """The recordings are not empty shells: many findings, of many codes, are in them."""
    codes = set()
    for text in json.loads((GOLDEN / name).read_text(encoding="utf-8")).values():
        for proj in json.loads(text)["projects"]:
            codes |= {d["code"] for d in proj["diagnostics"]}
    assert len(codes) >= (5 if name == "cli_fixtures.json" else 60)

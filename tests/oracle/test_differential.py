"""Differential test: generated integrations through the real SDK and through tensorleap-ls.

Where the SDK accepts a project (import as the platform does, integration test in mapping mode,
``leap_binder.check()``), tensorleap-ls must report no error; where it rejects it, tensorleap-ls must report
an error on one of the project lines of the SDK's traceback. The projects come from ``diffgen.programs``.

CI budget: ``TL_DIFF_EXAMPLES`` (default 60) derandomized examples, a few seconds. Long run (documented in
docs/reliability.md)::

    TL_DIFF_EXAMPLES=2000 TL_DIFF_SEED=1 TL_DIFF_SAVE=1 .venv/bin/python -m pytest tests/oracle/test_differential.py -k generated -s

Warnings too: a warning of a code whose oracle is an SDK run that raises (``RUN_PROVEN``) is false where the SDK
accepts the project and also runs it locally (decorator validation on a real sample).
``TL_DIFF_SEED`` picks another random stream; ``TL_DIFF_SAVE=1`` minimises every disagreement of a new
(verdict, classes) signature and writes it to tests/oracle/corpus/ (commit them). Disagreements of the
classes in ``differential.KNOWN_OPEN`` are counted and printed, not failed; anything else fails.
"""

from __future__ import annotations

import collections
import os
import tempfile

import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings

from diffgen import LEAP_YAML, REQUIREMENTS, programs
from differential import KNOWN_OPEN, SIX, classify, corpus_cases, minimise, save_case, signature, unexplained
from oracle_sdk import compare, write_project
from test_warning_oracle import WARN_CASES

EXAMPLES = int(os.environ.get("TL_DIFF_EXAMPLES", "60"))
SEED = os.environ.get("TL_DIFF_SEED")
SAVE = os.environ.get("TL_DIFF_SAVE") == "1"


# Warning codes whose oracle is a run of the SDK that raises (tests/oracle/test_warning_oracle.py): where the SDK
# accepts a project as the platform loads it AND runs it as `python leap_integration.py` does (the decorators
# validate every result there), such a warning is false. Warnings backed by a documented rule (TL302, TL303...)
# may stand where the SDK accepts.
RUN_PROVEN = frozenset(c.code for c in WARN_CASES if c.stage is not None)


def _run(sdk, files: dict[str, str]) -> dict:
    with tempfile.TemporaryDirectory(prefix="tl-diff-") as d:
        root = write_project(d, files)
        out = compare(sdk, root)
        proven = [w for w in out["warnings"] if w["code"] in RUN_PROVEN]
        out["false_warnings"] = []
        if out["sdk_ok"] and proven:
            local = sdk.run(root, mode="local")
            out["sdk_local_ok"] = local["ok"]
            if local["ok"]:
                out["false_warnings"] = [f"{w['file']}:{w['line']} {w['code']} {w['message']}" for w in proven]
        return out


def test_runner_gives_every_case_fresh_sdk_state(tmp_path, sdk):
    """Two projects registering the same names one after the other: if SDK state leaked from the first
    case, the decorators would raise 'already exists' in the second, and the registrations would mix."""
    first = {"leap.yaml": LEAP_YAML, "requirements.txt": REQUIREMENTS, "helpers.py": "VALUE = 1\n",
             "leap_integration.py": "import numpy as np\nimport helpers\n"
             "from code_loader.inner_leap_binder.leapbinder_decorators import tensorleap_input_encoder\n"
             "@tensorleap_input_encoder('image', channel_dim=-1)\ndef enc(idx, p):\n"
             "    return np.zeros(3, np.float32)\n"}
    second = dict(first, **{"leap_integration.py": first["leap_integration.py"].replace("'image'", "'depth'")})
    a = sdk.run(write_project(tmp_path / "a", first), check=False)
    b = sdk.run(write_project(tmp_path / "b", first), check=False)
    c = sdk.run(write_project(tmp_path / "c", second), check=False)
    for r in (a, b, c):
        assert r["ok"], r["error"]
        assert r["sys_modules_user"] == [], "user modules leaked into the next case"
    assert a["registrations"]["input"] == b["registrations"]["input"] == ["image"]
    assert c["registrations"]["input"] == ["depth"]
    assert len({a["pid"], b["pid"], c["pid"], sdk.pid}) == 4, "every case runs in its own process"


def _check(files: dict[str, str], out: dict) -> None:
    assert not out["false_warnings"], f"warnings where the SDK runs the project: {out['false_warnings']}\n" + \
        files["leap_integration.py"]
    classes = classify(files, out)
    if unexplained(classes):
        raise AssertionError(f"{out['verdict']} {sorted(classes)}: SDK: {out['sdk_error']} {out['sdk_where']}; "
                             f"tensorleap-ls: {out['errors']}\n" + files["leap_integration.py"])


@pytest.mark.parametrize("name,case", corpus_cases(), ids=[n for n, _ in corpus_cases()])
def test_corpus(sdk, name, case):
    """Every disagreement ever found, re-run: it must agree now, or belong to a class still open."""
    files = case["files"]
    out = _run(sdk, files)
    classes = classify(files, out)
    _check(files, out)
    if classes:
        pytest.xfail("; ".join(KNOWN_OPEN[c] for c in sorted(classes)))


def test_generated(sdk):
    tally: collections.Counter = collections.Counter()
    signatures: set = set()
    failures: list[str] = []

    def run(files):
        return signature(files, _run(sdk, files))

    @settings(max_examples=EXAMPLES, deadline=None, database=None, phases=[Phase.generate],
              derandomize=SEED is None, suppress_health_check=list(HealthCheck))
    @given(programs())
    def one(program):
        out = _run(sdk, program.files)
        classes = classify(program.files, out)
        tally["cases"] += 1
        tally[f"sdk_{'accepts' if out['sdk_ok'] else 'rejects'}"] += 1
        tally[out["verdict"]] += 1
        for c in classes:
            tally[f"class:{c}"] += 1
        for f in program.features:
            if f.startswith("slip:"):  # generated slips (issue 25), by kind and by the SDK's verdict
                tally[f"{f}:{'accepted' if out['sdk_ok'] else 'rejected'}"] += 1
        if classes:
            tally[f"{out['verdict']}:{'six-classes-only' if classes <= SIX else 'beyond-the-six'}"] += 1
        if unexplained(classes):
            failures.append(f"{out['verdict']} {sorted(classes)}: {out['sdk_error']} / {out['errors']}")
        tally["warnings"] += len(out["warnings"])
        if out["false_warnings"]:
            tally["false_warning"] += 1
            failures.append(f"false warning: {out['false_warnings']}")
        sig = signature(program.files, out)
        if SAVE and classes and sig[:2] not in signatures:
            signatures.add(sig[:2])
            save_case(minimise(program.files, sig, run), out, classes, note="found by test_generated")

    if SEED is not None:
        one = seed(int(SEED))(one)
    one()
    print("\ndifferential:", dict(sorted(tally.items())))
    assert tally["cases"] == EXAMPLES
    assert tally["sdk_accepts"] and tally["sdk_rejects"], "the generator must produce both verdicts"
    assert not failures, f"{len(failures)} unexplained disagreement(s):\n" + "\n".join(failures[:10])

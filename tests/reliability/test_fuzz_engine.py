"""The incremental engine against the full analysis (the correctness oracle), fuzzed with hypothesis.

A project of several modules (a star-import web included) is edited the way an editor and a user do:
buffers edited at random places with real-script fragments (imports that change the closure, star
imports of a module that imports itself, sys.path additions, registrations, helpers, syntax errors,
compile-time errors), buffers saved and closed, modules created and deleted on disk, the YAML config
and leap.yaml rewritten. After every step the Analyzer runs in oracle mode: each incremental analysis
is compared with a fresh, full analysis of the same texts, and any difference in modules, bindings
or findings fails (core/engine/analysis.py, OracleMismatch).

Budget: TL_ENGINE_FUZZ_EXAMPLES (default 30) examples and TL_ENGINE_FUZZ_SECONDS (default 60) seconds
in CI; the long run (docs/performance-notes.md):

    TL_ENGINE_FUZZ_EXAMPLES=2000 TL_ENGINE_FUZZ_SECONDS=3600 .venv/bin/python -m pytest -q tests/reliability/test_fuzz_engine.py
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tensorleap_ls.core.engine.analysis import Analyzer

HERE = Path(__file__).parent
FIXTURE = HERE / "fixtures" / "mnist_decorator"
EXAMPLES = int(os.environ.get("TL_ENGINE_FUZZ_EXAMPLES", "30"))
SECONDS = float(os.environ.get("TL_ENGINE_FUZZ_SECONDS", "60"))
STATS = {"examples": 0, "steps": 0}

# Modules the fuzzer may create (on disk), with a star-import web like real projects have
NEW_FILES = {
    "tensorleap/helpers.py": "from tensorleap.helpers import *\nfrom tensorleap.mutual import *\n\n\n"
                             "def helper_value(x):\n    return x\n\nHELPER_NAME = 'helper'\n",
    "tensorleap/mutual.py": "from tensorleap.helpers import *\n\nMUTUAL = 'mutual'\n",
    "tensorleap/extra.py": "from code_loader.inner_leap_binder.leapbinder_decorators import tensorleap_metadata\n\n\n"
                           "@tensorleap_metadata('extra')\ndef extra(idx, preprocess) -> int:\n    return idx\n",
    "tensorleap/sub/__init__.py": "from .leaf import leaf\n",
    "tensorleap/sub/leaf.py": "def leaf(idx, preprocess) -> float:\n    return 1.0\n",
}
EDITABLE = ["leap_integration.py", "tensorleap/encoders.py", "tensorleap/config.py", *NEW_FILES]

FRAGMENTS = [
    # imports that change the closure
    "from tensorleap.helpers import *\n", "from tensorleap import extra\n", "import tensorleap.extra\n",
    "from tensorleap.mutual import MUTUAL\n", "from tensorleap.sub import leaf\n", "from . import encoders\n",
    "from .missing_module import nothing\n", "import sys\nsys.path.insert(0, os.path.dirname(__file__))\n",
    "from tensorleap.config import *\n",
    # registrations and helpers
    "@tensorleap_metadata(HELPER_NAME)\ndef meta_h(idx, preprocess) -> int:\n    return helper_value(idx)\n",
    "@tensorleap_metadata('label')\ndef metadata_dup(idx: int, preprocess: PreprocessResponse) -> int:\n    return 1\n",
    "tensorleap_metadata('leaf')(leaf)\n", "LABELS = ['a', 'b']\n", "MUTUAL = 'changed'\n",
    "def helper_value(x):\n    return helper_value(x)\n",
    "@tensorleap_custom_visualizer('v2', LeapDataType.Image)\ndef v2(x) -> LeapHorizontalBar:\n    return None\n",
    "    return np.zeros((3, 3))\n", "    value = CONFIG['labels']\n",
    # what the compiler alone rejects, and what the parser rejects
    "f(a=1, a=2)\n", "return 5\n", "def f(:\n", "(((", "\t", "é", "\x00",
]

op = st.one_of(
    st.tuples(st.just("edit"), st.sampled_from(EDITABLE), st.floats(0, 1), st.floats(0, 1),
              st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=8))),
    st.tuples(st.just("save"), st.sampled_from(EDITABLE)),
    st.tuples(st.just("close"), st.sampled_from(EDITABLE)),
    st.tuples(st.just("create"), st.sampled_from(sorted(NEW_FILES))),
    st.tuples(st.just("delete"), st.sampled_from(sorted(NEW_FILES) + ["tensorleap/config.py"])),
    st.tuples(st.just("config"), st.sampled_from(["labels: [a, b, c, d]\nimage_size: 8\ntrain_size: 30\nval_size: 10\n",
                                                   "labels: [x]\n", "not: [valid", ""])),
    st.tuples(st.just("leap_yaml"), st.sampled_from(["entryFile: leap_integration.py\n",
                                                      "entryFile: leap_integration.py\ninclude:\n  - leap_integration.py\n",
                                                      (FIXTURE / "leap.yaml").read_text()])),
)


class Project:
    def __init__(self, root: Path):
        self.root = root
        self.analyzer = Analyzer(oracle=True)
        self.buffers: dict[str, str] = {}

    def path(self, rel: str) -> str:
        return str(self.root / rel)

    def text(self, rel: str) -> str | None:
        if rel in self.buffers:
            return self.buffers[rel]
        p = self.root / rel
        return p.read_text(encoding="utf-8") if p.is_file() else None

    def changed_on_disk(self, rel: str) -> None:
        self.analyzer.invalidate(self.path(rel))

    def apply(self, step: tuple) -> None:
        kind = step[0]
        if kind == "edit":
            _, rel, a, b, frag = step
            text = self.text(rel)
            if text is None:
                return
            i = int(a * len(text))
            j = min(len(text), i + int(b * 30))
            self.buffers[rel] = text[:i] + frag + text[j:]
            self.analyzer.set_overlay(self.path(rel), self.buffers[rel])
        elif kind == "save" and step[1] in self.buffers:
            (self.root / step[1]).write_text(self.buffers[step[1]], encoding="utf-8", errors="surrogatepass")
            self.changed_on_disk(step[1])
        elif kind == "close" and step[1] in self.buffers:
            del self.buffers[step[1]]
            self.analyzer.set_overlay(self.path(step[1]), None)
        elif kind == "create":
            p = self.root / step[1]
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(NEW_FILES[step[1]], encoding="utf-8")
            self.changed_on_disk(step[1])
        elif kind == "delete":
            p = self.root / step[1]
            if p.exists():
                p.unlink()
            self.changed_on_disk(step[1])
        elif kind == "config":
            (self.root / "tensorleap" / "config.yaml").write_text(step[1], encoding="utf-8")
            self.changed_on_disk("tensorleap/config.yaml")
        elif kind == "leap_yaml":
            (self.root / "leap.yaml").write_text(step[1], encoding="utf-8")
            self.changed_on_disk("leap.yaml")

    def analyse(self, rel: str) -> None:
        """The entry, and the file just touched (its own projects): each compared with a full analysis."""
        self.analyzer.analyze_file(self.path("leap_integration.py"))
        if (self.root / rel).suffix == ".py" and (rel in self.buffers or (self.root / rel).is_file()):
            self.analyzer.analyze_file(self.path(rel))


_started: list[float] = []


def _lengthen(entry: Path) -> None:
    """The entry as long as real ones are (~7 KB): above source/parse.py's REUSE_BYTES, so an edit reuses the
    unchanged statements of the previous tree and what is kept on them (the oracle parses afresh)."""
    from tensorleap_ls.core.source.parse import REUSE_BYTES

    extra = "\nSHOW_EXTRA = False\n" + "".join(
        f"\n\n@tensorleap_metadata('extra_{i}')\ndef metadata_extra_{i}(idx: int, preprocess: PreprocessResponse) -> float:\n"
        f"    if SHOW_EXTRA:\n        print(idx)\n    value = float(idx * {i} % 7)\n    return value / len(LABELS)\n"
        for i in range(30))
    text = entry.read_text(encoding="utf-8")
    at = text.index("\n\n@tensorleap_integration_test")
    entry.write_text(text[:at] + extra + text[at:], encoding="utf-8")
    assert entry.stat().st_size > REUSE_BYTES


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=False,
          database=None)
@given(steps=st.lists(op, min_size=1, max_size=12))
def test_incremental_equals_full_after_every_step(tmp_path_factory, steps) -> None:
    _started[:] = _started or [time.monotonic()]
    if time.monotonic() - _started[0] > SECONDS:
        return  # time budget spent: the remaining examples pass trivially (STATS counts those run)
    root = tmp_path_factory.mktemp("engine") / "proj"
    shutil.copytree(FIXTURE, root)
    _lengthen(root / "leap_integration.py")
    project = Project(root)
    project.analyse("leap_integration.py")
    for step in steps:
        project.apply(step)
        project.analyse(step[1] if isinstance(step[1], str) and step[0] != "config" else "leap_integration.py")
        STATS["steps"] += 1
    STATS["examples"] += 1


def test_the_fuzzing_ran() -> None:
    # runs after the fuzz test (pytest keeps file order): the budget left room for real examples
    assert STATS["examples"] >= min(5, EXAMPLES) and STATS["steps"] > STATS["examples"], STATS


def test_the_oracle_catches_a_stale_closure(tmp_path) -> None:
    """The oracle is not vacuous: an engine that keeps a closure it should rebuild is caught."""
    from tensorleap_ls.core.engine.analysis import OracleMismatch
    from tensorleap_ls.core.project import closure

    root = tmp_path / "proj"
    shutil.copytree(FIXTURE, root)
    project = Project(root)
    project.analyse("leap_integration.py")
    real = closure.ClosureBuilder.reuse

    def keep(self, old):  # a broken engine: the old closure whatever changed
        return real(self, old) or old

    closure.ClosureBuilder.reuse = keep
    try:
        project.apply(("create", "tensorleap/extra.py"))
        project.apply(("edit", "leap_integration.py", 0.0, 0.0, "from tensorleap import extra\n"))
        with pytest.raises(OracleMismatch):
            project.analyse("leap_integration.py")
    finally:
        closure.ClosureBuilder.reuse = real

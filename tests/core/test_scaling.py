"""The analysis does work linear in the project: doubling a project at most doubles the work.

Work is counted, not timed: the number of Python function calls of one full analysis (cProfile's
count; a C function such as ``ast.parse`` counts once), for each project of bench/projects.py at a
size ``n`` and ``2n``: the adversarial ones (star-import cycles with a self-import and a mutual one,
30-deep re-export chains, many modules, many bindings, helpers and values defined in terms of each
other, YAML configs read many times) and the vendored-library shape. A super-linear path (a lookup
that re-walks a star-import ring per name, an evaluation that re-evaluates shared values) shows as a
ratio near 4 or far beyond; linear work gives a ratio under 2 (the fixed cost of an analysis is
shared). The benchmark (bench/engine.py) times the same projects at full size.
"""

from __future__ import annotations

import cProfile
import pstats
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import projects  # noqa: E402  (bench/projects.py)

from tensorleap_ls.core.engine.analysis import Analyzer  # noqa: E402

# Linear work with a shared fixed cost doubles at most; the margin covers what differs between two
# generated sizes (a random import graph, names one character longer).
LINEAR = 2.2


def _work(root: Path) -> int:
    prof = cProfile.Profile()
    prof.enable()
    try:
        analyses = Analyzer().analyze_path(str(root))
    finally:
        prof.disable()
    assert analyses and analyses[0].bindings, "the generated project was analysed"
    return pstats.Stats(prof).total_calls


@pytest.fixture(scope="module", autouse=True)
def warm(tmp_path_factory):
    """Imports and first-use caches (the SDK table, YAML) are not the project's work."""
    root = tmp_path_factory.mktemp("warm")
    projects.many_modules(str(root), 5)
    Analyzer().analyze_path(str(root))


@pytest.mark.parametrize("kind", sorted(projects.ADVERSARIAL))
def test_adversarial_work_is_linear(kind, tmp_path):
    generate, _, n = projects.ADVERSARIAL[kind]
    generate(str(tmp_path / "n"), n)
    generate(str(tmp_path / "2n"), 2 * n)
    small, big = _work(tmp_path / "n"), _work(tmp_path / "2n")
    assert big <= LINEAR * small, f"{kind}: {small} calls at n={n}, {big} at 2n ({big / small:.2f}x)"


def test_vendored_library_work_is_linear(tmp_path):
    projects.vendored(str(tmp_path / "n"), modules=15, lines=7_500)
    projects.vendored(str(tmp_path / "2n"), modules=30, lines=15_000)
    small, big = _work(tmp_path / "n"), _work(tmp_path / "2n")
    assert big <= LINEAR * small, f"{small} calls at 15 modules, {big} at 30 ({big / small:.2f}x)"


def test_star_import_cycles_resolve(tmp_path):
    """The memoized lookup still finds what the star-import web binds: a name at the far end of a
    ring, through a self-import and a mutual pair, and nothing for a name bound nowhere."""
    projects.star_cycles(str(tmp_path), 12)
    (pa,) = Analyzer().analyze_path(str(tmp_path))
    names = {b.name for b in pa.bindings if b.kind.value == "metadata"}
    assert {f"ring_{i}" for i in range(12)} <= names
    entry = pa.modules[str(tmp_path / "leap_integration.py")]
    from tensorleap_ls.core.project.evaluate import Resolver

    r = Resolver(pa.modules, pa.project.resolved, lambda p: None, str(tmp_path))
    assert r.lookup(entry, "helper_value")[0] == "def"
    assert r.lookup(entry, "A_NAME")[0] == "assign" and r.lookup(entry, "B_NAME")[0] == "assign"
    assert r.lookup(entry, "NOWHERE_3") is None


def test_reexport_chains_resolve(tmp_path):
    """A function re-exported through 30 modules and a package ``__init__`` is found at its definition."""
    projects.reexport_chains(str(tmp_path), 2)
    (pa,) = Analyzer().analyze_path(str(tmp_path))
    names = {b.name for b in pa.bindings if b.kind.value == "metadata"}
    assert names == {"chain_0", "chain_1"}
    defs = {b.def_span.path for b in pa.bindings if b.kind.value == "metadata"}
    assert all(p.endswith("m0.py") for p in defs), defs

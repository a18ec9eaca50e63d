"""The incremental engine recomputes what an edit changes, and only that (core/engine/).

Counted by ``Analyzer.stats``: closures built / reused, binding checks run / reused. Every analysis
here also runs in oracle mode (a full analysis of the same texts must say the same), so a reuse that
changes what the user sees fails too.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tensorleap_ls.core.engine.analysis import Analyzer

FIXTURE = Path(__file__).resolve().parents[1] / "reliability" / "fixtures" / "mnist_decorator"
ENTRY = "leap_integration.py"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    shutil.copytree(FIXTURE, root)
    return root


class Editor:
    def __init__(self, root: Path):
        self.root = root
        self.analyzer = Analyzer(oracle=True)
        self.texts: dict[str, str] = {}
        self.pa = None

    def text(self, rel: str) -> str:
        return self.texts.get(rel) or (self.root / rel).read_text(encoding="utf-8")

    def edit(self, rel: str, old: str, new: str) -> None:
        text = self.text(rel)
        assert old in text, old
        self.texts[rel] = text.replace(old, new, 1)
        self.analyzer.set_overlay(str(self.root / rel), self.texts[rel])

    def analyse(self) -> dict:
        before = dict(self.analyzer.stats)
        (self.pa,) = self.analyzer.analyze_file(str(self.root / ENTRY))
        return {k: v - before.get(k, 0) for k, v in self.analyzer.stats.items()}

    def codes(self) -> list[str]:
        return sorted(f.code for f in self.pa.findings)


def test_an_edit_that_changes_no_import_recomputes_no_closure(project: Path) -> None:
    ed = Editor(project)
    assert ed.analyse()["closures_built"] == 1
    ed.edit(ENTRY, "return (gt.argmax(-1)", "return  (gt.argmax(-1)")
    done = ed.analyse()
    assert done.get("closures_reused") == 1 and not done.get("closures_built")
    ed.edit("tensorleap/encoders.py", "rng = np.random", "rng  = np.random")
    assert ed.analyse().get("closures_reused") == 1
    # an import added: the closure is built again
    ed.edit(ENTRY, "import os\n", "import os\nimport tensorleap\n")
    assert ed.analyse().get("closures_built") == 1


def test_a_new_file_on_disk_rebuilds_the_closure_it_enters(project: Path) -> None:
    ed = Editor(project)
    ed.edit(ENTRY, "import os\n", "import os\nfrom tensorleap import extra\n")
    ed.analyse()
    assert str(project / "tensorleap" / "extra.py") not in ed.pa.modules
    (project / "tensorleap" / "extra.py").write_text("X = 1\n")  # no notification: its folder's mtime says it
    done = ed.analyse()
    assert done.get("closures_built") == 1 and str(project / "tensorleap" / "extra.py") in ed.pa.modules


def test_an_edit_in_one_function_rechecks_the_bindings_that_reach_it(project: Path) -> None:
    ed = Editor(project)
    first = ed.analyse()
    n = len(ed.pa.bindings)
    assert first["binding_checks_run"] >= n
    # the body of one metric: its binding, and the integration test that calls it, are checked again
    ed.edit(ENTRY, "return (gt.argmax(-1) == pred.argmax(-1)).astype(np.float32)",
            "return (gt.argmax(-1) == pred.argmax(-1)).astype(np.float64)")
    done = ed.analyse()
    per_check = first["binding_checks_run"] // n  # contracts and registrars: one run per binding each
    assert done.get("binding_checks_run", 0) <= 2 * per_check, done
    assert done.get("binding_checks_reused", 0) >= (n - 2) * per_check
    # nothing changed: nothing is checked again
    done = ed.analyse()
    assert not done.get("binding_checks_run"), done


def test_a_helper_edit_rechecks_the_bindings_that_use_it_with_the_right_findings(project: Path) -> None:
    """An input encoder returning what a helper below it returns: the helper's body decides the encoder's
    findings, so editing the helper re-checks the encoder (and the oracle compares the findings)."""
    ed = Editor(project)
    enc = "tensorleap/encoders.py"
    ed.edit(enc, "    rng = np.random.default_rng(idx)\n    return rng.random((IMAGE_SIZE, IMAGE_SIZE, 1)).astype(np.float32)",
            "    return make_input(idx)\n\n\ndef make_input(idx):\n    return np.zeros((IMAGE_SIZE, IMAGE_SIZE, 1), np.float32)")
    ed.analyse()
    clean = ed.codes()
    ed.edit(enc, "    return np.zeros((IMAGE_SIZE, IMAGE_SIZE, 1), np.float32)", "    return [idx, idx]")
    done = ed.analyse()
    assert done.get("binding_checks_run", 0) >= 1 and done.get("binding_checks_reused", 0) >= 1, done
    assert ed.codes() != clean, "the helper's new return is seen through the re-checked encoder"
    assert any(f.span.path.endswith("encoders.py") for f in ed.pa.findings if f.code not in clean)


def test_an_edit_inside_a_helper_function_looks_up_no_name_again(project: Path) -> None:
    """The fingerprints' lookups of what the bindings' statements name elsewhere (engine/deps.py) hold while the
    closure is reused and every module binds the same names: kept from the last analysis."""
    ed = Editor(project)
    assert ed.analyse().get("fingerprint_lookups", 0) > 0
    ed.edit("tensorleap/encoders.py", "rng = np.random.default_rng(idx)", "rng = np.random.default_rng(idx + 1)")
    done = ed.analyse()
    assert not done.get("fingerprint_lookups") and done.get("binding_checks_run", 0) >= 1, done
    # a new top-level name: what a name is may have changed, the lookups are made again
    ed.edit("tensorleap/encoders.py", "@tensorleap_gt_encoder('classes')", "SEED = 3\n\n\n@tensorleap_gt_encoder('classes')")
    assert ed.analyse().get("fingerprint_lookups", 0) > 0


def test_a_config_or_leap_yaml_change_rechecks_every_binding(project: Path) -> None:
    ed = Editor(project)
    ed.analyse()
    (project / "tensorleap" / "config.yaml").write_text("labels: [a, b]\nimage_size: 8\ntrain_size: 30\nval_size: 10\n")
    ed.analyzer.invalidate(str(project / "tensorleap" / "config.yaml"))
    done = ed.analyse()
    assert not done.get("binding_checks_reused"), done


def test_released_trees_come_back_with_the_same_findings(project: Path) -> None:
    """Memory: the trees the last analysis did not use, of modules neither open nor holding a binding, are
    released beyond a bound; what needs them later parses them again, and the findings (compared by the
    oracle with a full analysis, and with an analyzer that keeps every tree) do not change."""
    from tensorleap_ls.core.facts.modules import CLOCK

    ed = Editor(project)
    ed.analyzer.tree_room = 0
    ed.analyse()
    assert not ed.analyse().get("trees_released"), "the trees the last analysis used stay (no parse per edit)"
    CLOCK[0] += 1  # as after an analysis of another project: none of these trees was used by it
    assert ed.analyzer._modules.trim(set(), 0) >= 1
    released = [m for m in ed.pa.modules.values() if not m.loaded]
    assert released and all(m.parsed for m in released)
    ed.edit(ENTRY, "import os\n", "import os\nimport tensorleap\n")  # a new closure: every module read again
    ed.analyse()
    assert sum(m.loads for m in released) >= 1  # a released tree was asked for, and parsed again
    keeper = Analyzer()
    keeper.tree_room = 10_000
    keeper.set_overlay(str(project / ENTRY), ed.texts[ENTRY])
    (full,) = keeper.analyze_file(str(project / ENTRY))
    assert ed.codes() == sorted(f.code for f in full.findings)
    assert [f.span for f in ed.pa.findings] == [f.span for f in full.findings]

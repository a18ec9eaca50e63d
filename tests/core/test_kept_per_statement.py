"""What the checks keep on an unchanged top-level statement between edits (issue 20: an unchanged statement is the
same node in the file's next tree, source/parse.py): a decorator's registrar and its arguments' text and places
(project/registrations.py), each statement's deps facts (engine/deps.py), the SDK API findings of its calls
(checks/sdk_api.py), its PreprocessResponse and Leap* findings (checks/contracts.py, checks/results.py), the walks
of a def (facts/nodes.py). After each edit, including edits that change what a kept value depends on (a decorator's
argument, a module constant it reads, a constant of another module it imports, the import itself, the SDK names a
module imports), the analysis says what a fresh one says: the engine's oracle compares every analysis with a full
one, and the bindings are compared here with those of a new analyzer."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

from tensorleap_ls.core.engine.analysis import Analyzer
from tensorleap_ls.core.facts.modules import parse_module
from tensorleap_ls.core.facts.nodes import own, under
from tensorleap_ls.core.sdk import env as sdk_env


def _env(root: str):
    return sdk_env.environment(None)  # the test environment's code-loader: the SDK API check runs

HEADER = textwrap.dedent('''\
    from typing import List

    import numpy as np
    from code_loader.contract.datasetclasses import PreprocessResponse
    from code_loader.contract.enums import DataStateType, LeapDataType, MetricDirection
    from code_loader.contract.visualizer_classes import LeapHorizontalBar, LeapImage
    from code_loader.inner_leap_binder.leapbinder_decorators import (
        tensorleap_preprocess, tensorleap_input_encoder, tensorleap_gt_encoder, tensorleap_metadata,
        tensorleap_custom_visualizer, tensorleap_custom_metric, tensorleap_integration_test)

    from consts import PREFIX, SPLIT

    NAME = 'first'


    @tensorleap_preprocess()
    def preprocess() -> List[PreprocessResponse]:
        return [PreprocessResponse(sample_ids=[1, 2], state=DataStateType.training),
                PreprocessResponse(length=SPLIT, state='validation')]


    @tensorleap_input_encoder('image', channel_dim=-1)
    def input_image(idx: int, preprocess: PreprocessResponse) -> np.ndarray:
        return np.zeros((8, 8, 1), np.float32)


    @tensorleap_gt_encoder('classes')
    def gt_classes(idx: int, preprocess: PreprocessResponse) -> np.ndarray:
        return np.zeros(3, np.float32)


    @tensorleap_metadata(NAME)
    def meta_named(idx: int, preprocess: PreprocessResponse) -> float:
        return 1.0


    @tensorleap_metadata(f'{PREFIX}_imported')
    def meta_imported(idx: int, preprocess: PreprocessResponse) -> float:
        return 2.0


    @tensorleap_custom_visualizer('image_viz', LeapDataType.Imagee)
    def image_viz(image: np.ndarray) -> LeapImage:
        return LeapImage(data=[1, 2])


    ''')

BLOCK = textwrap.dedent('''\
    @tensorleap_metadata('meta_{i}')
    def meta_{i}(idx: int, preprocess: PreprocessResponse) -> float:
        return float(idx * {i} % 7)


    @tensorleap_custom_visualizer('bar_{i}', LeapDataType.HorizontalBar)
    def bar_{i}(pred: np.ndarray) -> LeapHorizontalBar:
        return LeapHorizontalBar(body=pred[0], labels=['a'])


    ''')

FOOTER = textwrap.dedent('''\
    @tensorleap_integration_test()
    def integration_test(idx, preprocess):
        image = input_image(idx, preprocess)
        image_viz(image)
        meta_named(idx, preprocess)
        meta_imported(idx, preprocess)
    {calls}
    ''')

ENTRY = HEADER + "".join(BLOCK.format(i=i) for i in range(30)) + FOOTER.format(
    calls="".join(f"    meta_{i}(idx, preprocess)\n    bar_{i}(image)\n" for i in range(30)))

# (file, old, new): each edit changes what some kept value depends on
EDITS = [
    ("entry.py", "'meta_3'", "'meta_3x'"),  # a decorator's argument
    ("entry.py", "NAME = 'first'", "NAME = 'second'"),  # a module constant a decorator reads
    ("consts.py", "PREFIX = 'pre'", "PREFIX = 'post'"),  # a constant of another module a decorator reads
    ("entry.py", "from consts import PREFIX, SPLIT", "from consts import OTHER as PREFIX, SPLIT"),  # the import
    ("entry.py", "LeapDataType, MetricDirection", "LeapDataType as LDT, MetricDirection"),  # the SDK names imported
    ("entry.py", "LeapDataType.Imagee)", "LDT.Imagee)"),
    ("entry.py", "state='validation'", "state=DataStateType.validation"),  # a PreprocessResponse
    ("entry.py", "body=pred[0], labels=['a'])\n\n\n@tensorleap_metadata('meta_7')",
     "body=[1.0], labels=['a'])\n\n\n@tensorleap_metadata('meta_7')"),  # a Leap* result
    ("entry.py", "    return float(idx * 5 % 7)", "    return float(idx * 5 % 7)\n\n\nEXTRA = 1"),  # lines inserted
]


def _bindings(pa) -> list:
    return sorted((b.kind.value, b.name, b.function, b.reg_span, b.def_span, b.name_span,
                   tuple((k, a.text, a.span, repr(a.value)) for k, a in b.args.items())) for b in pa.bindings)


def _findings(pa) -> list:
    return sorted((f.code, f.message, f.span) for f in pa.findings)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "leap.yaml").write_text("entryFile: entry.py\ninclude:\n  - entry.py\n  - consts.py\n", encoding="utf-8")
    (tmp_path / "requirements.txt").write_text("code-loader==1.0.214\nnumpy\n", encoding="utf-8")
    (tmp_path / "consts.py").write_text("PREFIX = 'pre'\nOTHER = 'other'\nSPLIT = 4\n", encoding="utf-8")
    (tmp_path / "entry.py").write_text(ENTRY, encoding="utf-8")
    return tmp_path


def test_kept_statement_facts_say_what_a_fresh_analysis_says_after_each_edit(project: Path) -> None:
    analyzer = Analyzer(env_for=_env, oracle=True)  # every analysis is also compared with a full one
    entry = str(project / "entry.py")
    texts = {name: (project / name).read_text(encoding="utf-8") for name in ("entry.py", "consts.py")}
    (pa,) = analyzer.analyze_file(entry)
    assert len(texts["entry.py"]) > 4_000  # long enough for the statements to be shared (source/parse.py)
    codes = {f.code for f in pa.findings}
    assert {"TL420", "TL219", "TL217", "TL234"} <= codes, codes  # the kept findings are there to compare
    for name, old, new in EDITS:
        assert old in texts[name], old
        texts[name] = texts[name].replace(old, new, 1)
        analyzer.set_overlay(str(project / name), texts[name])
        (pa,) = analyzer.analyze_file(entry)
        fresh = Analyzer(env_for=_env, oracle=False)
        for path, text in texts.items():
            fresh.set_overlay(str(project / path), text)
        (pb,) = fresh.analyze_file(entry)
        assert _bindings(pa) == _bindings(pb), (old, new)
        assert _findings(pa) == _findings(pb), (old, new)
    names = {b.name for b in pa.bindings}
    assert {"meta_3x", "second", "other_imported"} <= names, names
    codes = [f.code for f in pa.findings]
    assert "TL217" not in codes and "TL420" in codes and codes.count("TL234") == 2, codes


def test_an_unchanged_decorator_keeps_its_registrar_and_a_changed_one_does_not(project: Path) -> None:
    analyzer = Analyzer()
    entry = str(project / "entry.py")
    text = (project / "entry.py").read_text(encoding="utf-8")
    analyzer.set_overlay(entry, text)
    analyzer.analyze_file(entry)
    first = analyzer.analyze_file(entry)[0].project.modules[entry]

    def kept(mod, fn):
        return mod.defs[fn].decorator_list[0].__dict__.get("_tl_registrar")

    before = {fn: kept(first, fn) for fn in ("meta_3", "meta_20", "meta_named")}
    assert all(before.values())
    analyzer.set_overlay(entry, text.replace("'meta_3'", "'meta_3x'"))
    second = analyzer.analyze_file(entry)[0].project.modules[entry]
    assert second.defs["meta_20"] is first.defs["meta_20"]  # shared statement
    assert kept(second, "meta_20") is before["meta_20"] and kept(second, "meta_named") is before["meta_named"]
    assert kept(second, "meta_3") is not before["meta_3"]


def test_kept_walks_are_those_of_a_fresh_walk() -> None:
    text = textwrap.dedent('''
        def f(a=lambda: 1):
            x = 1
            def inner():
                return 2
            class K:
                def m(self):
                    return 3
            y = [g(z) for z in range(3)]
            return x + y
    ''')
    mod = parse_module("/p/m.py", "m", text)
    fn = mod.defs["f"]
    assert under(fn) == tuple(ast.walk(fn))[1:]
    assert under(fn, ast.Call) == tuple(n for n in ast.walk(fn) if isinstance(n, ast.Call) and n is not fn)
    assert under(fn, ast.Call) is under(fn, ast.Call)  # kept
    assert [r.lineno for r in own(fn, ast.Return)] == [10]  # not those of the nested def and method

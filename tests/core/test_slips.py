"""The commonest slips (issue 25), in-process: each at its line, one finding per root cause, and the fixes the
product offers leave code that imports.

The planted cases of test_codes.py (TL112-TL114, both styles, several files) are checked at their line there,
their preferred fix applied and re-analysed in test_fixes.py, over LSP in tests/e2e/test_actions.py, and run
through the real SDK (before and after the fix) in tests/oracle/test_slips_oracle.py. Here: what depends on a
failing import is related information on it, the "Register" and "Create a stub" fixes after a slip, and the
undefined-name rules on code written the way real integrations are (star-imported helpers, optional
back-ends, configs read at import, ``globals()`` tables, class scopes, comprehensions, postponed annotations).
"""

from __future__ import annotations

import sys
import textwrap
from collections import defaultdict
from pathlib import Path

import pytest

from tensorleap_ls.core.engine.analysis import Analyzer
from tensorleap_ls.core.fixdata import MissingPart
from tensorleap_ls.core.fixes import run_fixer
from tensorleap_ls.core.model import Finding, Severity, TextEdit
from tensorleap_ls.core.sdk import env as sdk_env

from test_codes import CASES, plant
from test_fixes import IMPORT_TIME, apply

SLIPS = {"TL112", "TL113", "TL114"}
MISSING_PARTS = {"TL101", "TL102", "TL103", "TL104", "TL105", "TL106"}


def _case(code: str, marker: str):
    return next(c for c in CASES if c.code == code and c.marker == marker)


def _analysis(root: Path, sdk: bool = False):
    env = (lambda _root: sdk_env.environment(sys.executable)) if sdk else None
    (pa,) = Analyzer(env_for=env).analyze_path(str(root)) if env else Analyzer().analyze_path(str(root))
    return pa


def _apply(fix) -> None:
    by_file: dict[str, list[TextEdit]] = defaultdict(list)
    for e in fix.edits:
        by_file[e.span.path].append(e)
    for path, edits in by_file.items():
        p = Path(path)
        p.write_text(apply(p.read_text(encoding="utf-8"), edits), encoding="utf-8")


def _errors(pa) -> list[str]:
    return [f"{Path(f.span.path).name}:{f.span.line + 1} {f.code} {f.message}" for f in pa.findings
            if f.effective_severity <= Severity.WARNING]


# --- one root cause, one finding -------------------------------------------------------------------
@pytest.mark.parametrize("marker, missing, hidden", [
    ("@tensorleap_input_encodr", "TL102", "`input_encoder` is not a Tensorleap-decorated function"),
    ("from mnist_tl.encoders import gt_encoder", "TL106", "`gt_encoder` is not a Tensorleap-decorated function"),
])
def test_what_a_failing_import_hides_is_its_related_information(tmp_path, marker, missing, hidden):
    code = "TL113" if marker.startswith("@") else "TL112"
    root = plant(tmp_path, _case(code, marker))
    pa = _analysis(root)
    assert not [f for f in pa.findings if f.code in MISSING_PARTS | {"TL303"}], _errors(pa)
    (host,) = [f for f in pa.findings if f.code == code]
    related = [msg for _, msg in host.related]
    assert any(m.startswith({"TL102": "The integration registers no input encoder",
                             "TL106": "No ground-truth encoder"}[missing]) for m in related), related
    assert any(hidden in m for m in related), related
    # the same project once the slip is fixed: nothing at all (the example is clean as shipped)
    _apply(next(x for x in run_fixer(host, pa) if x.preferred))
    assert _errors(_analysis(root)) == []


def test_a_misspelled_call_in_the_test_is_one_finding_with_did_you_mean(tmp_path):
    root = plant(tmp_path, _case("TL114", "gt_encodr("))
    pa = _analysis(root)
    (f,) = [f for f in pa.findings if f.code in ("TL114", "TL303", "TL310")]
    assert f.code == "TL114" and "did you mean `gt_encoder`?" in f.message
    assert {m.split(" ", 1)[0] for _, m in f.related} == {"`gt_encodr`", "`gt_encoder`"}  # TL303 and TL310 folded


# --- the product's own fixes after a slip ----------------------------------------------------------
def test_register_replaces_a_misspelled_decorator_instead_of_stacking_one(tmp_path):
    root = plant(tmp_path, _case("TL113", "@tensorleap_input_encodr"))
    pa = _analysis(root)
    missing = Finding("TL102", "The integration registers no input encoder", pa.findings[0].span,
                      data=MissingPart("input", "decorator"))
    fix = next(x for x in run_fixer(missing, pa) if x.preferred)
    assert fix.title.startswith("Register `input_encoder`")
    _apply(fix)
    text = (root / "mnist_tl/encoders.py").read_text()
    assert text.count("@tensorleap_input_encoder(") == 1 and "tensorleap_input_encodr" not in text
    assert "@tensorleap_input_encoder('image', channel_dim=-1)\ndef input_encoder(" in text  # its arguments kept
    assert _errors(_analysis(root)) == []


@pytest.mark.parametrize("marker", ["from mnist_tl.encoders import gt_encoder", "encode_label"])
def test_the_missing_part_stub_fixes_the_import_of_the_deleted_function(tmp_path, marker):
    case = _case("TL112", marker)
    root = plant(tmp_path, case)
    pa = _analysis(root)
    style = "decorator" if case.base.startswith("decorator") else "legacy"
    missing = Finding("TL106", "No ground-truth encoder", pa.findings[0].span, data=MissingPart("ground_truth", style))
    fix = next(x for x in run_fixer(missing, pa) if x.preferred)
    _apply(fix)
    after = _analysis(root)
    assert not [f for f in after.findings if f.code in IMPORT_TIME], _errors(after)
    assert not [f for f in after.findings if f.code in MISSING_PARTS], _errors(after)
    if style == "legacy":  # the entry's own `set_ground_truth(encode_label, ...)` registers it: no second call
        assert "leap_binder.set_ground_truth" not in (root / "digits/functions.py").read_text()


def test_an_undefined_helper_without_a_candidate_is_an_error_without_a_fix(tmp_path):
    """Issue 25's case 4 as written: nothing in the project is called `normalise_factor` or looks like it."""
    root = plant(tmp_path, CASES[0].__class__(
        "TL114", "decorator_mnist", "mnist_tl/encoders.py", "    label = preprocess.data['labels']",
        "    scale = normalise_factor(idx)\n    label = scale * preprocess.data['labels']"))
    pa = _analysis(root)
    (f,) = [f for f in pa.findings if f.code == "TL114"]
    assert f.effective_severity is Severity.ERROR and "ground-truth encoder `gt_encoder` raises NameError" in f.message
    assert (root / "mnist_tl/encoders.py").read_text().split("\n")[f.span.line][f.span.col:f.span.end_col] == \
        "normalise_factor"
    assert run_fixer(f, pa) == []


def test_a_misspelled_sdk_import_is_renamed_where_it_is_used(tmp_path):
    """TL420 (the installed SDK lacks the name): the fix renames the import and the decorator that uses it."""
    root = plant(tmp_path, CASES[0].__class__(
        "TL420", "decorator_mnist", "mnist_tl/encoders.py", "tensorleap_gt_encoder", "tensorleap_gt_encodr"))
    text = (root / "mnist_tl/encoders.py").read_text()
    (root / "mnist_tl/encoders.py").write_text(text.replace("@tensorleap_gt_encoder(", "@tensorleap_gt_encodr("))
    pa = _analysis(root, sdk=True)
    (f,) = [f for f in pa.findings if f.code == "TL420"]
    assert f.data.suggestion == "tensorleap_gt_encoder" and "did you mean" in f.message
    assert not [x for x in pa.findings if x.code in MISSING_PARTS]  # folded: the import fails first
    _apply(next(x for x in run_fixer(f, pa) if x.preferred))
    assert "tensorleap_gt_encodr" not in (root / "mnist_tl/encoders.py").read_text()
    assert _errors(_analysis(root, sdk=True)) == []


# --- the rules on code written the way integrations are ---------------------------------------------
HEADER = """\
import numpy as np
from code_loader.contract.datasetclasses import PreprocessResponse
from code_loader.contract.enums import DataStateType
from code_loader.inner_leap_binder.leapbinder_decorators import (tensorleap_gt_encoder, tensorleap_input_encoder,
                                                                 tensorleap_integration_test, tensorleap_preprocess)
"""
REGISTRATIONS = """

@tensorleap_preprocess()
def preprocess():
    return [PreprocessResponse(sample_ids=[0, 1], sample_id_type=int, state=DataStateType.training),
            PreprocessResponse(sample_ids=[2], sample_id_type=int, state=DataStateType.validation)]


@tensorleap_input_encoder('image', channel_dim=-1)
def input_image(idx, preprocess):
{body}


@tensorleap_gt_encoder('classes')
def gt_classes(idx, preprocess):
    return np.zeros(3, dtype=np.float32)


@tensorleap_integration_test()
def integration_test(idx, preprocess):
    input_image(idx, preprocess)
    gt_classes(idx, preprocess)
"""


def _project(tmp_path: Path, body: str, top: str = "", files: dict[str, str] | None = None) -> Path:
    root = tmp_path / "p"
    root.mkdir()
    (root / "leap.yaml").write_text("entryFile: leap_integration.py\n")
    (root / "leap_integration.py").write_text(HEADER + textwrap.dedent(top) + REGISTRATIONS.format(
        body=textwrap.indent(textwrap.dedent(body).strip("\n"), "    ")))
    for name, text in (files or {}).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(text))
    return root


def _slips(root: Path) -> list[tuple[str, str, str, str]]:
    """(code, severity, file, text of the finding's span) of every slip."""
    out = []
    for f in _analysis(root).findings:
        if f.code in SLIPS:
            line = Path(f.span.path).read_text().split("\n")[f.span.line]
            out.append((f.code, f.effective_severity.label, Path(f.span.path).name, line[f.span.col:f.span.end_col]))
    return out


SILENT = {
    "builtins and globals bound after the function": ("return np.zeros(SIZE, dtype=np.float32) + len(str(idx))",
                                                      "", {}, "SIZE = 3\n"),
    "a global bound by a function that runs first": ("return np.zeros(3, dtype=np.float32) + SCALE", """\
        def configure():
            global SCALE
            SCALE = 2.0


        configure()
        """, {}, ""),
    "a star import of a third-party module": ("return np.zeros(3, dtype=np.float32) + pi",
                                              "from math import *\n", {}, ""),
    "a star-imported local helper (re-exported through another star)": (
        "return normalise(np.zeros(3, dtype=np.float32))", "from utils import *\n",
        {"utils/__init__.py": "from utils.image import *\n",
         "utils/image.py": "import numpy as np\n\n\ndef normalise(x):\n    return x / 255.0\n"}, ""),
    "names written through globals()": ("return np.zeros(3, dtype=np.float32) + scale_image", """\
        for _name in ('image', 'depth'):
            globals()[f'scale_{_name}'] = 1.0
        """, {}, ""),
    "names bound by exec": ("return np.zeros(3, dtype=np.float32) + SCALE", "exec('SCALE = 1.0')\n", {}, ""),
    "an optional back-end": ("return cv2.resize(np.zeros((3, 3), dtype=np.float32), (3, 3)) if cv2 else np.zeros(3, dtype=np.float32)", """\
        try:
            import cv2
        except ImportError:
            cv2 = None
        """, {}, ""),
    "a conditional import of the same name": ("return resize(np.zeros(3, dtype=np.float32))", """\
        import os
        if os.environ.get('FAST'):
            from fast_ops import resize
        else:
            def resize(x):
                return x
        """, {}, ""),
    "a class attribute read through the class": ("return np.zeros(Config.size, dtype=np.float32)", """\
        class Config:
            size = 3
            double = size * 2
            names = [n for n in ('a', 'b')]
        """, {}, ""),
    "comprehension and lambda scopes": ("return np.array([f(i) for i in range(3)], dtype=np.float32)", """\
        f = (lambda v, k=2: v * k)
        TABLE = {k: v for k, v in zip('abc', range(3))}
        """, {}, ""),
    "postponed annotations": ("return np.zeros(3, dtype=np.float32)", """\
        from __future__ import annotations


        def describe(x: SomeLaterType) -> 'Other':
            return x
        """, {}, ""),
    "type-checking imports in string annotations": ("return np.zeros(3, dtype=np.float32)", """\
        from typing import TYPE_CHECKING
        if TYPE_CHECKING:
            from heavy_lib import Model


        def run(model: 'Model') -> None:
            return None
        """, {}, ""),
    "a NameError handled where it may happen": ("""\
        try:
            return np.zeros(3, dtype=np.float32) * undefined_scale
        except NameError:
            return np.zeros(3, dtype=np.float32)""", "", {}, ""),
    "code that never runs on the platform": ("return np.zeros(3, dtype=np.float32)", "", {}, """\
        if __name__ == '__main__':
            run_locally()
        """),
    "an unregistered function nobody calls": ("return np.zeros(3, dtype=np.float32)", "", {}, """\
        def leftover():
            return helper_that_was_deleted()
        """),
    "a branch under a module flag that is off": (
        "if DEBUG:\n    return np.zeros(3, dtype=np.float32) * scael\nreturn np.zeros(3, dtype=np.float32)",
        "DEBUG = False\n", {}, ""),
    "a del'd temporary": ("return np.zeros(3, dtype=np.float32) + OFFSET", """\
        _tmp = 3
        OFFSET = _tmp - 3
        del _tmp
        """, {}, ""),
    "a local module imported with __getattr__": ("return np.zeros(3, dtype=np.float32) + lazy.VALUE",
                                                 "import lazy\nfrom lazy import anything_goes\n",
                                                 {"lazy.py": "def __getattr__(name):\n    return 1.0\n"}, ""),
    "__all__ re-exports": ("return scale(np.zeros(3, dtype=np.float32))", "from ops import *\n",
                           {"ops.py": "__all__ = ['scale']\n\n\ndef scale(x):\n    return x * 2\n"}, ""),
}


@pytest.mark.parametrize("body, top, files, tail", SILENT.values(), ids=list(SILENT))
def test_real_code_that_runs_is_not_a_slip(tmp_path, body, top, files, tail):
    root = _project(tmp_path, body, top, files)
    (root / "leap_integration.py").write_text((root / "leap_integration.py").read_text() + "\n\n" + textwrap.dedent(tail))
    assert _slips(root) == []


REPORTED = {
    "a misspelled decorator argument": (
        "return np.zeros(3, dtype=np.float32)", "", {}, "", [("TL113", "error", "leap_integration.py", "CHANEL_DIM")],
        ("channel_dim=-1)\ndef input_image", "channel_dim=CHANEL_DIM)\ndef input_image")),
    "a class body": ("return np.zeros(3, dtype=np.float32)", "class Config:\n    size = IMAGE_SIZ\n", {}, "",
                     [("TL113", "error", "leap_integration.py", "IMAGE_SIZ")], None),
    "a lambda default": ("return np.zeros(3, dtype=np.float32)", "scale = (lambda v, k=FACTOR: v * k)\n", {}, "",
                         [("TL113", "error", "leap_integration.py", "FACTOR")], None),
    "a decorator used before it is defined": (
        "return np.zeros(3, dtype=np.float32)", "@cached\ndef table():\n    return {}\n\n\ndef cached(f):\n    return f\n",
        {}, "", [("TL113", "error", "leap_integration.py", "cached")], None),
    "a name the local star import does not bind": (
        "return normalize(np.zeros(3, dtype=np.float32))", "from utils import *\n",
        {"utils.py": "def normalise(x):\n    return x / 255.0\n"}, "",
        [("TL114", "error", "leap_integration.py", "normalize")], None),
    "an import from a local module that lacks the name": (
        "return normalise(np.zeros(3, dtype=np.float32))", "from utils import normalise\n",
        {"utils.py": "def normalize(x):\n    return x / 255.0\n"}, "",
        [("TL112", "error", "leap_integration.py", "normalise")], None),
    "a deleted name re-exported by a package": (
        "return normalise(np.zeros(3, dtype=np.float32))", "from utils import normalise\n",
        {"utils/__init__.py": "from utils.image import normalise\n", "utils/image.py": "X = 1\n"}, "",
        [("TL112", "error", "__init__.py", "normalise")], None),
    "a registration under a config condition": (
        "return np.zeros(3, dtype=np.float32)", "import os\nUSE_DEPTH = os.environ.get('DEPTH') == '1'\n", {},
        "if USE_DEPTH:\n    @tensorleap_input_encodr('depth', channel_dim=-1)\n    def depth(idx, preprocess):\n"
        "        return np.zeros(3, dtype=np.float32)\n",
        [("TL113", "warning", "leap_integration.py", "tensorleap_input_encodr")], None),
    "a helper the encoder calls": (
        "return np.zeros(3, dtype=np.float32) * scale_of(idx)", "def scale_of(idx):\n    return factr * idx\n\n\nfactor = 2\n",
        {}, "", [("TL114", "error", "leap_integration.py", "factr")], None),
    "an import inside an encoder": (
        "from utils import normalise\nreturn normalise(np.zeros(3, dtype=np.float32))", "",
        {"utils.py": "def normalize(x):\n    return x\n"}, "", [("TL112", "error", "leap_integration.py", "normalise")],
        None),
    "a branch under a module flag that is on": (
        "if DEBUG:\n    return np.zeros(3, dtype=np.float32) * scael\nreturn np.zeros(3, dtype=np.float32)",
        "DEBUG = True\nscale = 2\n", {}, "", [("TL114", "error", "leap_integration.py", "scael")], None),
    "a branch of an encoder": (
        "if idx % 2:\n    return np.zeros(3, dtype=np.float32) * scael\nreturn np.zeros(3, dtype=np.float32)", "scale = 2\n", {}, "",
        [("TL114", "warning", "leap_integration.py", "scael")], None),
}


@pytest.mark.parametrize("body, top, files, tail, expected, edit", REPORTED.values(), ids=list(REPORTED))
def test_slips_in_real_code_are_reported_at_their_name(tmp_path, body, top, files, tail, expected, edit):
    root = _project(tmp_path, body, top, files)
    entry = root / "leap_integration.py"
    text = entry.read_text() + "\n\n" + textwrap.dedent(tail)
    if edit:
        assert edit[0] in text
        text = text.replace(*edit)
    entry.write_text(text)
    assert _slips(root) == expected


def test_vendored_library_code_is_left_alone(tmp_path):
    """A vendored package's conditional Python-2 branches and lazily imported back-ends say nothing."""
    root = _project(tmp_path, "return np.zeros(3, dtype=np.float32)", "import vendored\n", {
        "vendored/__init__.py": """\
            import sys
            from vendored.compat import text_type
            if sys.version_info[0] == 2:
                string_types = (basestring,)
            else:
                string_types = (str,)


            def load_backend():
                from vendored import _backend_that_is_compiled
                return _backend_that_is_compiled
            """,
        "vendored/compat.py": "try:\n    text_type = unicode\nexcept NameError:\n    text_type = str\n",
    })
    assert _slips(root) == []

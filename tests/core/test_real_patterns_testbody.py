"""Issue 10, classes 1, 2 and 5, and TL310 through lists and loops: code other people write that the
SDK accepts gets no error; what the SDK rejects stays an error, at the line the SDK names.

Fixtures under tests/fixtures/real_patterns/testbody_*/ are written like public integrations. Every
pattern declared accepted is run through the real code-loader 1.0.214 the way the platform parses
a project (``tests/sdk_mapping.py``: ``LeapLoader.exec_script``, i.e. import + the integration test
in mapping mode), and every pattern that stays an error is shown to fail there.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tensorleap_ls.core.engine.analysis import Analyzer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sdk_mapping import bundle_copy, run_mapping  # noqa: E402

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "real_patterns"

pytestmark = pytest.mark.dynamic  # runs the real code-loader in a child process


def findings(root: Path, prefix: str = "TL"):
    return [f for pa in Analyzer().analyze_path(str(root)) for f in pa.findings if f.code.startswith(prefix)]


def show(fs) -> list:
    return [(f.code, Path(f.span.path).name, f.span.line + 1, f.message) for f in fs]


def copy(tmp_path: Path, name: str) -> Path:
    dst = tmp_path / name
    shutil.copytree(FIX / name, dst, ignore=shutil.ignore_patterns("__pycache__"))
    return dst


def edit(path: Path, old: str, new: str) -> int:
    """Replaces ``old`` (must occur once) and returns the 1-based line of the first line of ``new``."""
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"fixture drifted: {old!r}"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return text[:text.index(old)].count("\n") + 1


# --- class 1: TL405 and package __init__.py files left out of include ---------------------------------
def test_harmless_init_files_left_out_of_include_are_not_errors():
    """Failing before: TL405 on each empty / docstring / comment+pass+__all__ / `...` __init__.py."""
    fs = findings(FIX / "testbody_namespace", "TL4")
    assert [f for f in fs if f.code == "TL405"] == [], show(fs)


def test_the_namespace_bundle_imports_and_registers_on_the_sdk(tmp_path):
    """What `leap push` uploads (no __init__.py at all) imports on the SDK and registers the same."""
    bundle = bundle_copy(FIX / "testbody_namespace", tmp_path / "bundle")
    assert not list(bundle.rglob("__init__.py"))
    assert (bundle / "seg_utils" / "viz" / "plots.py").is_file()
    on_platform, full = run_mapping(bundle), run_mapping(FIX / "testbody_namespace")
    assert on_platform.ok and full.ok, on_platform.output + full.output
    assert on_platform.registered == full.registered
    assert on_platform.registered["input"] == ["image"] and "dice" in on_platform.registered["loss"]


def test_reexporting_init_left_out_stays_an_error_and_fails_on_the_sdk(tmp_path):
    root = FIX / "testbody_init_reexport"
    fs = [f for f in findings(root) if f.code == "TL405"]
    # once, at the import; leap.yaml's list as related information
    assert [(Path(f.span.path).name, f.span.line + 1) for f in fs] == [("leap_integration.py", 8)]
    assert [(Path(s.path).name, s.line + 1) for s, _ in fs[0].related] == [("leap.yaml", 2)]
    assert all(f.data.path == "cls_tl/__init__.py" for f in fs)
    assert run_mapping(root).ok  # the whole project works locally ...
    r = run_mapping(bundle_copy(root, tmp_path / "bundle"))  # ... the uploaded bundle does not
    assert not r.ok and "ImportError: cannot import name 'encode_image' from 'cls_tl'" in r.error
    assert r.line == 8


def test_init_that_runs_code_left_out_stays_an_error_and_fails_on_the_sdk(tmp_path):
    """An __init__.py imported for its side effect (it imports the submodule that registers)."""
    root = copy(tmp_path, "testbody_init_reexport")
    (root / "cls_tl" / "__init__.py").write_text("from . import encoders  # registers the encoders\n")
    entry = root / "leap_integration.py"
    edit(entry, "from cls_tl import encode_image, encode_label\n", "import cls_tl\n")
    line = edit(entry, "    image = encode_image(idx, preprocess)\n    encode_label(idx, preprocess)\n",
                "    image = cls_tl.encoders.encode_image(idx, preprocess)\n"
                "    cls_tl.encoders.encode_label(idx, preprocess)\n")
    assert [f.data.path for f in findings(root) if f.code == "TL405"] == ["cls_tl/__init__.py"]  # once, at the import
    assert run_mapping(root).ok
    r = run_mapping(bundle_copy(root, tmp_path / "bundle"))
    assert not r.ok and "has no attribute 'encoders'" in r.error and r.line == line, r.error


# The definition of "harmless" (bundle._harmless_init), checked against Python itself: with and
# without the file, `import pkg` then `import pkg.mod` leave the same observable state (public
# names of the package, what `from pkg import *` takes, output, sys.path, loaded modules) exactly
# when the analysis calls it harmless. (`__all__ = []` differs from a namespace package only for a
# `from pkg import *` run after a submodule import: it then takes nothing instead of the submodule.)
INITS = [
    ("", True),
    ('"""Helpers for the integration."""\n', True),
    ("# -*- coding: utf-8 -*-\n# helpers\n", True),
    ('"""Docs."""\n\npass\n', True),
    ("...\n", True),
    ("__all__ = []\n", True),
    ("from __future__ import annotations\n", False),  # binds `annotations` in the package
    ("__all__: list = ()\n", True),
    ("from .mod import VALUE\n", False),
    ("from . import mod\n", False),
    ("import os\n", False),
    ("VERSION = '1.0'\n", False),
    ("__all__ = ['mod']\n", False),
    ("import sys, os\nsys.path.append(os.path.dirname(__file__))\n", False),
    ("print('loading helpers')\n", False),
]

_PROBE = textwrap.dedent("""
    import io, json, sys, contextlib
    def state(pkg):
        names = sorted(n for n in vars(pkg) if not n.startswith("_"))
        return {"names": names, "path": [p for p in sys.path if "pkg" in p],
                "modules": sorted(m for m in sys.modules if m.startswith("pkg"))}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        import pkg
        first = state(pkg)
        first["star"] = sorted(getattr(pkg, "__all__", first["names"]))  # what `from pkg import *` takes
        import pkg.mod
    print(json.dumps({"import pkg": first, "import pkg.mod": state(pkg), "out": out.getvalue()}))
""")


@pytest.mark.parametrize("text,harmless", INITS, ids=[f"init{i}" for i in range(len(INITS))])
def test_harmless_means_no_observable_difference_in_python(tmp_path, text, harmless):
    root = tmp_path / "proj"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text(text)
    (root / "pkg" / "mod.py").write_text("VALUE = 1\n")
    (root / "leap_integration.py").write_text("import pkg.mod\n")
    (root / "leap.yaml").write_text("entryFile: leap_integration.py\ninclude: [leap_integration.py, pkg/mod.py]\n")

    def probe() -> dict:
        proc = subprocess.run([sys.executable, "-I", "-c", "import sys; sys.path.insert(0, '.')\n" + _PROBE],
                              cwd=root, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout.splitlines()[-1])

    with_init = probe()
    (root / "pkg" / "__init__.py").unlink()
    without = probe()
    assert (with_init == without) is harmless, (with_init, without)
    (root / "pkg" / "__init__.py").write_text(text)
    reported = [f for f in findings(root) if f.code == "TL405"]
    assert (not reported) is harmless, show(reported)


# --- class 2: TL306 / TL307 follow the data flow of the integration-test body ---------------------------
def test_containers_loops_and_constant_indices_get_no_finding():
    """Failing before: TL306 on `OUTPUT_INDICES["boxes"]`, `inputs[0]`, `pair[0]`, `metrics[...]`, `gts[...]`,
    TL302 on `inputs.append(...)` / `zip` / `range`, TL303 on `viz(pred)`, TL304 on `{...}['img']`."""
    fs = findings(FIX / "testbody_lists", "TL3")
    assert fs == [], show(fs)


def test_sdk_accepts_the_containers_and_constant_indices():
    r = run_mapping(FIX / "testbody_lists")
    assert r.ok, r.output
    assert r.registered["ground_truth"] == ["boxes", "classes"]  # registered by the factory inside the test
    assert r.connections >= 10


# (old text of the fixture's test body, new text, the code we report, the SDK's error)
REJECTED = [
    ("    image_viz(inputs[0])\n", "    image_viz(inputs[0][0])\n", "TL306", "'TempMapping' object is not subscriptable"),
    ("    image_viz(pair[0])\n", "    image = encode_image(idx, preprocess)\n    image_viz(image[0])\n", "TL306",
     "'TempMapping' object is not subscriptable"),
    ("    image_viz({'img': encode_image(idx, preprocess)}['img'])\n",
     "    image_viz({'img': encode_image(idx, preprocess)}['img'][0])\n", "TL306", "is not subscriptable"),
    ("    detection_loss(gts[0], boxes)\n", "    detection_loss(gts[0][0], boxes)\n", "TL306", "is not subscriptable"),
    ("    metadata_sample(idx, preprocess)\n", "    metadata_sample(idx, preprocess)['index']\n", "TL306",
     "'NoneType' object is not subscriptable"),
    ("    first_boxes = model(inputs)[BOXES_IDX]\n", "    first_boxes = model(inputs)[0:1]\n", "TL306",
     "Expected key to be an int or a prediction-type name"),
    ("    scores = predictions[LABELS_IDX]\n", "    scores = predictions[LABELS_IDX][0]\n", "TL307",
     "'TempMapping' object is not subscriptable"),
    ("    detection_loss(gts[0], boxes)\n", "    detection_loss(gts[0], boxes[OUTPUT_INDICES['boxes']])\n", "TL307",
     "'TempMapping' object is not subscriptable"),
    ("        viz(pred)\n", "        viz(pred[0])\n", "TL307", "'TempMapping' object is not subscriptable"),
    ("    scores = predictions[LABELS_IDX]\n", "    scores = predictions['label']\n", "TL306",
     "Unknown prediction name \"label\""),
    ("    boxes = predictions[OUTPUT_INDICES[\"boxes\"]]\n    scores = predictions[LABELS_IDX]\n",
     "    boxes, scores = predictions\n", "TL306", "too many values to unpack"),  # the placeholder iterates on
    ("    outputs = [predictions[i] for i in range(2)]\n", "    outputs = [p for p in model(inputs)]\n", "TL306",
     "no more then 10 active predictions"),
    # attributes a placeholder lacks (a TempMapping has only `node_mapping`)
    ("    image_viz(pair[0])\n", "    image = encode_image(idx, preprocess)\n    print(image.shape)\n", "TL302",
     "'TempMapping' object has no attribute 'shape'"),
    # a value that is not a placeholder, passed to a decorated visualizer
    ("    image_viz(pair[0])\n", "    image_viz([pair[0]])\n", "TL308", "'list' object has no attribute 'node_mapping'"),
    # the outputs placeholder maps int keys to Prediction0..Prediction9: no negative index, no 11th output
    ("    scores = predictions[LABELS_IDX]\n", "    scores = predictions[-1]\n", "TL306",
     "no more then 10 active predictions, -1 not supported"),
    ("    scores = predictions[LABELS_IDX]\n", "    scores = predictions[LABELS_IDX + 10]\n", "TL306",
     "no more then 10 active predictions, 11 not supported"),
]


@pytest.mark.parametrize("old,new,code,sdk_error", REJECTED, ids=[f"{c[2]}-{i}" for i, c in enumerate(REJECTED)])
def test_indexing_a_placeholder_stays_an_error_where_the_sdk_raises(tmp_path, old, new, code, sdk_error):
    root = copy(tmp_path, "testbody_lists")
    entry = root / "leap_integration.py"
    line = edit(entry, old, new) + new.count("\n") - 1  # the last new line holds the index
    r = run_mapping(root)
    assert not r.ok and sdk_error in r.error, r.error
    assert r.line == line, r.error
    fs = findings(root, "TL3")
    assert [(f.code, f.span.line + 1) for f in fs] == [(code, line)], show(fs)
    assert fs[0].effective_severity.label == "error"


@pytest.mark.parametrize("old,new", [
    ("    scores = predictions[LABELS_IDX]\n", "    scores = predictions['labels']\n"),  # a declared name
    ("    scores = predictions[LABELS_IDX]\n", "    scores = predictions[OUTPUT_INDICES['labels']]\n"),
    ("    metadata_sample(idx, preprocess)\n", "    count = len(INPUT_KEYS) + 1\n    print(count, inputs[count - 2])\n"),
    # a branch that never runs (a literal, a module constant): the SDK never sees its body
    ("    image_viz(pair[0])\n", "    if False:\n        image_viz(image[0])\n"),
    ("    image_viz(pair[0])\n", "    if LABELS_IDX == 0:\n        image_viz(image[0])\n    else:\n        image_viz(pair[0])\n"),
])
def test_more_accepted_variants(tmp_path, old, new):
    root = copy(tmp_path, "testbody_lists")
    edit(root / "leap_integration.py", old, new)
    r = run_mapping(root)
    assert r.ok, r.error
    fs = findings(root, "TL30")
    assert fs == [], show(fs)


GROUPED = ("    return [PreprocessResponse(sample_ids=list(range(8)), sample_id_type=int, state=DataStateType.training),\n"
           "            PreprocessResponse(sample_ids=list(range(8, 12)), sample_id_type=int, "
           "state=DataStateType.validation)]\n",
           "    groups = [[i, i + 1] for i in range(0, 8, 2)]\n"
           "    return [PreprocessResponse(sample_ids=groups, sample_id_type=int, state=DataStateType.training),\n"
           "            PreprocessResponse(sample_ids=[[8, 9], [10, 11]], sample_id_type=int, "
           "state=DataStateType.validation)]\n")


def test_grouped_data_set_may_index_an_encoder_group(tmp_path):
    """On grouped data (nested sample_ids) the SDK's input/GT placeholders accept `group[i]`; metadata does not."""
    root = copy(tmp_path, "testbody_lists")
    entry = root / "leap_integration.py"
    edit(entry, *GROUPED)
    edit(entry, "    image_viz(inputs[0])\n", "    image_viz(inputs[0][0])\n")
    edit(entry, "    detection_loss(gts[0], boxes)\n", "    detection_loss(gts[0][1], boxes)\n")
    assert run_mapping(root).ok
    assert findings(root, "TL30") == []
    line = edit(entry, "    metadata_sample(idx, preprocess)\n", "    metadata_sample(idx, preprocess)[0]\n")
    r = run_mapping(root)
    assert not r.ok and "'NoneType' object is not subscriptable" in r.error and r.line == line
    assert [(f.code, f.span.line + 1) for f in findings(root, "TL30")] == [("TL306", line)]


def test_the_quoted_loop_pattern(tmp_path):
    """`inputs = []; for k in keys: inputs.append(enc(k)(idx, p))` then `viz(inputs[0])`, as quoted in the issue."""
    root = copy(tmp_path, "testbody_lists")
    enc = root / "det_tl" / "encoders.py"
    edit(enc, "ENCODERS = {", "def enc(key):\n    return ENCODERS[key]\n\n\nENCODERS = {")
    entry = root / "leap_integration.py"
    edit(entry, "from det_tl.encoders import ENCODERS,", "from det_tl.encoders import ENCODERS, enc,")
    edit(entry, "    inputs = []\n    for key in INPUT_KEYS:\n        inputs.append(ENCODERS[key](idx, preprocess))\n",
         "    inputs = []; keys = INPUT_KEYS; p = preprocess\n    for k in keys: inputs.append(enc(k)(idx, p))\n")
    assert run_mapping(root).ok
    assert [f for f in findings(root, "TL30")] == []


def test_model_predict_is_reported_since_the_sdk_placeholder_has_no_predict(tmp_path):
    root = copy(tmp_path, "testbody_lists")
    line = edit(root / "leap_integration.py", "    first_boxes = model(inputs)[BOXES_IDX]\n",
                "    first_boxes = model.predict(inputs)[BOXES_IDX]\n")
    r = run_mapping(root)
    assert not r.ok and "no attribute 'predict'" in r.error and r.line == line
    fs = findings(root, "TL3")
    assert [(f.code, f.span.line + 1) for f in fs] == [("TL302", line)], show(fs)  # one finding: not also TL306
    assert fs[0].effective_severity.label == "error"


# --- class 5: the SDK's own helpers (visualize) in the integration test -----------------------------------
def test_visualize_and_plot_helpers_get_no_finding():
    """Failing before: TL303 on `visualize(...)` (with and under `if plot:`), TL302 on `plot_functions.plot_image`."""
    fs = findings(FIX / "testbody_visualize")
    assert fs == [], show(fs)


@pytest.mark.parametrize("plot", ["0", "1"])
def test_sdk_accepts_visualize_with_and_without_plotting(plot):
    r = run_mapping(FIX / "testbody_visualize", env={"PLOT": plot})
    assert r.ok, r.output
    assert r.connections >= 6


def test_a_user_helper_in_the_test_is_still_reported(tmp_path):
    root = copy(tmp_path, "testbody_visualize")
    entry = root / "leap_integration.py"
    edit(entry, "@tensorleap_integration_test()",
         "def show(data):\n    print(data.shape)\n    return data\n\n\n@tensorleap_integration_test()")
    line = edit(entry, "    visualize(img_vis)\n", "    visualize(show(img_vis))\n")
    fs = findings(root, "TL30")
    assert [(f.code, f.span.line + 1) for f in fs] == [("TL303", line)], show(fs)


# --- TL310 sees calls through lists, loops, dicts, helper variables and factories ---------------------
def test_tl310_follows_lists_loops_dicts_and_helper_variables():
    """Failing before: TL310 on encode_image, encode_depth, class_error, box_count, scores_bar, boxes_bar, text_viz."""
    assert [f for f in findings(FIX / "testbody_lists") if f.code == "TL310"] == []


@pytest.mark.parametrize("old,new,unused", [
    ("    for viz in [image_viz, edges_viz]:\n", "    for viz in [image_viz]:\n", "edges_viz"),
    ("    count = metrics['box_count']\n    count(first_boxes)\n", "", "box_count"),
    ("    for viz, pred in zip([boxes_bar, scores_bar], outputs):\n", "    for viz, pred in zip([boxes_bar], outputs):\n",
     "scores_bar"),
    ("    viz_lib.make_text_viz('scores')(scores)\n", "", "text_viz"),  # made by a factory, called through it
])
def test_tl310_still_reports_what_no_path_calls(tmp_path, old, new, unused):
    root = copy(tmp_path, "testbody_lists")
    edit(root / "leap_integration.py", old, new)
    assert [f.data.function for f in findings(root) if f.code == "TL310"] == [unused]


def test_tl310_follows_globals_and_getattr_lookups(tmp_path):
    """`globals()[f'{kind}_visualizer'](image)` in a loop, `getattr(project, 'gt_encoder')(idx, preprocess)`."""
    assert [f for f in findings(FIX / "testbody_visualize") if f.code == "TL310"] == []
    root = copy(tmp_path, "testbody_visualize")
    edit(root / "leap_integration.py", "globals()[f'{kind}_visualizer']", "globals()[f'{kind}_viz']")
    edit(root / "leap_integration.py", "getattr(project, 'gt_encoder')", "getattr(project, 'label_encoder')")
    assert sorted(f.data.function for f in findings(root) if f.code == "TL310") == ["gt_encoder", "image_visualizer"]


def test_tl310_and_tl303_follow_a_module_list_comprehension_of_factory_calls():
    """`METADATA = [_make_metadata(f) for f in CONFIG['metadata_fields']]`, then `for meta in METADATA: meta(idx, p)`
    in the test (tests/fixtures/real_style/config_loop_yaml). Failing before: TL310 on `meta`, TL303 on the call."""
    fs = findings(FIX.parent / "real_style" / "config_loop_yaml", "TL3")
    assert fs == [], show(fs)


# --- plain helpers the test calls with placeholders: followed, errors where the SDK names them ---------
HELPERS = ("\n\ndef normalise(x):\n    return x / 255.0\n\n\ndef first(items):\n    return items[0]\n\n\n"
           "def to_numpy(x):\n    return np.asarray(x)\n")


def _with_helpers(tmp_path) -> tuple[Path, Path, int]:
    root = copy(tmp_path, "testbody_lists")
    enc = root / "det_tl" / "encoders.py"
    text = enc.read_text(encoding="utf-8")
    enc.write_text(text + HELPERS, encoding="utf-8")
    edit(root / "leap_integration.py", "from det_tl.encoders import ENCODERS,", "from det_tl.encoders import first, normalise, to_numpy, ENCODERS,")
    return root, enc, text.count("\n") + HELPERS[:HELPERS.index("x / 255.0")].count("\n") + 1


def test_a_helper_that_passes_placeholders_on_is_accepted(tmp_path):
    root, _, _ = _with_helpers(tmp_path)
    edit(root / "leap_integration.py", "    image_viz(inputs[0])\n", "    image_viz(first(inputs))\n")
    assert run_mapping(root).ok
    assert findings(root, "TL30") == []


def test_arithmetic_in_a_helper_is_an_error_at_the_helper_line(tmp_path):
    root, enc, line = _with_helpers(tmp_path)
    edit(root / "leap_integration.py", "    image_viz(inputs[0])\n", "    image_viz(normalise(inputs[0]))\n")
    r = run_mapping(root)
    assert not r.ok and "unsupported operand type(s) for /: 'TempMapping'" in r.error and r.line == line, r.error
    fs = findings(root, "TL30")
    assert [(f.code, Path(f.span.path).name, f.span.line + 1) for f in fs] == [("TL301", "encoders.py", line)], show(fs)
    assert "`normalise`" in fs[0].message


def test_a_helper_that_escapes_the_mapping_is_warned_at_the_call(tmp_path):
    root, _, _ = _with_helpers(tmp_path)
    line = edit(root / "leap_integration.py", "    image_viz(inputs[0])\n", "    image_viz(to_numpy(inputs[0]))\n")
    assert [(f.code, f.span.line + 1) for f in findings(root, "TL30")] == [("TL303", line)]


def test_a_module_table_filled_by_a_factory_loop(tmp_path):
    """`GT_FUNCS = {}; for k in GT_KEYS: GT_FUNCS[k] = get_gt_func(k)` at module level: its entries are
    decorated functions, so indexing what they return is caught, and using it plainly is accepted."""
    root = copy(tmp_path, "testbody_lists")
    enc = root / "det_tl" / "encoders.py"
    enc.write_text(enc.read_text(encoding="utf-8") + "\n\nGT_FUNCS = {}\nfor _key in ('boxes', 'classes'):\n"
                   "    GT_FUNCS[_key] = get_gt_func(_key)\n", encoding="utf-8")
    entry = root / "leap_integration.py"
    edit(entry, "from det_tl.encoders import ENCODERS,", "from det_tl.encoders import GT_FUNCS, ENCODERS,")
    edit(entry, "    detection_loss(gts[0], boxes)\n", "    detection_loss(GT_FUNCS['boxes'](idx, preprocess), boxes)\n")
    assert run_mapping(root).ok
    assert findings(root, "TL30") == []
    line = edit(entry, "    detection_loss(GT_FUNCS['boxes'](idx, preprocess), boxes)\n",
                "    detection_loss(GT_FUNCS['boxes'](idx, preprocess)[0], boxes)\n")
    r = run_mapping(root)
    assert not r.ok and "not subscriptable" in r.error and r.line == line
    assert [(f.code, f.span.line + 1) for f in findings(root, "TL30")] == [("TL306", line)]

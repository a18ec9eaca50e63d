"""Dynamic checks with the real code-loader 1.0.214, in a child process of this interpreter.

Two parallel fixture integrations (decorator and legacy style) share the same function bodies
(tests/fixtures/dynamic/*/dyn/functions.py); each case plants one fault in a copy and asserts the
code, the line the finding points at, and the sample id it names. The clean fixtures produce no
dynamic finding at all.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tensorleap_ls.runtime.api import dynamic_findings

pytestmark = pytest.mark.dynamic

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "dynamic"
ENTRY = {"deco": "leap_integration.py", "legacy": "leap_binder.py"}
FUNCS = "dyn/functions.py"


def build_model(path: Path) -> None:
    """A tiny ONNX classifier: image [N, 8, 8, 1] -> 'pred' [N, 3] (softmax)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.random.default_rng(0).normal(size=(64, 3)).astype(np.float32), "W")
    shape = numpy_helper.from_array(np.array([-1, 64], dtype=np.int64), "shape")
    nodes = [helper.make_node("Reshape", ["image", "shape"], ["flat"]),
             helper.make_node("MatMul", ["flat", "W"], ["logits"]),
             helper.make_node("Softmax", ["logits"], ["pred"], axis=-1)]
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 8, 8, 1])],
                              [helper.make_tensor_value_info("pred", TensorProto.FLOAT, ["N", 3])], [w, shape])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))


def project(tmp_path: Path, style: str) -> Path:
    dst = tmp_path / style
    shutil.copytree(FIX / style, dst, ignore=shutil.ignore_patterns("__pycache__"))
    if style == "deco":
        build_model(dst / "model.onnx")
    return dst


def run(root: Path, style: str, **kw):
    kw.setdefault("samples", 0)  # every sample: the fixtures are small
    kw.setdefault("timeout_s", 10.0)
    return dynamic_findings(str(root), str(root / ENTRY[style]), python=sys.executable, **kw)


@dataclass
class Fault:
    code: str
    old: str
    new: str
    marker: str | None  # text on the line the finding must point at
    sample: object = None  # sample id the finding must name
    styles: tuple = ("deco", "legacy")
    file: str = FUNCS


FAULTS = [
    Fault("TL501", "    image = _image(idx)\n", "    image = _image(idx)\n    if idx == 37:\n        raise KeyError('no image 37')\n",
          "raise KeyError", 37),
    Fault("TL502", "    train_ids = list(range(N_TRAIN))\n", "    train_ids = list(range(N_TRAIN))\n    open('/no/such/labels.csv')\n",
          "open('/no/such/labels.csv')"),
    Fault("TL503", "    return image\n", "    return [1.0, 2.0]\n", "def encode_image("),
    Fault("TL504", "    return image\n", "    return image.astype(np.float64)\n", "def encode_image("),
    Fault("TL505", "    return label\n", "    return label / 0.0 * 0.0\n", "def encode_label("),
    Fault("TL506", "    return image\n", "    return image if idx != 12 else np.zeros((8, 7, 1), np.float32)\n",
          "def encode_image(", 12),
    Fault("TL507", "    return image\n", "    return image[None]\n", "def encode_image("),
    Fault("TL508", "    value = LABELS[idx % 3]\n", "    value = LABELS[idx % 3] if idx != 5 else 5\n", "def meta_label(", 5),
    Fault("TL509", "    return stats\n", "    return stats if idx != 7 else {'mean': 0.0}\n", "def meta_stats(", 7),
    Fault("TL510", "    return stats\n", "    return {'mean': stats}\n", "def meta_stats("),
    Fault("TL511", "    value = LABELS[idx % 3]\n", "    value = None if idx == 0 else LABELS[idx % 3]\n", "def meta_label(", 0),
    Fault("TL536", "    value = LABELS[idx % 3]\n", "    value = None if idx == 6 else LABELS[idx % 3]\n", "def meta_label(", 6),
    Fault("TL512", "    train_ids = list(range(N_TRAIN))\n", "    train_ids = list(range(N_TRAIN)) + [3]\n", "def preprocess("),
    Fault("TL513", "    val_ids = list(range(N_TRAIN, N_TRAIN + N_VAL))\n",
          "    val_ids = list(range(N_TRAIN, N_TRAIN + N_VAL - 1)) + ['x']\n", "def preprocess("),
    Fault("TL514", "    return [PreprocessResponse(sample_ids=train_ids, sample_id_type=int,",
          "    train_ids = ['p' * 300] + [str(i) for i in range(1, N_TRAIN)]\n"
          "    val_ids = [str(i) for i in val_ids]\n"
          "    return [PreprocessResponse(sample_ids=train_ids, sample_id_type=str,", "def preprocess("),
    Fault("TL515", "            PreprocessResponse(sample_ids=val_ids, sample_id_type=int, state=DataStateType.validation)]",
          "            ]", "def preprocess("),
    Fault("TL516", "    val_ids = list(range(N_TRAIN, N_TRAIN + N_VAL))\n", "    val_ids = []\n", "def preprocess("),
    Fault("TL517", "    rng = np.random.default_rng(idx)\n", "    rng = np.random.default_rng()\n", "def encode_image("),
    Fault("TL518", "    return LeapImage(pixels)\n", "    return LeapHorizontalBar(body=np.ones(3, np.float32), labels=LABELS)\n",
          "def viz_image("),
    Fault("TL519", "    return LeapImage(pixels)\n", "    return LeapImage(pixels[..., 0])\n", "return LeapImage(pixels[..., 0])"),
    Fault("TL520", "    pixels = (image[0] * 255).astype(np.uint8)\n", "    pixels = image[0]\n", "def viz_image("),
    Fault("TL521", "    mask = (image[0, ..., 0] > 0.5).astype(np.uint8)\n", "    mask = (image[0, :4, :4, 0] > 0.5).astype(np.uint8)\n",
          "def viz_mask("),
    Fault("TL522", "x=0.5, y=0.5, width=0.2", "x=40.0, y=0.5, width=0.2", "def viz_boxes("),
    Fault("TL523", "    ce(classes, pred)\n", "    ce(classes, pred * 2)\n", "ce(classes, pred * 2)", styles=("deco",),
          file=ENTRY["deco"]),
    Fault("TL524", "    return (classes.argmax(-1) == pred.argmax(-1)).astype(np.float32)\n",
          "    return float((classes.argmax(-1) == pred.argmax(-1)).mean())\n", "acc(classes, pred)", styles=("deco",),
          file=ENTRY["deco"]),
    Fault("TL530", "    label = np.eye(3, dtype=np.float32)[idx % 3]\n",
          "    label = np.eye(3, dtype=np.float32)[idx % 3]\n    while idx == 2: pass  # spins forever\n", "while idx == 2", 2),
    Fault("TL531", "    image = _image(idx)\n", "    image = _image(idx)\n    if idx == 1:\n        big = np.ones((1 << 40,), np.uint8)\n",
          "big = np.ones", 1),
    Fault("TL532", "    image = _image(idx)\n", "    image = _image(idx)\n    if idx == 4:\n        import os\n        os._exit(3)\n",
          "os._exit(3)"),
    Fault("TL533", "    train_ids = list(range(N_TRAIN))\n", "    train_ids = list(range(N_TRAIN))\n    import sys\n    sys.exit(2)\n",
          "sys.exit(2)"),
    Fault("TL535", "LABELS = ['a', 'b', 'c']\n", "LABELS = ['a', 'b', 'c']\nimport not_installed_package\n",
          "import not_installed_package"),
]


@pytest.mark.parametrize("style", ["deco", "legacy"])
def test_clean_fixture_has_no_dynamic_finding(tmp_path, style):
    findings = run(project(tmp_path, style), style)
    assert findings == [], [(f.code, f.message) for f in findings]


CASES = [(f, s) for f in FAULTS for s in f.styles]


@pytest.mark.parametrize("fault,style", CASES, ids=[f"{f.code}-{s}" for f, s in CASES])
def test_planted_fault(tmp_path, fault: Fault, style: str):
    root = project(tmp_path, style)
    target = root / fault.file
    text = target.read_text()
    assert fault.old in text, f"fixture drifted: {fault.old!r}"
    target.write_text(text.replace(fault.old, fault.new, 1))
    kw = {"memory_mb": 1024} if fault.code == "TL531" else {}
    if fault.code == "TL530":
        kw["timeout_s"] = 1.0
    findings = [f for f in run(root, style, **kw) if f.code == fault.code]
    assert findings, f"{fault.code} not found"
    f = findings[0]
    if fault.marker is not None:
        lines = Path(f.span.path).read_text().split("\n")
        assert fault.marker in lines[f.span.line], (f.span, lines[f.span.line], f.message)
    if fault.sample is not None:
        assert repr(fault.sample) in f.message or getattr(f.data, "sample", None) == fault.sample, f.message


def test_sys_path_and_cwd_are_the_platforms(tmp_path):
    """The entry is imported as a module from the project root, its folders on sys.path."""
    root = project(tmp_path, "legacy")
    (root / "leap_binder.py").write_text((root / "leap_binder.py").read_text().replace(
        "from dyn.functions import *\n",
        "from dyn.functions import *\nimport os\nassert os.getcwd() == os.path.dirname(os.path.abspath(__file__))\n"
        "assert __name__ != '__main__'\nassert 'IS_TENSORLEAP_PLATFORM' not in os.environ\n"
        "assert os.environ.get('TL_DISABLE_ANALYTICS') == '1'\n"))
    assert run(root, "legacy") == []


def test_missing_interpreter_is_a_clear_finding(tmp_path):
    root = project(tmp_path, "legacy")
    findings = dynamic_findings(str(root), str(root / "leap_binder.py"), python=str(tmp_path / "no-python"))
    assert [f.code for f in findings] == ["TL534"]


def test_every_dynamic_code_has_a_planted_fault():
    """Each registered run-time code is emitted by the runtime: a planted fault here, or the named test."""
    from tensorleap_ls.core.codes import CODES

    elsewhere = {"TL534": "test_missing_interpreter_is_a_clear_finding"}
    dynamic = {c for c in CODES if c.startswith("TL5")}
    assert dynamic - {f.code for f in FAULTS} - set(elsewhere) == set()

"""TL607: ``load_model`` visibly returns a model code-loader does not run.

code-loader 1.0.214's load_model proxy (``_validate_result``) accepts a Keras model or an onnxruntime
``InferenceSession`` only and raises "Supported models are Keras and onnxruntime only" the first time
load_model runs. The fixture is a TorchScript detection project (tests/model/fixtures/torchscript_det:
``from torch import jit`` at the top, config by star import, a helper package shared with training).
Failing variants are run by the real SDK in the models venv (torch, LiteRT and code-loader 1.0.214;
tests/model/framework_venv.py) on real model files built there; the passing variant (the detector exported
to ONNX, returned as a session) by the SDK in this interpreter. Returns we cannot see through stay silent.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from framework_venv import build, models_venv
from onnx_models import build as build_onnx, project
from tensorleap_ls.core.engine.analysis import Analyzer
from tensorleap_ls.runtime import model_info

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "torchscript_det"
SDK_ERROR = "Supported models are Keras and onnxruntime only and non of them was returned."
LOADER = ("    detector = jit.load(os.path.join(WEIGHTS, 'detector.pt'), map_location='cpu')\n"
          "    detector.eval()\n    return detector")
TOP = "from torch import jit\n"
INPUTS, OUTPUTS = [("image", [None, 3, 8, 8])], [("detections", 7)]  # det/config.py: IMAGE_SIZE 8, 5 + 2 classes


def det_project(tmp_path: Path, replace: list[tuple[str, str]] = ()) -> Path:
    return project(tmp_path, replace, model=None, fixture=FIXTURE)


def tl607(root: Path) -> list:
    [pa] = Analyzer().analyze_path(str(root))
    return [f for f in pa.findings if f.code == "TL607"]


def marked(root: Path, f) -> str:
    line = (root / "leap_integration.py").read_text().split("\n")[f.span.line]
    assert f.span.line == f.span.end_line
    return line[f.span.col:f.span.end_col]


def run_entry(python: str, root: Path) -> subprocess.CompletedProcess:
    """``python leap_integration.py``: the integration test on real samples, load_model included."""
    env = {**os.environ, "TL_DISABLE_ANALYTICS": "1", "PYTHONPATH": "", "KERAS_BACKEND": "torch"}
    return subprocess.run([python, "leap_integration.py"], cwd=root, capture_output=True, text=True, timeout=300,
                          env=env)


LITERT = [(TOP, "from ai_edge_litert.interpreter import Interpreter\n"),
          (LOADER, "    interpreter = Interpreter(model_path=os.path.join(WEIGHTS, 'detector.tflite'))\n"
                   "    interpreter.allocate_tensors()\n    return interpreter")]


@pytest.mark.parametrize("fault, fmt, name, what", [
    ([], "script", "detector.pt", "`detector`, a TorchScript module (`jit.load(...)`)"),
    (LITERT, "tflite", "detector.tflite", "`interpreter`, a LiteRT (TFLite) interpreter (`Interpreter(...)`)"),
], ids=["torchscript", "litert"])
def test_sdk_rejects_the_model_and_we_report_it(fault, fmt, name, what, tmp_path: Path):
    root = det_project(tmp_path, fault)
    [f] = tl607(root)
    assert f.effective_severity.label == "error"
    assert marked(root, f) in ("detector", "interpreter") and f"`load_model` returns {what}" in f.message
    assert "onnxruntime.InferenceSession(path)" in f.message
    python = models_venv()
    build(python, [(fmt, root / "weights" / name, INPUTS, OUTPUTS)])
    # keras imports in that venv (torch backend): the SDK rejects the model's type, not a missing library
    assert subprocess.run([python, "-c", "import keras"], env={**os.environ, "KERAS_BACKEND": "torch"}).returncode == 0
    run = run_entry(python, root)
    assert run.returncode != 0 and SDK_ERROR in run.stdout + run.stderr, run.stdout[-2000:] + run.stderr[-2000:]


EXPORTED = [(TOP, ""),
            (LOADER, "    import onnxruntime as ort\n    return ort.InferenceSession(os.path.join(WEIGHTS, 'detector.onnx'),"
                     " providers=['CPUExecutionProvider'])"),
            ("    pred = model(image)", "    pred = model.run(None, {'image': image})[0]")]


def test_exported_to_onnx_passes_the_sdk_and_is_clean(tmp_path: Path):
    """The fix the message names: the same detector exported to ONNX, returned as a session."""
    root = det_project(tmp_path, EXPORTED)
    build_onnx(root / "weights" / "detector.onnx", [("image", [None, 3, 8, 8], "float32")], [("detections", 7, 7)])
    analyzer = Analyzer()
    [pa] = analyzer.analyze_path(str(root))
    assert model_info.load_facts(analyzer, pa, sys.executable, trusted=False)
    [pa] = analyzer.analyze_path(str(root))
    assert [f.code for f in pa.findings if f.code.startswith("TL6")] == []
    run = run_entry(sys.executable, root)
    assert run.returncode == 0 and "Successful!" in run.stdout, run.stdout[-2000:] + run.stderr[-2000:]


@pytest.mark.parametrize("top, body, marker, what", [
    ("import torch\n", "    return torch.jit.load(os.path.join(WEIGHTS, 'detector.pt'))",
     "torch.jit.load(os.path.join(WEIGHTS, 'detector.pt'))", "a TorchScript module (`torch.jit.load(...)`)"),
    ("import torch.jit as tjit\n", "    return tjit.load(os.path.join(WEIGHTS, 'detector.pt'))",
     "tjit.load(os.path.join(WEIGHTS, 'detector.pt'))", "a TorchScript module (`tjit.load(...)`)"),
    ("import torch\n", "    net = torch.load(os.path.join(WEIGHTS, 'detector.pth'), weights_only=False)\n    return net",
     "net", "`net`, a pickled PyTorch object (`torch.load(...)`)"),
    ("import tensorflow as tf\n", "    interpreter = tf.lite.Interpreter(model_path=os.path.join(WEIGHTS, 'd.tflite'))\n"
     "    interpreter.allocate_tensors()\n    return interpreter", "interpreter", "a TFLite interpreter"),
    ("import tflite_runtime.interpreter as tflite\n", "    return tflite.Interpreter(os.path.join(WEIGHTS, 'd.tflite'))",
     "tflite.Interpreter(os.path.join(WEIGHTS, 'd.tflite'))", "a TFLite interpreter (`tflite.Interpreter(...)`)"),
    ("import onnx\n", "    return onnx.load(os.path.join(WEIGHTS, 'detector.onnx'))",
     "onnx.load(os.path.join(WEIGHTS, 'detector.onnx'))", "an ONNX ModelProto, not a session"),
    # the import inside load_model, as lazy loaders write it
    ("", "    from onnx import load_model as read\n    return read(os.path.join(WEIGHTS, 'detector.onnx'))",
     "read(os.path.join(WEIGHTS, 'detector.onnx'))", "an ONNX ModelProto"),
], ids=["torch.jit", "import-as", "torch.load", "tf.lite", "tflite_runtime", "onnx.load", "local-import"])
def test_import_styles_are_followed(top, body, marker, what, tmp_path: Path):
    root = det_project(tmp_path, [(TOP, top), (LOADER, body)])
    [f] = tl607(root)
    assert marked(root, f) == marker and what in f.message


@pytest.mark.parametrize("top, body", [
    # a helper of the project's own package: what it returns is not visible here
    ("from det.weights_io import load_torchscript\n",
     "    return load_torchscript(os.path.join(WEIGHTS, 'detector.pt'))"),
    # a name bound twice (`.eval()` returns the module, but we do not know that)
    (TOP, "    detector = jit.load(os.path.join(WEIGHTS, 'detector.pt'))\n    detector = detector.eval()\n"
          "    return detector"),
    # one branch returns a session: which one runs is not visible
    (TOP, "    path = os.path.join(WEIGHTS, 'detector')\n    if os.path.exists(path + '.onnx'):\n"
          "        import onnxruntime as ort\n        return ort.InferenceSession(path + '.onnx')\n"
          "    return jit.load(path + '.pt')"),
    # a wrapper class around the module
    (TOP + "from det.weights_io import *\n", "    return Wrapped(jit.load(os.path.join(WEIGHTS, 'detector.pt')))"),
    # `jit` not imported from torch: some other object
    ("jit = None\n", "    return jit.load(os.path.join(WEIGHTS, 'detector.pt'))"),
], ids=["helper", "reassigned", "branch", "wrapper", "not-torch"])
def test_invisible_returns_are_not_guessed(top, body, tmp_path: Path):
    root = det_project(tmp_path, [(TOP, top), (LOADER, body)])
    assert tl607(root) == []


@pytest.mark.parametrize("body", [
    "    import onnx\n    return onnx.load(os.path.join(WEIGHTS, 'detector.onnx'))",
    "    import onnx\n    proto = onnx.load(os.path.join(WEIGHTS, 'detector.onnx'))\n    return proto",
], ids=["return", "local-name"])
def test_quick_fix_turns_the_model_proto_into_a_session(body, tmp_path: Path):
    """TL607's fix on an `onnx.load` ModelProto: the same file through `onnxruntime.InferenceSession`; the
    project is then clean and the real SDK runs it (before the fix it fails with its own message)."""
    from tensorleap_ls.core.fixes import fixes_for

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core"))
    from test_fixes import apply  # applies several edits of one file (last first)

    root = det_project(tmp_path, EXPORTED[:2] + [(EXPORTED[1][1], body)] + EXPORTED[2:])
    build_onnx(root / "weights" / "detector.onnx", [("image", [None, 3, 8, 8], "float32")], [("detections", 7, 7)])
    before = run_entry(sys.executable, root)
    assert before.returncode != 0 and SDK_ERROR in before.stdout + before.stderr
    [pa] = Analyzer().analyze_path(str(root))
    [finding] = [f for f in pa.findings if f.code == "TL607"]
    [fix] = fixes_for(finding, pa)
    entry = root / "leap_integration.py"
    entry.write_text(apply(entry.read_text(), fix.edits))
    assert "    import onnxruntime\n" in entry.read_text() and "onnxruntime.InferenceSession(os.path.join(" in entry.read_text()
    assert tl607(root) == []
    run = run_entry(sys.executable, root)
    assert run.returncode == 0 and "Successful!" in run.stdout, run.stdout[-2000:] + run.stderr[-2000:]


def test_half_written_load_model_never_breaks_the_check(tmp_path: Path, caplog):
    """The entry cut at many points (as while typing) in each loader style: no check raises."""
    root = det_project(tmp_path)
    entry = root / "leap_integration.py"
    analyzer = Analyzer()
    with caplog.at_level("ERROR"):
        for body in [LOADER, "    import onnx\n    proto = onnx.load(os.path.join(WEIGHTS, 'd.onnx'))\n    return proto",
                     "    from ai_edge_litert.interpreter import Interpreter\n    return Interpreter(WEIGHTS)"]:
            full = entry.read_text().replace(LOADER, body)
            start = full.index("@tensorleap_load_model")
            for cut in range(start, start + 260, 3):
                analyzer.set_overlay(str(entry), full[:cut])
                analyzer.analyze_path(str(root))
    assert not [r for r in caplog.records if "failed" in r.getMessage()], caplog.text[-3000:]

"""Run-time model checks (TL610, TL611, and TL603 on a preview's forward pass): the real child
process with the real code-loader runs tests/fixtures/model/cls against ONNX models built here, and
the observed encoder shapes / predictions are compared with the model's facts server-side.
For the error (TL610), onnxruntime itself refuses the array the encoder gives."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from onnx_models import build, classifier, project, run_sdk
from tensorleap_ls.runtime.api import dynamic_findings, preview_sample

pytestmark = pytest.mark.dynamic
DYNAMIC_CODES = {"TL610", "TL611", "TL603"}  # TL603 here: from the preview's predictions
CHANNELS_LAST = [("return np.transpose(img, (2, 0, 1)).astype(np.float32)", "return img.astype(np.float32)"),
                 ("channel_dim=1", "channel_dim=-1")]


def run(root: Path):
    return dynamic_findings(str(root), str(root / "leap_integration.py"), python=sys.executable, samples=0,
                            timeout_s=30.0)


def ort_error(model: Path, x: np.ndarray) -> str:
    import onnxruntime as ort

    s = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    try:
        s.run(None, {s.get_inputs()[0].name: x})
    except Exception as e:  # noqa: BLE001 - what onnxruntime says is the point
        return str(e)
    return ""


def test_channels_last_encoder_for_a_channels_first_model(tmp_path: Path):
    root = project(tmp_path, CHANNELS_LAST)
    found = run(root)
    [f] = [f for f in found if f.code == "TL610"]
    assert ("`image` gives (8, 8, 3) but models/classifier.onnx's input `image` is (N, 3, 8, 8): move the channel "
            "axis first (np.transpose(x, (2, 0, 1)))") in f.message
    line = (root / "leap_integration.py").read_text().split("\n")[f.span.line]
    assert line[f.span.col:f.span.end_col] == "input_image"
    assert f.effective_severity.label == "error"
    # the platform fails: onnxruntime refuses the batched array, and so does the SDK's integration test...
    assert "Got invalid dimensions" in ort_error(root / "models/classifier.onnx", np.zeros((1, 8, 8, 3), np.float32))
    sdk = run_sdk(root)
    assert sdk.returncode != 0 and "Got invalid dimensions for input: image" in sdk.stdout + sdk.stderr
    # ...whose failure the run reports once, as TL610 at the encoder (not again as TL523 at the test)
    assert not [x for x in found if x.code == "TL523"], [(x.code, x.message) for x in found]


def test_channels_first_encoder_for_a_channels_last_model(tmp_path: Path):
    root = project(tmp_path, model=lambda p: classifier(p, shape=(None, 8, 8, 3)))
    [f] = [f for f in run(root) if f.code == "TL610"]
    assert "`image` gives (3, 8, 8) but models/classifier.onnx's input `image` is (N, 8, 8, 3): move the channel " \
           "axis last (np.transpose(x, (1, 2, 0)))" in f.message
    assert "Got invalid dimensions" in ort_error(root / "models/classifier.onnx", np.zeros((1, 3, 8, 8), np.float32))


def test_matching_layout_is_clean(tmp_path: Path):
    root = project(tmp_path)
    found = run(root)
    assert [f for f in found if f.code.startswith("TL6") or f.code == "TL523"] == []
    root2 = project(tmp_path / "last", CHANNELS_LAST, model=lambda p: classifier(p, shape=(None, 8, 8, 3)))
    assert [f for f in run(root2) if f.code.startswith("TL6") or f.code == "TL523"] == []
    assert ort_error(root / "models/classifier.onnx", np.zeros((1, 3, 8, 8), np.float32)) == ""


def test_integer_model_input(tmp_path: Path):
    root = project(tmp_path, model=lambda p: build(p, [("image", [None, 3, 8, 8], "int64")], [("classes", 3, 3)]))
    found = run(root)
    [f] = [f for f in found if f.code == "TL611"]
    assert "feeds models/classifier.onnx's int64 input `image`" in f.message
    assert f.effective_severity.label == "warning"
    assert not [x for x in found if x.code in ("TL523", "TL610")]  # the SDK casts: it runs


def _preview(root: Path, tmp_path: Path) -> dict:
    return preview_sample(str(root), str(root / "leap_integration.py"), "training", 0, str(tmp_path / "out"),
                          python=sys.executable)


def test_preview_prediction_shape_vs_labels(tmp_path: Path):
    """The model leaves the class axis free, so only the forward pass shows 4 classes for 3 labels."""
    root = project(tmp_path, model=lambda p: classifier(p, classes=None, real=4))
    result = _preview(root, tmp_path)
    assert result["ok"], result.get("message")
    [p] = [p for p in result["problems"] if p.get("code") == "TL603"]
    assert "`classes` has 3 label(s) but model output 0 in this sample's forward pass has size 4" in p["message"]
    assert p["line"] == 34 and p["file"].endswith("leap_integration.py")


def test_preview_prediction_shape_matching_labels(tmp_path: Path):
    root = project(tmp_path, model=lambda p: classifier(p, classes=None, real=3))
    result = _preview(root, tmp_path)
    assert result["ok"] and result["predictions"], result
    assert not [p for p in result["problems"] if str(p.get("code", "")).startswith("TL6")]

"""What the preview says it did not show, and why (issue 26, item 8): with the model run by the integration
test, a prediction-fed visualizer the test does not call is "not called by the integration test" (not
"needs the model's predictions", which read as if the model had not run), the ones it calls are shown and
not listed, and a visualizer whose input failed says so."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.dynamic
ROOT = Path(__file__).resolve().parents[2]
EXTRA = '''

@tensorleap_custom_visualizer('confidence', LeapDataType.HorizontalBar)
def confidence_bar(prediction: np.ndarray) -> LeapHorizontalBar:
    return LeapHorizontalBar(body=prediction[0].astype(np.float32), labels=LABELS)
'''


def preview(root: Path, out: Path, sample: str) -> dict:
    r = subprocess.run([sys.executable, "-m", "tensorleap_ls", "preview", str(root), "--subset", "training", "--sample",
                        sample, "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert (out / "summary.json").exists(), r.stdout + r.stderr
    return json.loads((out / "summary.json").read_text())


def test_skipped_visualizers_say_why(tmp_path: Path):
    root = tmp_path / "p"
    shutil.copytree(ROOT / "examples" / "decorator_mnist", root, ignore=shutil.ignore_patterns("__pycache__"))
    viz = root / "mnist_tl" / "visualizers.py"
    viz.write_text(viz.read_text() + EXTRA)
    s = preview(root, tmp_path / "ok", "3")
    assert s["ok"] and s["predictions"], s.get("message")  # the model ran
    shown = {v["name"] for v in s["visualizers"]}
    assert {"image_visualizer", "prediction_bar"} <= shown
    assert [(x["name"], x["why"]) for x in s["skipped"]] == [("confidence", "the integration test does not call it")]
    page = (tmp_path / "ok" / "index.html").read_text()
    assert "Not shown: confidence (the integration test does not call it)." in page
    assert "need the model" not in page and "prediction_bar (" not in page
    # an input that fails: the visualizers it feeds say so
    enc = root / "mnist_tl" / "encoders.py"
    ret = "    return preprocess.data['images'][idx - preprocess.data['offset']].astype(np.float32)\n"
    enc.write_text(enc.read_text().replace(ret, "    raise KeyError(idx)\n" + ret))
    s = preview(root, tmp_path / "bad", "3")
    whys = {x["name"]: x["why"] for x in s["skipped"]}
    assert whys["image_visualizer"] == "needs input 'image', which failed on this sample", whys

"""Previews: the bundled examples render into PNG files a person can open, their dynamic checks are
clean, a preview with a model the test builds shows the model outputs with labels, and every Leap*
class renders."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tensorleap_ls.runtime import render

pytestmark = pytest.mark.dynamic
ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tensorleap_ls", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)


@pytest.mark.parametrize("example,sample", [("decorator_mnist", "3"), ("legacy_mnist", "training_3")])
def test_bundled_examples_preview_into_pngs(tmp_path, example, sample):
    out = tmp_path / "preview"
    r = cli("preview", f"examples/{example}", "--subset", "training", "--sample", sample, "--out", str(out))
    assert r.returncode == 0, r.stdout + r.stderr
    pngs = sorted(out.glob("*.png"))
    assert {p.name for p in pngs} >= {"inputs__image.png", "visualizers__image_visualizer.png"}
    for p in pngs:
        with Image.open(p) as img:
            img.verify()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["ok"] and summary["problems"] == []
    html = (out / "index.html").read_text()
    assert html.count("<img") == len(pngs)
    if example == "decorator_mnist":  # the integration test ran with the shipped ONNX model
        assert summary["predictions"][0]["name"] == "classes" and len(summary["predictions"][0]["top"]) == 5
        assert {m["name"] for m in summary["metrics"]} == {"accuracy", "cross_entropy"}


@pytest.mark.parametrize("example", ["decorator_mnist", "legacy_mnist"])
def test_bundled_examples_dynamic_checks_are_clean(example):
    r = cli("check", "--dynamic", "--samples", "0", f"examples/{example}")
    assert r.returncode == 0 and "0 error(s), 0 warning(s)" in r.stdout, r.stdout + r.stderr


def _child():
    """The child's rendering module, imported in this test process (the tests may import code_loader;
    importing the child's modules has no side effect: only its ``__main__`` installs the sandbox)."""
    sys.path.insert(0, str(ROOT / "server/tensorleap_ls/runtime/child"))
    try:
        return importlib.import_module("tensorleap_ls_child.visuals")
    finally:
        sys.path.pop(0)


def test_every_leap_class_renders():
    from code_loader.contract.responsedataclasses import BoundingBox
    from code_loader.contract import visualizer_classes as vc

    child = _child()
    img8 = (np.random.default_rng(0).random((16, 16, 3)) * 255).astype(np.uint8)
    imgf = np.random.default_rng(1).random((16, 16, 3)).astype(np.float32)
    objects = [
        vc.LeapImage(img8), vc.LeapImage(imgf),
        vc.LeapImageMask(mask=(img8[..., 0] > 128).astype(np.uint8), image=img8, labels=["bg", "fg"]),
        vc.LeapImageWithBBox(data=img8, bounding_boxes=[BoundingBox(x=0.5, y=0.5, width=0.4, height=0.3,
                                                                    confidence=0.9, label="car")]),
        vc.LeapImageWithHeatmap(image=imgf, heatmaps=np.random.default_rng(2).random((2, 16, 16)).astype(np.float32),
                                labels=["a", "b"]),
        vc.LeapHorizontalBar(body=np.array([0.1, 0.7, 0.2], np.float32), labels=["x", "y", "z"]),
        vc.LeapGraph(data=np.random.default_rng(3).random((20, 2)).astype(np.float32)),
        vc.LeapText(data=["a", "cat", "sat"], heatmap=[0.1, 0.9, 0.3]),
        vc.LeapTextMask(mask=np.array([0, 1, 0], np.uint8), text=["a", "cat", "sat"], labels=["o", "animal"]),
        vc.LeapVideo(np.stack([img8] * 3)),
    ]
    for obj in objects:
        spec = child.render_leap(obj)
        json.dumps(spec)  # travels as JSON from the child
        name = type(obj).__name__
        img = render.leap_image(spec)
        if name in ("LeapText", "LeapTextMask"):
            assert img is None and "<span" in render.text_html(spec)
        else:
            assert img is not None and img.size[0] >= 16, name
            Image.open(__import__("io").BytesIO(render.to_png(img))).verify()
    # a float image in [0, 1] is cast without scaling, as the platform does: black
    black = render.rgb_image(child.render_leap(vc.LeapImage(imgf))["image"])
    assert max(black.getextrema()[c][1] for c in range(3)) <= 1

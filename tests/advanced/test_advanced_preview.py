"""Previews of the detection fixture through the real child and code-loader: the custom latent space as a
bar plot of its vector, the element instances' masks over the input image."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from advanced_projects import ENTRY, project  # noqa: E402

from tensorleap_ls.runtime.api import preview_sample  # noqa: E402

pytestmark = pytest.mark.dynamic


def test_detection_preview_renders_latent_space_and_instances(tmp_path):
    root = project(tmp_path, "detection")
    out = tmp_path / "preview"
    result = preview_sample(str(root), ENTRY, "training", "1", str(out), python=sys.executable)
    assert result["ok"], result.get("message")
    shown = {v["name"]: v for v in result["visualizers"]}
    latent = shown["latent space color_stats"]
    assert latent["render"]["type"] == "LeapHorizontalBar" and latent["render"]["labels"] == ["0", "1", "2"]
    instances = shown["instances objects"]
    assert instances["render"]["type"] == "LeapImageMask"
    assert instances["render"]["labels"][0] == "background" and instances["render"]["labels"][1] == "object_0"
    assert "data" in instances["render"]["image"]  # drawn, not skipped
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert any(n.startswith("visualizers__latent_space_color_stats") for n in pngs), pngs
    assert any(n.startswith("visualizers__instances_objects") for n in pngs), pngs
    assert "instances objects" in (out / "index.html").read_text()
    summary = json.loads((out / "summary.json").read_text())
    assert not summary["problems"], summary["problems"]

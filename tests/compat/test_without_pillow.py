"""Previews in a server interpreter without Pillow (the .vsix bundles pure Python only): plain images
are still PNGs (standard library), and what needs drawing is named with the command that enables it."""

from __future__ import annotations

import base64
import io
import sys

from PIL import Image

from tensorleap_ls.runtime import render

RAW = bytes((x * 7 + y * 13) % 256 for y in range(5) for x in range(4 * 3))  # 4x5 RGB


def summary() -> dict:
    image = {"data": base64.b64encode(RAW).decode("ascii"), "width": 4, "height": 5}
    return {"subset": "training", "sample_id": 0,
            "inputs": [{"name": "image", "render": image, "value": {"shape": [5, 4, 3]}}],
            "visualizers": [{"name": "img_viz", "type": "LeapImage", "render": {"type": "LeapImage", "image": image}},
                            {"name": "bars", "type": "LeapHorizontalBar",
                             "render": {"type": "LeapHorizontalBar", "labels": ["a", "b"], "values": [1.0, 0.25]}},
                            {"name": "boxes", "type": "LeapImageWithBBox",
                             "render": {"type": "LeapImageWithBBox", "image": image,
                                        "boxes": [{"x": .5, "y": .5, "w": .2, "h": .2, "label": "c", "confidence": .9}]}}]}


def test_plain_images_without_pillow(monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)  # `import PIL...` now raises ImportError
    monkeypatch.setitem(sys.modules, "PIL.Image", None)
    s = summary()
    images = render.images_of(s)
    page = render.html_page(s, images)
    monkeypatch.undo()
    assert sorted(images) == ["inputs/image", "visualizers/boxes", "visualizers/img_viz"]
    for png in images.values():
        img = Image.open(io.BytesIO(png))
        assert (img.size, img.mode, img.tobytes()) == ((4, 5), "RGB", RAW)
    # the bar chart is drawn in the page (HTML bars, their lengths in proportion), not an empty card
    bars = page.split("<b>bars</b>", 1)[1].split("</div></td>", 2)
    assert "width:240px" in bars[0] and "width:60px" in bars[1], page
    # only the boxes need Pillow: said inside their card, with the line that installs it
    assert "bars" not in s["note"] and "boxes" in s["note"] and f"{sys.executable} -m pip install pillow" in s["note"]
    boxes_card = page.split("<b>boxes</b>", 1)[1].split("</div>", 1)[0]
    assert "boxes not drawn" in boxes_card and "pip install pillow" in boxes_card


def test_with_pillow_everything_is_drawn():
    s = summary()
    images = render.images_of(s)
    assert sorted(images) == ["inputs/image", "visualizers/bars", "visualizers/boxes", "visualizers/img_viz"]
    assert "note" not in s

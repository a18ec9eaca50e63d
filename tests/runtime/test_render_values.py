"""Metrics, losses and metadata in the preview page read as values and tables, not raw JSON."""

from tensorleap_ls.runtime.render import html_page, value_html


def test_arrays_read_as_values_or_statistics():
    one = {"type": "ndarray", "shape": [1], "dtype": "float32", "min": 0.93, "max": 0.93, "mean": 0.93, "slice": [0.931234]}
    # a metric's one value reads as a number (not "0.9312 float32 1"); statistics print 4 digits, not 19
    assert value_html(one) == "0.9312 <span class='muted'>float32</span>"
    assert value_html({"type": "ndarray", "shape": [1], "dtype": "float32", "slice": [0.0]}) == "0 <span class='muted'>float32</span>"
    big = {"type": "ndarray", "shape": [4, 25], "dtype": "float32", "min": 0.0, "max": 1.0, "mean": 0.25, "slice": [0.0] * 8}
    assert value_html(big).startswith("mean 0.25 (min 0, max 1)")


def test_dicts_become_tables_and_the_page_has_no_raw_json():
    page = html_page({"subset": "training", "sample_id": 0,
                      "metrics": [{"name": "accuracy", "kind": "metric", "value": {"iou": 0.51234, "dice": 0.7}},
                                  {"name": "ce", "kind": "loss", "value": {"type": "ndarray", "shape": [1],
                                                                           "dtype": "float32", "slice": [2.302585]}}]}, {})
    assert "<td>iou</td><td>0.5123</td>" in page and "<td>ce</td><td>2.303 " in page
    assert '"type": "ndarray"' not in page and "{" not in page.split("<h2>Metrics and losses</h2>")[1]


def test_input_cards_print_short_statistics_and_skipped_visualizers_say_why():
    page = html_page({"subset": "training", "sample_id": 0,
                      "inputs": [{"name": "image", "value": {"shape": [28, 28, 1], "dtype": "float32",
                                                             "min": 0.0010000000474974513, "max": 1.0}}],
                      "skipped": [{"name": "Image", "why": "the integration test does not call it"},
                                  {"name": "Video", "why": "the integration test does not call it"},
                                  {"name": "Heatmap", "why": "needs input 'image', which failed on this sample"}]}, {})
    assert "28×28×1 float32 min 0.001 max 1<" in page and "0.0010000000474974513" not in page
    assert "Not shown: Image, Video (the integration test does not call it)." in page
    assert "Not shown: Heatmap (needs input &#x27;image&#x27;, which failed on this sample)." in page
    assert "need the model's predictions" not in page


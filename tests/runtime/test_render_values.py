"""Metrics, losses and metadata in the preview page read as values and tables, not raw JSON."""

from tensorleap_ls.runtime.render import html_page, value_html


def test_arrays_read_as_values_or_statistics():
    one = {"type": "ndarray", "shape": [1], "dtype": "float32", "min": 0.93, "max": 0.93, "mean": 0.93, "slice": [0.931234]}
    assert value_html(one) == "0.9312 <span class='muted'>float32 1</span>"
    big = {"type": "ndarray", "shape": [4, 25], "dtype": "float32", "min": 0.0, "max": 1.0, "mean": 0.25, "slice": [0.0] * 8}
    assert value_html(big).startswith("mean 0.25 (min 0, max 1)")


def test_dicts_become_tables_and_the_page_has_no_raw_json():
    page = html_page({"subset": "training", "sample_id": 0,
                      "metrics": [{"name": "accuracy", "kind": "metric", "value": {"iou": 0.51234, "dice": 0.7}},
                                  {"name": "ce", "kind": "loss", "value": {"type": "ndarray", "shape": [1],
                                                                           "dtype": "float32", "slice": [2.302585]}}]}, {})
    assert "<td>iou</td><td>0.5123</td>" in page and "<td>ce</td><td>2.303 " in page
    assert '"type": "ndarray"' not in page and "{" not in page.split("<h2>Metrics and losses</h2>")[1]

"""The scan's report: report.html draws its charts offline in a real browser (chromium), with the Vega,
Vega-Lite and vega-embed builds vendored at the versions the extension bundles."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import planted
from tensorleap_ls.runtime import api
from tensorleap_ls.runtime.scan import report

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def test_vendored_chart_libraries_are_the_extensions():
    pins = json.loads((REPO / "vscode-extension" / "package.json").read_text())["dependencies"]
    vendored = dict(line.split() for line in (report.ASSETS / "VERSIONS").read_text().splitlines())
    assert vendored == {k: pins[k] for k in ("vega", "vega-lite", "vega-embed")}
    for name in report.SCRIPTS:
        text = (report.ASSETS / name).read_text()
        assert len(text) > 50_000 and "http://" not in text[:200]
    # the UMD builds report.html inlines, in the order they need each other
    assert report.SCRIPTS == ("vega.min.js", "vega-lite.min.js", "vega-embed.min.js")


@pytest.mark.dynamic
@pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"), reason="apt-get install chromium")
def test_report_renders_its_charts_in_chromium(tmp_path):
    root = tmp_path / "shapes"
    planted.write(root, n=3000)
    out = tmp_path / "report"
    result = api.scan(str(root), str(root / "leap_integration.py"), api.ScanOptions(workers=2), python=sys.executable,
                      out=str(out))
    charts = json.loads((out / "summary.json").read_text())["charts"]
    assert result.error is None and len(charts) >= 10
    # offline: the page needs nothing but itself (no network at all for the browser)
    dom = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=15000",
                          "--proxy-server=127.0.0.1:9", "--dump-dom", (out / "report.html").as_uri()],
                         capture_output=True, text=True, timeout=180).stdout
    assert not re.search(r">chart failed:", dom)  # what the page writes in place of a chart that failed
    drawn = re.findall(r'<svg[^>]*class="marks"', dom)
    assert len(drawn) == len(charts), f"{len(drawn)} of {len(charts)} charts drawn"
    assert dom.count('class="mark-rect role-mark') >= len(charts)  # bars: histograms, value counts, classes
    for c in charts:
        assert c["title"] in dom
    if os.environ.get("TL_SCREENSHOTS"):  # docs/images/scan-report.png (README)
        subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        "--virtual-time-budget=15000", "--window-size=1300,1500",
                        f"--screenshot={os.environ['TL_SCREENSHOTS']}/scan-report.png", (out / "report.html").as_uri()],
                       capture_output=True, timeout=180, check=True)


NO_NUMPY = r'''
import builtins, sys
real = builtins.__import__
def guard(name, *a, **k):
    if name == "numpy" or name.startswith("numpy."):
        raise ImportError("numpy imported by the server")
    return real(name, *a, **k)
builtins.__import__ = guard
import tensorleap_ls.lsp.server, tensorleap_ls.lsp.scan
from tensorleap_ls.runtime.scan import report, stats
agg = stats.Aggregator(["training"], {"training": [0, 1, 2]}, {"metadata:m": {"kind": "metadata", "name": "m"},
                       "input:x": {"kind": "input", "name": "x"}}, {"function": "pre"})
for i, v in enumerate([0.5, 2.0, "NaN"]):
    agg.add("training", i, "metadata:m", [0.001, v])
    agg.add("training", i, "input:x", [0.002, [[2, 2], "float32", 0.0, 1.0, None]])
failures, st = agg.finish()
m = st["subsets"][0]["metadata"][0]
assert m["nan"] == 1 and sum(b["count"] for b in m["histogram"]) == 2, m
print("ok")
'''


def test_the_server_side_of_the_scan_needs_no_numpy():
    """The editor runs the server with the extension's pure-Python libraries (no numpy): the scan's statistics
    and report are pure Python."""
    r = subprocess.run([sys.executable, "-c", NO_NUMPY], capture_output=True, text=True, timeout=120)
    assert r.stdout.strip() == "ok", r.stderr[-2000:]


def test_histogram_bins():
    from array import array

    from tensorleap_ls.runtime.scan.stats import histogram

    bins = histogram(array("d", [0.0, 0.1, 0.2, 1.0] * 10 + [0.5] * 100))
    assert len(bins) == 5 and sum(b["count"] for b in bins) == 140  # one bin per distinct value, up to 30
    assert bins[0]["from"] == 0.0 and bins[-1]["to"] == 1.0
    assert histogram(array("d", [3.0] * 7)) == [{"from": 2.5, "to": 3.5, "count": 7}]
    assert len(histogram(array("d", [i / 1000 for i in range(1000)]))) == 30

"""The data-set scan with the local backend: children of this interpreter with the real code-loader.

The planted data set (planted.py: 20,000 samples, bad samples at known ids) is scanned in full with 2
workers; the scan must find each planted sample and nothing else. Smaller copies of it show the cache (a
rescan after editing one encoder calls only that encoder), a worker killed mid-scan (at most its in-flight
sample is lost), the CLI (exit codes, JSON), and the report files.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import planted
from tensorleap_ls.runtime import api

pytestmark = pytest.mark.dynamic

LIMITS = api.Limits(timeout_s=20.0, preprocess_timeout_s=120.0)


def scan(root: Path, **kw) -> api.ScanResult:
    options = api.ScanOptions(workers=kw.pop("workers", 2), limits=LIMITS, **kw)
    return api.scan(str(root), str(root / "leap_integration.py"), options, python=sys.executable)


def found(result: api.ScanResult) -> set[tuple]:
    return {(f["subset"], f["sample_id"], f["function"], f["code"]) for f in result.failures}


def calls(folder: Path) -> dict[str, int]:
    out: dict[str, int] = {}
    for p in folder.iterdir():
        name = p.name.split(".")[0]
        out[name] = out.get(name, 0) + p.stat().st_size
    return out


@pytest.fixture(scope="module")
def full(tmp_path_factory) -> tuple[Path, api.ScanResult]:
    root = tmp_path_factory.mktemp("planted") / "shapes"
    planted.write(root)
    return root, scan(root, workers=2)


def test_full_scan_finds_every_planted_sample_and_nothing_else(full):
    root, result = full
    assert result.error is None and not result.cancelled and result.lost == 0
    assert result.samples == planted.N + 1  # the duplicated row is a sample too
    assert result.workers == 2 and result.backend == "local"
    assert found(result) == planted.expected()
    # one entry per (sample, function), in sample order
    order = [(f["subset"] != "training", f["index"]) for f in result.failures]
    assert order == sorted(order)
    dup = next(f for f in result.failures if f["code"] == "TL512")
    assert dup["index"] == planted.PLANTED["duplicate"][1] + 1  # the repeat, right after the first row


def test_full_scan_statistics(full):
    _, result = full
    training = next(s for s in result.stats["subsets"] if s["name"] == "training")
    meta = {m["name"]: m for m in training["metadata"]}
    assert meta["label"]["type"] == "string" and meta["label"]["none"] == 1
    assert {v["value"] for v in meta["label"]["values"]} == {"circle", "square", "triangle"}
    assert meta["brightness"]["nan"] == 1 and meta["brightness"]["histogram"]
    assert sum(b["count"] for b in meta["brightness"]["histogram"]) == training["samples"] - 1
    assert meta["geometry_square"]["type"] == "boolean" and meta["geometry_source"]["type"] == "string"
    gt = {g["name"]: g for g in training["ground_truths"]}
    # class balance with the prediction type's label names; the soft-label row counts for its argmax
    assert {c["class"] for c in gt["classes"]["classes"]} == {"circle", "square", "triangle"}
    assert sum(c["count"] for c in gt["classes"]["classes"]) == training["samples"]
    assert "classes" not in gt["boxes"]  # a box is no class
    image = next(i for i in training["inputs"] if i["name"] == "image")
    assert image["shapes"] == [{"shape": [8, 8, 1], "count": training["samples"]}]
    assert 0 <= image["min"] <= image["max"] <= 1.0
    assert len(training["slowest"]) == 10
    groups = {(g["function"], g["code"]): g for g in training["failures"]}
    assert groups[("encode_boxes", "TL501")]["samples"] == [planted.PLANTED["exception"][1]]


def test_report_files(full):
    root, result = full
    summary = root / ".tensorleap" / "scan" / "summary.json"
    html = (root / ".tensorleap" / "scan" / "report.html").read_text()
    data = json.loads(summary.read_text(), parse_constant=lambda c: pytest.fail(f"bare {c} in summary.json"))
    assert data["version"] == 1 and data["scan"]["samples"] == planted.N + 1
    kinds = {(c["subset"], c["kind"]) for c in data["charts"]}
    assert {("training", "histogram"), ("training", "values"), ("training", "classes"), ("training", "failures")} <= kinds
    assert all(c["spec"]["$schema"].endswith("/vega-lite/v6.json") for c in data["charts"])
    assert "vegaEmbed(" in html and html.count("data-chart") >= len(data["charts"])
    assert "cdn" not in html.lower().split("<script>")[0] and "src=\"http" not in html  # offline: inlined
    assert (root / ".tensorleap" / ".gitignore").read_text().strip().endswith("*")


def counted(tmp_path: Path, monkeypatch, n: int) -> tuple[Path, Path]:
    """A planted project of ``n`` samples whose functions count their calls in the folder returned."""
    root, counts = tmp_path / "shapes", tmp_path / "calls"
    planted.write(root, n=n)
    counts.mkdir()
    monkeypatch.setenv("TL_SCAN_COUNT", str(counts))
    return root, counts


def test_rescan_after_editing_one_encoder_runs_only_it(tmp_path, monkeypatch):
    root, counts = counted(tmp_path, monkeypatch, 2000)
    first = scan(root)
    assert calls(counts) == {f: 2001 for f in ("encode_image", "encode_label", "encode_boxes", "meta_label",
                                               "meta_brightness", "meta_geometry")}
    assert first.cached == 0
    for p in counts.iterdir():
        p.unlink()
    same = scan(root)
    assert calls(counts) == {} and same.computed == 0 and found(same) == found(first)
    planted.edit_encoder(root)
    again = scan(root)
    assert calls(counts) == {"encode_boxes": 2001}
    assert again.cached == 5 * 2001 and again.computed == 2001
    assert found(again) == found(first)


def test_editing_a_helper_reruns_the_functions_that_use_it(tmp_path, monkeypatch):
    root, counts = counted(tmp_path, monkeypatch, 500)
    scan(root)
    for p in counts.iterdir():
        p.unlink()
    data = root / "shapes_tl" / "data.py"  # every function imports from it: all of them depend on it
    data.write_text(data.read_text().replace("level = (int(row['id']) % 250) / 255.0", "level = (int(row['id']) % 200) / 255.0"))
    scan(root)
    assert set(calls(counts)) == {"encode_image", "encode_label", "encode_boxes", "meta_label", "meta_brightness",
                                  "meta_geometry"}


def test_a_killed_worker_loses_at_most_its_sample(tmp_path, monkeypatch):
    root = tmp_path / "shapes"
    planted.write(root, n=3000)
    marker = tmp_path / "stalled.pid"
    monkeypatch.setenv("TL_SCAN_STALL", f"1500:{marker}")
    box: dict = {}
    worker = threading.Thread(target=lambda: box.update(result=scan(root)))
    worker.start()
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert time.monotonic() < deadline, "the worker never reached the stalling sample"
        time.sleep(0.05)
    os.kill(int(marker.read_text()), signal.SIGKILL)  # the process running the user's code, mid-sample
    worker.join(180)
    result = box["result"]
    assert result.error is None and result.samples == 3001
    # the killed sample is run again (isolated): nothing lost, and every record of every sample is there
    assert result.lost == 0
    assert result.computed == 6 * 3001
    assert found(result) == {f for f in found(scan(root, cache=False)) if f[1] < 3000}


def test_a_sample_that_kills_its_worker_every_time_is_the_only_one_lost(tmp_path, monkeypatch):
    root = tmp_path / "shapes"
    planted.write(root, n=1500)
    monkeypatch.setenv("TL_SCAN_CRASH", "700")
    result = scan(root)
    assert result.error is None and result.lost == 1
    lost = [f for f in result.failures if f["code"] == "TL532"]
    assert [(f["subset"], f["sample_id"], f["function"]) for f in lost] == [("training", 700, "encode_image")]
    assert "os._exit(3)" in lost[0]["message"] and "training sample 700" in lost[0]["message"]
    # every other sample went through every function
    assert result.computed == 6 * 1501 - 6
    assert found(result) - {f for f in found(result) if f[3] == "TL532"} == {("training", 555, "load_annotations", "TL512")}


def test_scan_findings_are_one_per_function_and_check(full):
    root, result = full
    findings = api.scan_findings(result)
    assert len(findings) == len({(f["function"], f["code"]) for f in result.failures})
    image_nan = next(f for f in findings if f.code == "TL505" and "'image'" in f.message)
    assert "1 sample(s) fail (first: training 9876)" in image_nan.message
    assert image_nan.span.path == str(root / "leap_integration.py")
    boxes = next(f for f in findings if f.code == "TL501")
    line = (root / "leap_integration.py").read_text().split("\n")[boxes.span.line]
    assert "float(v)" in line  # where it raised, in the user's code
    dup = next(f for f in findings if f.code == "TL512")
    assert "def load_annotations" in (root / "leap_integration.py").read_text().split("\n")[dup.span.line]


# --- the command line -----------------------------------------------------------------------------------------
def cli(*args: str, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "TL_DISABLE_ANALYTICS": "1", **kw.pop("env", {})}
    return subprocess.run([sys.executable, "-m", "tensorleap_ls", "scan", *args], capture_output=True, text=True,
                          env=env, timeout=600, **kw)


def test_cli_json_and_exit_codes(tmp_path):
    root = tmp_path / "shapes"
    planted.write(root, n=3000)
    out = tmp_path / "report"
    r = cli(str(root), "--format", "json", "--workers", "2", "--python", sys.executable, "--out", str(out))
    assert r.returncode == 1, r.stderr  # TL512 (the duplicate id) is an error
    doc = json.loads(r.stdout)
    assert doc["version"] == 1 and len(doc["projects"]) == 1
    s = doc["projects"][0]["scan"]
    assert doc["projects"][0]["root"] == str(root)
    assert {k: s[k] for k in ("samples", "workers", "backend")} == {"samples": 3001, "workers": 2, "backend": "local"}
    assert isinstance(s["seconds"], float)
    assert [(f["subset"], f["sample_id"], f["function"], f["code"]) for f in s["failures"]] == [
        ("training", 555, "load_annotations", "TL512")]
    assert set(s["failures"][0]) >= {"subset", "sample_id", "function", "code", "message"}
    assert (out / "summary.json").exists() and (out / "report.html").exists()
    # the only subset without an error: exit 0; text output with the summary line
    r = cli(str(root), "--subset", "validation", "--workers", "1", "--python", sys.executable)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "600 sample(s) scanned" in r.stdout and "1 worker(s)" in r.stdout
    assert "0 computed" in r.stdout  # validation was scanned above: all from the cache


def test_cli_usage_errors(tmp_path):
    root = tmp_path / "shapes"
    planted.write(root, n=100)
    r = cli(str(root), "--subset", "nope", "--python", sys.executable)
    assert r.returncode == 2 and "no subset 'nope'" in r.stderr and "training, validation" in r.stderr
    r = cli(str(root), "--ray-address", "127.0.0.1:1")
    assert r.returncode == 2 and "--ray-address needs --backend ray" in r.stderr
    r = cli(str(root), "--workers", "0")
    assert r.returncode == 2 and "between 1 and 1024" in r.stderr


def test_cli_python_is_chosen_as_check_does(tmp_path):
    root = tmp_path / "shapes"
    planted.write(root, n=50)
    r = cli(str(root), "--python", str(tmp_path / "no-python"), "--format", "json")
    assert r.returncode == 1
    failure = json.loads(r.stdout)["projects"][0]["scan"]["failures"][0]
    assert failure["code"] == "TL534" and "no-python" in failure["message"]
    # without --python, the project's .venv is the interpreter (as for check): here, one that cannot run it
    venv = root / ".venv" / "bin"
    venv.mkdir(parents=True)
    (venv / "python").write_text("#!/bin/sh\nexit 3\n")
    (venv / "python").chmod(0o755)
    r = cli(str(root), "--format", "json")
    failure = json.loads(r.stdout)["projects"][0]["scan"]["failures"][0]
    assert failure["code"] == "TL534" and str(venv / "python") in failure["message"]

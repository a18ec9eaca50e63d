"""The data-set scan's figures (README "Data-set scan", bench/RESULTS.md):

- samples/s with 1, 2 and N workers on a cheap encoder (MNIST-like: a 28x28 image cut from an array preprocess
  holds, a one-hot label, two metadata functions) and on one that costs 5 ms a sample (it waits, as an encoder
  reading from cloud storage does);
- the overhead per sample and function over a plain loop in the same interpreter: one child runs the same
  functions on the same samples, first in a plain ``for`` loop, then as a scan shard (checks, statistics,
  batches sent to the server); target <= 0.2 ms;
- a full scan of a cheap 12,000-sample set with 2 workers against the plain loop (target: at most 4x): both as
  a user meets them, from a cold start (a new interpreter imports the entry and runs preprocess) to the last
  sample; the scan also writes its cache and report.

    .venv/bin/python bench/scan.py [--samples 12000] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "server"))

ENTRY = '''\
import time

import numpy as np
from code_loader.contract.datasetclasses import PreprocessResponse
from code_loader.contract.enums import DataStateType
from code_loader.inner_leap_binder.leapbinder_decorators import (
    tensorleap_gt_encoder, tensorleap_input_encoder, tensorleap_metadata, tensorleap_preprocess)

N = {n}
COST = {cost}  # seconds an input takes to read (0: in memory)
LABELS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine']


@tensorleap_preprocess()
def preprocess():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, size=(N, 28, 28, 1), dtype=np.uint8)
    labels = rng.integers(0, 10, size=N)
    split = int(N * 0.8)
    return [PreprocessResponse(sample_ids=list(range(split)), data={{'images': images, 'labels': labels}},
                               sample_id_type=int, state=DataStateType.training),
            PreprocessResponse(sample_ids=list(range(split, N)), data={{'images': images, 'labels': labels}},
                               sample_id_type=int, state=DataStateType.validation)]


@tensorleap_input_encoder('image', channel_dim=-1)
def input_encoder(idx, preprocess):
    if COST:
        time.sleep(COST)
    return preprocess.data['images'][idx].astype(np.float32) / 255.0


@tensorleap_gt_encoder('classes')
def gt_encoder(idx, preprocess):
    return np.eye(10, dtype=np.float32)[preprocess.data['labels'][idx]]


@tensorleap_metadata('label')
def metadata_label(idx, preprocess):
    return LABELS[int(preprocess.data['labels'][idx])]


@tensorleap_metadata('stats')
def metadata_stats(idx, preprocess):
    image = preprocess.data['images'][idx]
    return {{'mean': float(image.mean()), 'even': int(idx) % 2 == 0}}
'''

# The plain loop: what a user would write to run every function on every sample, in a new interpreter: the
# registered (decorated) functions called one after the other, nothing checked, nothing collected.
PLAIN = r'''
import importlib.util, sys, time
t0 = time.perf_counter()
spec = importlib.util.spec_from_file_location("entry", sys.argv[1])
mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
responses = mod.preprocess()
t1 = time.perf_counter()
fns = [mod.input_encoder, mod.gt_encoder, mod.metadata_label, mod.metadata_stats]
n = 0
for r in responses:
    for sid in r.sample_ids:
        for f in fns:
            f(sid, r)
        n += 1
t2 = time.perf_counter()
print(t1 - t0, t2 - t1, n)
'''

FUNCTIONS = 4


def make_project(folder: Path, n: int, cost_ms: float) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "leap.yaml").write_text("entryFile: leap_integration.py\n")
    (folder / "leap_integration.py").write_text(ENTRY.format(n=n, cost=cost_ms / 1000.0))
    return folder / "leap_integration.py"


def plain_loop(python: str, entry: Path) -> dict:
    env = {**os.environ, "TL_DISABLE_ANALYTICS": "1"}
    t0 = time.perf_counter()
    out = subprocess.run([python, "-c", PLAIN, str(entry)], capture_output=True, text=True, env=env, check=True,
                         cwd=str(entry.parent))
    wall = time.perf_counter() - t0
    start, loop, n = out.stdout.split()
    return {"wall": wall, "start": float(start), "loop": float(loop), "samples": int(n)}


def scan_once(python: str, entry: Path, workers: int) -> dict:
    from tensorleap_ls.runtime import api

    options = api.ScanOptions(workers=workers, cache=False)
    t0 = time.perf_counter()
    result = api.scan(str(entry.parent), str(entry), options, python=python,
                      out=str(entry.parent / ".tensorleap" / f"bench-{workers}"))
    wall = time.perf_counter() - t0
    assert not result.error and not result.failures, (result.error, result.failures[:3])
    return {"wall": wall, "samples": result.samples, "samples_per_s": result.samples / wall}


def overhead(python: str, entry: Path) -> dict:
    """Per sample and function: (a shard of every sample in one child) - (the plain loop in the same child)."""
    from tensorleap_ls.runtime.child.tensorleap_ls_child import protocol
    from tensorleap_ls.runtime.runner import Limits, Runner

    root = str(entry.parent)
    runner = Runner(Limits())
    try:
        plan = runner.call(python, root, str(entry), protocol.ScanPlan(), timeout=120)
        keys = [f["key"] for f in plan.functions]
        n = next(s.length for s in plan.subsets if s.name == "training")
        plains, shards, walls = [], [], []
        for _ in range(5):
            base = runner.call(python, root, str(entry), protocol.EncodeLoop(subset="training", samples=n, raw=True),
                               timeout=300)
            t0 = time.perf_counter()
            records = []
            reply = runner.call(python, root, str(entry), protocol.ScanShard(shard=["training", 0, n, keys, False]),
                                timeout=300, progress=lambda m: records.extend((m.batch or {}).get("records") or []))
            walls.append(time.perf_counter() - t0)
            assert len(records) == n, len(records)
            plains.append(base.seconds)
            shards.append(reply.seconds)
        calls = n * len(keys)
        child = (statistics.median(shards) - statistics.median(plains)) / calls
        wall = (statistics.median(walls) - statistics.median(plains)) / calls
        return {"samples": n, "functions": len(keys), "plain_per_call_ms": statistics.median(plains) / calls * 1000,
                "overhead_ms": child * 1000, "overhead_with_transfer_ms": wall * 1000}
    finally:
        runner.close()


def section(out: dict) -> str:
    """The data-set scan's section of bench/RESULTS.md (between its markers; bench/run.py keeps it)."""
    o, pc, ps = out["overhead"], out["plain_cheap"], out["plain_slow"]
    rows = []
    for name, plain, runs in (("cheap (~0.01 ms a call, 4 functions)", pc, out["cheap"]),
                              ("5 ms a sample (the input waits, as on cloud storage)", ps, out["slow"])):
        cells = " | ".join(f"{runs[w]['samples_per_s']:,.0f} /s ({runs[w]['wall']:.1f} s)" for w in sorted(runs, key=int))
        rows.append(f"| {name}, {plain['samples']:,} samples | {plain['samples'] / plain['wall']:,.0f} /s ({plain['wall']:.1f} s) | {cells} |")
    workers = " | ".join(f"scan, {w} worker(s)" for w in sorted(out["cheap"], key=int))
    ratio = out["ratio_2_workers_vs_plain"]
    return f"""<!-- scan:begin -->
## Data-set scan

Measured by `.venv/bin/python bench/scan.py` on this 2-core machine ({out['date']}, Python {out['python']}, load average
{out['load']} while it ran: other sessions share the machine). Every figure is a whole run as a user meets it, from
a cold start (a new interpreter imports the entry and runs preprocess) to the last sample. The plain loop calls the
registered functions one after the other (nothing checked, nothing kept); the scan also checks every value, keeps
the statistics and writes its report (the cache is off: `--no-cache`).

| encoder | plain loop (one process) | {workers} |
|---|---|{'---|' * len(out['cheap'])}
{chr(10).join(rows)}

- Overhead per sample and function over a plain loop of the same functions in the same child: **{o['overhead_ms']:.3f} ms**
  ({o['overhead_with_transfer_ms']:.3f} ms with the transfer of the results to the server; the functions themselves
  cost {o['plain_per_call_ms']:.3f} ms a call; {o['samples']:,} samples x {o['functions']} functions; target 0.2 ms:
  {'PASS' if o['overhead_ms'] <= 0.2 else 'FAIL'}).
- A full scan of the cheap {pc['samples']:,}-sample set with 2 workers takes **{ratio:.1f}x** the plain loop
  (target at most 4x: {'PASS' if ratio <= 4 else 'FAIL'}); against the plain loop's loop alone (without its start),
  {out['ratio_2_workers_vs_plain_loop_only']:.1f}x.
- More workers than cores pay off only while the encoder waits (I/O); each worker also imports the entry and runs
  preprocess once.
<!-- scan:end -->
"""


def update_results(out: dict, path: Path = ROOT / "bench" / "RESULTS.md") -> None:
    import re

    text = path.read_text(encoding="utf-8")
    block = section(out)
    if "<!-- scan:begin -->" in text:
        text = re.sub(r"<!-- scan:begin -->.*?<!-- scan:end -->\n?", lambda m: block, text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.write_text(text, encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=12000)
    ap.add_argument("--slow-samples", type=int, default=1200)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4, 8])
    ap.add_argument("--json")
    ap.add_argument("--no-results", action="store_true", help="do not update bench/RESULTS.md")
    args = ap.parse_args()
    python = sys.executable
    out: dict = {"machine": f"{os.cpu_count()} cores", "python": sys.version.split()[0],
                 "date": time.strftime("%Y-%m-%d"), "load": "%.1f" % os.getloadavg()[0]}
    with tempfile.TemporaryDirectory() as tmp:
        cheap = make_project(Path(tmp) / "cheap", args.samples, 0)
        slow = make_project(Path(tmp) / "slow", args.slow_samples, 5)
        out["overhead"] = overhead(python, cheap)
        print("overhead", out["overhead"], flush=True)
        out["plain_cheap"] = plain_loop(python, cheap)
        print("plain cheap", out["plain_cheap"], flush=True)
        out["cheap"] = {w: scan_once(python, cheap, w) for w in args.workers}
        print("cheap", out["cheap"], flush=True)
        out["plain_slow"] = plain_loop(python, slow)
        print("plain slow", out["plain_slow"], flush=True)
        out["slow"] = {w: scan_once(python, slow, w) for w in args.workers}
        print("slow", out["slow"], flush=True)
    two = out["cheap"][2]["wall"]
    out["ratio_2_workers_vs_plain"] = two / out["plain_cheap"]["wall"]
    out["ratio_2_workers_vs_plain_loop_only"] = two / out["plain_cheap"]["loop"]
    out["load"] = "%s-%.1f" % (out["load"], os.getloadavg()[0])
    print(json.dumps(out, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    if not args.no_results:
        update_results(out)


if __name__ == "__main__":
    main()

"""Dynamic figures: per-sample overhead of the checks over calling the user's encoders in a plain
loop (same child, same interpreter), and preview latency with a warm child.

The example encoders cost a known, small amount (a few numpy operations on 28x28 images)."""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "server"))


def measure_dynamic(python: str, reps: int = 5) -> dict:
    from tensorleap_ls.runtime.api import preview, static_functions
    from tensorleap_ls.runtime.runner import Limits, Runner

    root = str(ROOT / "examples" / "decorator_mnist")
    entry = str(Path(root) / "leap_integration.py")
    runner = Runner(Limits(timeout_s=30, preprocess_timeout_s=120))
    try:
        runner.call(python, root, entry, {"cmd": "preprocess"})
        n = 80  # every sample of both subsets
        overheads, plain, checked = [], [], []
        for _ in range(reps):
            base = runner.call(python, root, entry, {"cmd": "encode_loop", "subset": "training", "samples": 60})
            t0 = time.perf_counter()
            resp = runner.call(python, root, entry, {"cmd": "check", "samples": 0, "seed": 0, "progress_every": 1},
                               timeout=120)
            wall = time.perf_counter() - t0
            calls = resp.calls
            per_call_plain = base.seconds / (base.samples * 4)  # 2 encoders + 2 metadata per sample
            # overhead = time of the check pass minus what the same calls cost in a plain loop
            over = (resp.total_seconds - per_call_plain * calls) / calls
            overheads.append(over)
            plain.append(per_call_plain)
            checked.append(wall)
        functions = static_functions(root, entry)
        lat = []
        for i in range(reps * 2):
            t0 = time.perf_counter()  # the whole preview: child run, PNG encoding, HTML page
            result = preview(runner, python, root, entry, "training", i, functions)
            lat.append(time.perf_counter() - t0)
            assert result["ok"], result
        user = []
        for i in range(reps):
            r = runner.call(python, root, entry, {"cmd": "preview", "subset": "training", "sample_id": i,
                                                  "run_test": True, "loaders": ["load_model"], "functions": functions})
            user.append(r.seconds)
        return {
            "samples checked per run": n,
            "user call cost (plain loop), median": f"{statistics.median(plain) * 1000:.3f} ms per call",
            "check overhead per sample and function, median": f"{statistics.median(overheads) * 1000:.3f} ms "
                                                              f"(target 0.5 ms: {'PASS' if statistics.median(overheads) <= 0.0005 else 'FAIL'})",
            "warm preview latency, median / p95": f"{statistics.median(lat) * 1000:.1f} / {sorted(lat)[int(0.95 * (len(lat) - 1))] * 1000:.1f} ms",
            "of which the user's functions (integration test, encoders, visualizers)": f"{statistics.median(user) * 1000:.1f} ms",
            "preview overhead beyond the user's functions": f"{(statistics.median(lat) - statistics.median(user)) * 1000:.1f} ms "
                                                            f"(target 30 ms: {'PASS' if statistics.median(lat) - statistics.median(user) <= 0.030 else 'FAIL'})",
        }
    finally:
        runner.close()


if __name__ == "__main__":
    for k, v in measure_dynamic(sys.executable).items():
        print(f"{k}: {v}")

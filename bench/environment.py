"""Cost of reading the project's environment (installed code-loader, outside definitions) in the
analysis, next to the analysis without it: per-edit latency on generated integrations, and the memory
held by one installed SDK's API surface.

    .venv/bin/python bench/environment.py            # prints a Markdown table (bench/RESULTS.md quotes it)
"""

import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))

from generate import generate  # noqa: E402

from tensorleap_ls.core.sdk import env as sdk_env  # noqa: E402
from tensorleap_ls.core.engine.analysis import Analyzer  # noqa: E402


def per_edit(lines: int, env_for) -> float:
    entry = generate(tempfile.mkdtemp(), lines, "decorator")
    text = Path(entry).read_text()
    analyzer = Analyzer(env_for=env_for)
    analyzer.analyze_file(entry)  # warm
    times = []
    for i in range(30):
        analyzer.set_overlay(entry, text.replace("'meta_0'", f"'meta_0{i}'"))
        t = time.perf_counter()
        analyzer.analyze_file(entry)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main() -> None:
    tracemalloc.start()
    t = time.perf_counter()
    env = sdk_env.environment(sys.executable)
    cold = (time.perf_counter() - t) * 1000
    held = tracemalloc.get_traced_memory()[0] / 1e6
    tracemalloc.stop()
    print(f"code-loader {env.sdk.version if env.sdk else None}: first read {cold:.0f} ms, {held:.1f} MB held\n")
    print("| one-character edit -> analysis (median of 30) | without the environment | with it |")
    print("|---|---|---|")
    for lines in (400, 3000):
        print(f"| {lines} lines | {per_edit(lines, None):.1f} ms | {per_edit(lines, lambda root: env):.1f} ms |")


if __name__ == "__main__":
    main()

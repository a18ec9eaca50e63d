"""Benchmark: tensorleap-ls against other Python language servers, same client, same edits.

    bash bench/run.sh            # sets up bench/.venv, runs everything, writes bench/RESULTS.md
    python bench/run.py --quick  # fewer repetitions, only what is installed

Figures (median and p95): process start -> initialize result; didOpen -> first diagnostics;
one-character edit -> next diagnostics (tensorleap-ls with debounce 0 and with its default);
code action on the deliberate error; completion in a decorator argument and after
`leap_binder.`; hover; peak RSS. Dynamic figures come from bench/dynamic.py.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generate import generate  # noqa: E402
from lsp_client import LspClient  # noqa: E402

SIZES = (80, 400, 3000)
OURS = "tensorleap-ls"


@dataclass
class ServerSpec:
    name: str
    cmd: list[str]
    init_options: dict | None = None
    version: str = ""


@dataclass
class Figures:
    samples: dict[str, list[float]] = field(default_factory=dict)  # figure -> seconds
    rss_mb: float | None = None
    notes: list[str] = field(default_factory=list)

    def add(self, key: str, value: float) -> None:
        self.samples.setdefault(key, []).append(value)


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    if not s:
        return float("nan")
    k = min(len(s) - 1, max(0, int(round(q * (len(s) - 1)))))
    return s[k]


def uri_of(path: str) -> str:
    return Path(path).resolve().as_uri()


def find_line(text: str, needle: str) -> tuple[int, int]:
    for i, line in enumerate(text.split("\n")):
        j = line.find(needle)
        if j >= 0:
            return i, j
    raise ValueError(needle)


def client_caps() -> dict:
    # Push diagnostics only (no pull support), as most clients; snippets allowed.
    return {
        "textDocument": {
            "synchronization": {"didSave": True, "dynamicRegistration": False},
            "publishDiagnostics": {"relatedInformation": True, "versionSupport": True},
            "completion": {"completionItem": {"snippetSupport": True}},
            "hover": {"contentFormat": ["markdown", "plaintext"]},
            "codeAction": {"codeActionLiteralSupport": {"codeActionKind": {"valueSet": ["quickfix", "source"]}}},
        },
        "workspace": {"configuration": True, "workspaceFolders": True},
        "window": {"workDoneProgress": True},
    }


def start(spec: ServerSpec, root: str) -> tuple[LspClient, float]:
    client = LspClient(spec.cmd, cwd=root, env={**os.environ, "TL_DISABLE_ANALYTICS": "1"})
    params = {
        "processId": os.getpid(), "rootUri": uri_of(root), "capabilities": client_caps(),
        "workspaceFolders": [{"uri": uri_of(root), "name": "bench"}],
        "initializationOptions": spec.init_options,
    }
    _, resp = client.request("initialize", params, timeout=120)
    # start -> initialize result, measured from process creation
    import time

    elapsed = time.perf_counter() - client.t_start
    if "error" in resp:
        raise RuntimeError(f"{spec.name}: initialize failed: {resp['error']}")
    client.notify("initialized", {})
    return client, elapsed


def diag_pred(uri: str, version: int | None = None):
    def pred(msg: dict) -> bool:
        if msg.get("method") != "textDocument/publishDiagnostics":
            return False
        p = msg.get("params", {})
        if p.get("uri") != uri:
            return False
        v = p.get("version")
        return version is None or v is None or v >= version

    return pred


def measure(spec: ServerSpec, lines: int, style: str, reps: int, workdir: str) -> Figures:
    fig = Figures()
    root = os.path.join(workdir, f"{spec.name}-{style}-{lines}")
    shutil.rmtree(root, ignore_errors=True)
    entry = generate(root, lines, style)
    text = Path(entry).read_text(encoding="utf-8")
    uri = uri_of(entry)

    # start -> initialize: separate processes
    for _ in range(max(3, reps // 4)):
        c, t = start(spec, root)
        fig.add("start_to_initialize", t)
        c.close()

    client, t = start(spec, root)
    fig.add("start_to_initialize", t)
    try:
        mark = client.mark()
        t0 = client.notify("textDocument/didOpen", {"textDocument": {
            "uri": uri, "languageId": "python", "version": 1, "text": text}})
        stamp, _ = client.wait_for(diag_pred(uri), mark, timeout=120)
        fig.add("open_to_diagnostics", stamp - t0)

        # one-character edits inside a registered name, alternately inserted and removed
        needle = "'meta_0'"
        line, col = find_line(text, needle)
        col += len(needle) - 1
        version = 1
        for i in range(reps):
            version += 1
            if i % 2 == 0:
                change = {"range": {"start": {"line": line, "character": col}, "end": {"line": line, "character": col}}, "text": "x"}
            else:
                change = {"range": {"start": {"line": line, "character": col}, "end": {"line": line, "character": col + 1}}, "text": ""}
            mark = client.mark()
            t0 = client.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": version}, "contentChanges": [change]})
            stamp, _ = client.wait_for(diag_pred(uri, version), mark, timeout=120)
            fig.add("edit_to_diagnostics", stamp - t0)
        if reps % 2 == 1:  # leave the text as generated
            version += 1
            change = {"range": {"start": {"line": line, "character": col}, "end": {"line": line, "character": col + 1}}, "text": ""}
            mark = client.mark()
            client.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": version}, "contentChanges": [change]})
            client.wait_for(diag_pred(uri, version), mark, timeout=120)

        # code action on the deliberate error (the visualizer's return annotation)
        aline, acol = find_line(text, "-> LeapHorizontalBar:\n".rstrip("\n") if style == "decorator" else "-> LeapHorizontalBar:")
        rng = {"start": {"line": aline, "character": acol + 3}, "end": {"line": aline, "character": acol + 20}}
        for _ in range(reps):
            dt, _ = client.request("textDocument/codeAction", {"textDocument": {"uri": uri}, "range": rng,
                                                                "context": {"diagnostics": []}})
            fig.add("code_action", dt)

        # completion: inside a decorator/registrar argument, and after `leap_binder.`
        if style == "decorator":
            cline, ccol = find_line(text, "LeapDataType.Image)")
            cpos = {"line": cline, "character": ccol + len("LeapDataType.")}
            key = "completion_decorator_arg"
        else:
            cline, ccol = find_line(text, "leap_binder.set_input(")
            cpos = {"line": cline, "character": ccol + len("leap_binder.")}
            key = "completion_leap_binder_dot"
        for _ in range(reps):
            dt, _ = client.request("textDocument/completion", {"textDocument": {"uri": uri}, "position": cpos})
            fig.add(key, dt)

        # hover on a registration
        hword = "tensorleap_custom_visualizer" if style == "decorator" else "set_visualizer"
        hline, hcol = find_line(text, hword + "(")
        for _ in range(reps):
            dt, _ = client.request("textDocument/hover", {"textDocument": {"uri": uri},
                                                           "position": {"line": hline, "character": hcol + 2}})
            fig.add("hover", dt)
        fig.rss_mb = client.peak_rss_mb()
    finally:
        client.close()
    return fig


def tool_version(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except Exception as e:  # noqa: BLE001 - a version string is cosmetic
        return f"unknown ({e.__class__.__name__})"


def server_specs(venv_bin: Path, debounce_default: bool) -> list[ServerSpec]:
    py = str(venv_bin / "python") if (venv_bin / "python").exists() else sys.executable
    specs = [ServerSpec(OURS, [py, "-m", "tensorleap_ls", "serve", "--trusted"], {"debounceMs": 0},
                        tool_version([py, "-m", "tensorleap_ls", "--version"]))]
    if debounce_default:
        specs.append(ServerSpec(OURS + " (default debounce)", [py, "-m", "tensorleap_ls", "serve"], None, specs[0].version))
    if (venv_bin / "jedi-language-server").exists():
        specs.append(ServerSpec("jedi-language-server", [str(venv_bin / "jedi-language-server")],
                                {"diagnostics": {"enable": True, "didOpen": True, "didChange": True, "didSave": True}},
                                tool_version([str(venv_bin / "jedi-language-server"), "--version"])))
    if (venv_bin / "pylsp").exists():
        specs.append(ServerSpec("python-lsp-server", [str(venv_bin / "pylsp")], None,
                                tool_version([str(venv_bin / "pylsp"), "--version"])))
    if (venv_bin / "ruff").exists():
        specs.append(ServerSpec("ruff server (Rust)", [str(venv_bin / "ruff"), "server"], None,
                                tool_version([str(venv_bin / "ruff"), "--version"])))
    specs.append(ServerSpec("bare pygls ast+pyflakes", [py, str(HERE / "baseline_server.py")], None, "reference"))
    return specs


# Targets of the performance issue, p50 in seconds.
TARGETS = {
    ("edit_to_diagnostics", 80): 0.005,
    ("edit_to_diagnostics", 400): 0.015,
    ("edit_to_diagnostics", 3000): 0.120,
    ("completion_decorator_arg", 400): 0.010,
    ("completion_leap_binder_dot", 400): 0.010,
    ("hover", 400): 0.010,
    ("code_action", 400): 0.020,
    ("start_to_initialize", None): 0.350,
}
RSS_TARGET_MB = 80.0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--venv", default=str(HERE / ".venv"), help="environment holding the servers")
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=str(HERE / "RESULTS.md"))
    ap.add_argument("--json", default=str(HERE / "results.json"))
    args = ap.parse_args()
    reps = 6 if args.quick else args.reps
    venv_bin = Path(args.venv) / "bin"
    specs = server_specs(venv_bin, debounce_default=not args.quick)
    results: dict[tuple[str, str, int], Figures] = {}
    workdir = tempfile.mkdtemp(prefix="tlbench-")
    for spec in specs:
        for style in ("decorator", "legacy"):
            for lines in SIZES:
                r = max(6, reps // 3) if lines == 3000 else reps
                if "default debounce" in spec.name and (style == "legacy" or lines != 400):
                    continue
                print(f"[bench] {spec.name:28s} {style:9s} {lines:5d} lines ...", flush=True)
                try:
                    results[(spec.name, style, lines)] = measure(spec, lines, style, r, workdir)
                except Exception as e:  # noqa: BLE001 - report, keep benchmarking the others
                    f = Figures()
                    f.notes.append(f"failed: {e!r}")
                    results[(spec.name, style, lines)] = f
                    print(f"[bench]   failed: {e!r}", flush=True)
    shutil.rmtree(workdir, ignore_errors=True)
    dynamic = None
    try:
        from dynamic import measure_dynamic

        dynamic = measure_dynamic(str(venv_bin / "python") if (venv_bin / "python").exists() else sys.executable)
    except Exception as e:  # noqa: BLE001
        dynamic = {"error": repr(e)}
    report = render(specs, results, dynamic)
    Path(args.out).write_text(report + kept_sections(Path(args.out)), encoding="utf-8")
    Path(args.json).write_text(json.dumps({
        f"{k[0]}|{k[1]}|{k[2]}": {"samples": v.samples, "rss_mb": v.rss_mb, "notes": v.notes}
        for k, v in results.items()} | {"dynamic": dynamic}, indent=1), encoding="utf-8")
    print(report)
    return 0


def fmt_ms(v: float) -> str:
    if v != v:  # NaN
        return "n/a"
    ms = v * 1000
    return f"{ms:.1f}" if ms < 100 else f"{ms:.0f}"


def kept_sections(path: Path) -> str:
    """The sections other benchmarks write into RESULTS.md between their markers (bench/scan.py's data-set
    scan): kept when this one rewrites the file."""
    import re

    text = path.read_text(encoding="utf-8") if path.exists() else ""
    return "".join("\n" + m.group(0) + "\n" for m in re.finditer(r"<!-- (\w+):begin -->.*?<!-- \1:end -->", text, re.S))


def render(specs: list[ServerSpec], results: dict, dynamic: dict | None) -> str:
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    cpu = "unknown"
    try:
        for line in open("/proc/cpuinfo", encoding="ascii", errors="replace"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    out = [
        "# Benchmark results",
        "",
        f"Generated by `bash bench/run.sh` on {now}. Machine: {os.cpu_count()} cores ({cpu}), "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}.",
        "",
        "Servers: " + "; ".join(f"{s.name} {s.version}" for s in specs),
        "",
        "All times in milliseconds, median / p95, measured by `bench/lsp_client.py` (timestamps when a",
        "message is written and when it is read). Ratios are other server / tensorleap-ls (debounce 0): above 1 means",
        "tensorleap-ls is faster. Edits are one-character edits inside a registered name.",
        "",
    ]
    figures = ["start_to_initialize", "open_to_diagnostics", "edit_to_diagnostics", "code_action",
               "completion_decorator_arg", "completion_leap_binder_dot", "hover"]
    for style in ("decorator", "legacy"):
        for lines in SIZES:
            out.append(f"## {style} style, {lines} lines")
            out.append("")
            out.append("| server | " + " | ".join(figures) + " | peak RSS MB |")
            out.append("|---|" + "---|" * (len(figures) + 1))
            ours = results.get((OURS, style, lines))
            for spec in specs:
                f = results.get((spec.name, style, lines))
                if f is None:
                    continue
                cells = []
                for key in figures:
                    vals = f.samples.get(key)
                    if not vals:
                        cells.append("")
                        continue
                    cell = f"{fmt_ms(statistics.median(vals))} / {fmt_ms(pct(vals, 0.95))}"
                    if ours is not None and spec.name != OURS and ours.samples.get(key):
                        ratio = statistics.median(vals) / max(statistics.median(ours.samples[key]), 1e-9)
                        cell += f" (×{ratio:.1f})"
                    cells.append(cell)
                rss = f"{f.rss_mb:.0f}" if f.rss_mb else ""
                note = (" " + "; ".join(f.notes)) if f.notes else ""
                out.append(f"| {spec.name}{note} | " + " | ".join(cells) + f" | {rss} |")
            out.append("")
    out.append("## Targets (p50, tensorleap-ls with debounce 0)")
    out.append("")
    for (key, lines), target in TARGETS.items():
        vals: list[float] = []
        for style in ("decorator", "legacy"):
            f = results.get((OURS, style, lines or 400))
            if f and f.samples.get(key):
                vals.extend(f.samples[key])
        if not vals:
            out.append(f"- {key} {lines or ''}: n/a")
            continue
        med = statistics.median(vals)
        verdict = "PASS" if med <= target else f"FAIL (missed by {fmt_ms(med - target)} ms)"
        out.append(f"- {key}{f' ({lines} lines)' if lines else ''}: {fmt_ms(med)} ms, target {fmt_ms(target)} ms: {verdict}")
    for lines in SIZES:
        ours_vals = [v for st in ("decorator", "legacy") for v in results.get((OURS, st, lines), Figures()).samples.get("edit_to_diagnostics", [])]
        if not ours_vals:
            continue
        ours_med = statistics.median(ours_vals)
        slower = []
        for spec in specs:
            # the other Python-written servers; the bare ast+pyflakes server is a reference, reported below
            if spec.name.startswith(OURS) or "Rust" in spec.name or spec.name.startswith("bare"):
                continue
            vals = [v for st in ("decorator", "legacy") for v in results.get((spec.name, st, lines), Figures()).samples.get("edit_to_diagnostics", [])]
            if vals and statistics.median(vals) <= ours_med:
                slower.append(spec.name)
        verdict = "PASS" if not slower else "FAIL (not faster than " + ", ".join(slower) + ")"
        out.append(f"- edit->diagnostics ({lines} lines) lower than every other Python-written server: {verdict}")
    for lines in SIZES:
        ours_vals = [v for st in ("decorator", "legacy") for v in results.get((OURS, st, lines), Figures()).samples.get("edit_to_diagnostics", [])]
        bare = [v for st in ("decorator", "legacy") for v in results.get(("bare pygls ast+pyflakes", st, lines), Figures()).samples.get("edit_to_diagnostics", [])]
        if ours_vals and bare:
            ratio = statistics.median(ours_vals) / statistics.median(bare)
            out.append(f"- edit->diagnostics ({lines} lines) vs the bare ast+pyflakes pygls server: "
                       f"{fmt_ms(statistics.median(ours_vals))} vs {fmt_ms(statistics.median(bare))} ms "
                       f"({'faster' if ratio < 1 else f'{(ratio - 1) * 100:.0f}% slower'})")
    rss = [f.rss_mb for (n, _, _), f in results.items() if n == OURS and f.rss_mb]
    if rss:
        out.append(f"- peak RSS: {max(rss):.0f} MB, target {RSS_TARGET_MB:.0f} MB: {'PASS' if max(rss) <= RSS_TARGET_MB else 'FAIL'}")
    out.append("")
    out.append("## Dynamic checks")
    out.append("")
    if not dynamic or "error" in dynamic:
        out.append(f"not measured: {dynamic.get('error') if dynamic else 'bench/dynamic.py missing'}")
    else:
        for k, v in dynamic.items():
            out.append(f"- {k}: {v}")
    out.append("")
    notes = HERE / "NOTES.md"
    if notes.exists():  # the analysis of the misses, kept with the benchmark
        out.append(notes.read_text(encoding="utf-8"))
    return "\n".join(out)


if __name__ == "__main__":
    raise SystemExit(main())

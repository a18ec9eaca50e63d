"""Run a project the way the Tensorleap platform parses it, with the real code-loader.

``run_mapping(root)`` starts a child of the venv's python that does what the platform's
``LeapLoader.exec_script()`` does (it calls it): import the entry with ``__MAPPING_RUNTIME_MODE__``
set, run preprocess once, then call the raw integration test with ``(None, PreprocessResponse(
length=0))`` so every decorated call returns its mapping placeholder. What fails there fails on
the platform; what passes is what the SDK accepts.

``bundle_copy(root, dst)`` copies only what ``leap push`` uploads (leap.yaml's include/exclude),
so a test can run the SDK on exactly the files the platform receives.

Used by tests as the oracle for "the SDK accepts this" / "the SDK rejects this at line N".
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

_MARK = "@@SDK_MAPPING@@"


@dataclass
class MappingResult:
    ok: bool
    error: str  # "<Type>: <message> (raised at <file>, line <n>)" from the SDK, "" when ok
    registered: dict  # kind -> sorted registered names, after import
    connections: int  # mapping connections recorded by the integration test
    output: str  # everything the child printed (for assertion messages)

    @property
    def line(self) -> int | None:
        """1-based line the SDK names for the failure (the user's frame), if any."""
        m = re.search(r"raised at [^,]+, line (\d+)\)", self.error)
        return int(m.group(1)) if m else None


def run_mapping(root: str | Path, entry: str | None = None, timeout: float = 180,
                env: dict[str, str] | None = None) -> MappingResult:
    root = Path(root).resolve()
    if entry is None:
        entry = _entry_of(root)
    child_env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "__MAPPING"))}
    child_env.update(env or {})
    child_env.update(TL_DISABLE_ANALYTICS="1", IS_TENSORLEAP_PLATFORM="true", MPLBACKEND="Agg")
    # -I: the child's sys.path holds neither this folder nor the cwd, only what the platform adds.
    proc = subprocess.run([sys.executable, "-I", __file__, str(root), entry], cwd=str(root), env=child_env,
                          capture_output=True, text=True, timeout=timeout)
    out = proc.stdout + proc.stderr
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith(_MARK)), None)
    if line is None:
        raise RuntimeError(f"the SDK child died (exit {proc.returncode}):\n{out}")
    data = json.loads(line[len(_MARK):])
    return MappingResult(data["ok"], data["error"], data["registered"], data["connections"], out)


def bundle_copy(root: str | Path, dst: str | Path) -> Path:
    """Copies the files `leap push` would upload (leap.yaml include/exclude; the entry always)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))
    from tensorleap_ls.core.project.leap_yaml import parse_leap_yaml

    root, dst = Path(root).resolve(), Path(dst)
    ly = parse_leap_yaml(str(root / "leap.yaml"), (root / "leap.yaml").read_text(encoding="utf-8"))
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and "__pycache__" not in rel and (rel == "leap.yaml" or ly.bundles(rel)):
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, dst / rel)
    return dst


def _entry_of(root: Path) -> str:
    ly = root / "leap.yaml"
    if ly.is_file():
        m = re.search(r"^entryFile:\s*['\"]?([^'\"\n#]+?)['\"]?\s*$", ly.read_text(encoding="utf-8"), re.M)
        if m:
            return m.group(1)
    return "leap_integration.py" if (root / "leap_integration.py").is_file() else "leap_binder.py"


def _child(root: str, entry: str) -> None:  # runs in the child process
    from code_loader import leap_binder
    from code_loader.leaploader import LeapLoader

    result = {"ok": True, "error": ""}
    try:
        LeapLoader(root, entry).exec_script()
    except BaseException as e:  # noqa: BLE001 - report whatever the SDK raised
        result = {"ok": False, "error": str(e) or repr(e)}
    sc = leap_binder.setup_container
    result["registered"] = {
        "input": sorted(h.name for h in sc.inputs), "ground_truth": sorted(h.name for h in sc.ground_truths),
        "metadata": sorted(h.name for h in sc.metadata),
        "visualizer": sorted(h.visualizer_handler_data.name for h in sc.visualizers),
        "metric": sorted(h.metric_handler_data.name for h in sc.metrics),
        "loss": sorted(h.custom_loss_handler_data.name for h in sc.custom_loss_handlers),
        "prediction": sorted(h.name for h in sc.prediction_types),
    }
    result["connections"] = len(leap_binder.mapping_connections)
    print(_MARK + json.dumps(result), flush=True)


if __name__ == "__main__":
    _child(sys.argv[1], sys.argv[2])

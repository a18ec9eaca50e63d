"""Ask the real code-loader what a project registers, the way the platform loads it.

``sdk_registrations(project)`` runs this file as a script in a subprocess of the venv's python
(``TL_DISABLE_ANALYTICS=1``, cwd = the project root). The script loads the entry with the SDK's own
``LeapLoader(root, entryFile).exec_script()``: it imports the entry (module-level registrations,
decorators) and, when an integration test is registered, runs it in mapping mode, as the platform
does. It prints one JSON document: the names registered per kind (built-in visualizers, metrics and
losses left out; ``null`` for kinds without a name) and the exception, if any.

``compare(sdk, bindings)`` lists the disagreements between that and ``check --format json``'s
bindings. The script part never imports tensorleap_ls: only the SDK and the standard library.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

# The kinds compared (the `kind` values of `check --format json`).
KINDS = ("preprocess", "unlabeled_preprocess", "input", "ground_truth", "metadata", "prediction", "visualizer",
         "metric", "loss", "custom_layer", "integration_test")


def sdk_registrations(project: str | Path, python: str = sys.executable, timeout: float = 120) -> dict:
    """{"kinds": {kind: [names...]}, "error": str | None} for the project folder (holding leap.yaml)."""
    env = dict(os.environ, TL_DISABLE_ANALYTICS="1", PYTHONDONTWRITEBYTECODE="1")
    env.pop("__MAPPING_RUNTIME_MODE__", None)
    env.pop("IS_TENSORLEAP_PLATFORM", None)
    proc = subprocess.run([python, __file__, str(Path(project).resolve())], capture_output=True, text=True,
                          env=env, cwd=str(project), timeout=timeout)
    marker = [ln for ln in proc.stdout.splitlines() if ln.startswith(_MARK)]
    if not marker:
        raise RuntimeError(f"the SDK probe printed no result (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return json.loads(marker[-1][len(_MARK):])


def compare(sdk: dict, bindings: list[dict]) -> list[str]:
    """Disagreements between the SDK's registrations and tensorleap-ls's bindings, per kind.

    A binding with a ``null`` name stands for a registration whose name is not statically known:
    it may match any one SDK name the known names leave over.
    """
    problems = []
    for kind in KINDS:
        theirs = Counter(sdk["kinds"].get(kind, []))
        ours = Counter(b["name"] for b in bindings if b["kind"] == kind)
        unknown = ours.pop(None, 0) if kind not in ("preprocess", "unlabeled_preprocess", "integration_test") else 0
        extra = ours - theirs
        missing = theirs - ours
        if extra:
            problems.append(f"{kind}: tensorleap-ls reports {sorted(map(str, extra.elements()))} the SDK does not register")
        if sum(missing.values()) > unknown or (unknown and not missing):
            problems.append(f"{kind}: the SDK registers {sorted(map(str, missing.elements()))}, "
                            f"tensorleap-ls has {unknown} binding(s) of unknown name")
    return problems


_MARK = "@@TL_SDK_PROBE@@"


def _probe(root: str) -> dict:  # runs in the subprocess
    import yaml

    entry = "leap_integration.py"
    ly = os.path.join(root, "leap.yaml")
    if os.path.isfile(ly):
        with open(ly, encoding="utf-8") as fh:
            entry = (yaml.safe_load(fh) or {}).get("entryFile") or entry
    from code_loader.inner_leap_binder import global_leap_binder
    from code_loader.inner_leap_binder.leapbinder import LeapBinder
    from code_loader.leaploader import LeapLoader

    error = None
    try:
        LeapLoader(root, entry).exec_script()
    except BaseException as e:  # noqa: BLE001 - reported to the caller
        cause = e.__cause__ or e
        error = f"{type(cause).__name__}: {cause}"
    s = global_leap_binder.setup_container
    fresh = LeapBinder().setup_container  # the built-ins every binder starts with

    def names(items, get):
        return [get(h) for h in items]

    builtin_viz = set(names(fresh.visualizers, lambda h: h.visualizer_handler_data.name))
    builtin_metrics = set(names(fresh.metrics, lambda h: h.metric_handler_data.name))
    builtin_losses = set(names(fresh.custom_loss_handlers, lambda h: h.custom_loss_handler_data.name))
    kinds = {
        "preprocess": [None] if s.preprocess is not None else [],
        "unlabeled_preprocess": [None] if s.unlabeled_data_preprocess is not None else [],
        "input": names(s.inputs, lambda h: h.name),
        "ground_truth": names(s.ground_truths, lambda h: h.name),
        "metadata": names(s.metadata, lambda h: h.name),
        "prediction": names(s.prediction_types, lambda h: h.name),
        "visualizer": [n for n in names(s.visualizers, lambda h: h.visualizer_handler_data.name) if n not in builtin_viz],
        "metric": [n for n in names(s.metrics, lambda h: h.metric_handler_data.name) if n not in builtin_metrics],
        "loss": [n for n in names(s.custom_loss_handlers, lambda h: h.custom_loss_handler_data.name)
                 if n not in builtin_losses],
        "custom_layer": list(s.custom_layers),
        "integration_test": [None] if global_leap_binder.integration_test_func is not None else [],
    }
    return {"kinds": kinds, "error": error}


if __name__ == "__main__":
    result = _probe(sys.argv[1])
    sys.stdout.flush()
    print(_MARK + json.dumps(result), flush=True)
    os._exit(0)  # skip the SDK's atexit status table

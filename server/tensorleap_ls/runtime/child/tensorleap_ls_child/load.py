"""Importing the entry the way the platform does; what it registered."""

from __future__ import annotations

import importlib.util
import os
import sys

from tensorleap_ls_child.protocol import Loaded, Problem, Setup
from tensorleap_ls_child.sandbox import limited
from tensorleap_ls_child.state import STATE, binder
from tensorleap_ls_child.where import _is_user, error_info, user_frame, where

# --- loading ----------------------------------------------------------------------------------
def load(root: str, entry: str) -> Loaded:
    STATE.update(root=root, entry=entry, module=None, responses=None)
    os.chdir(root)
    d = os.path.dirname(entry)
    parents = []
    while True:
        parents.append(d)
        if d == root or os.path.dirname(d) == d:
            break
        d = os.path.dirname(d)
    for p in parents:
        if p not in sys.path:
            sys.path.append(p)
    try:
        spec = importlib.util.spec_from_file_location("tensorleap_entry", entry)
        module = importlib.util.module_from_spec(spec)
        sys.modules["tensorleap_entry"] = module
        with limited("preprocess", what="importing the entry"):
            spec.loader.exec_module(module)
    except SystemExit as e:
        file, line = user_frame(e.__traceback__, root)
        return Loaded(ok=False, exit=True, error=Problem(type="SystemExit", message=f"sys.exit({e.code}) during import",
                                                         file=file or entry, line=line if file else None))
    except BaseException as e:  # noqa: BLE001 - any failure of user code is a finding
        return Loaded(ok=False, error=error_info(e, root, (entry, 1)))
    STATE["module"] = module
    return Loaded(setup=setup_summary())


def setup_summary() -> Setup:
    sc = binder().setup_container
    return Setup(
        preprocess=where(sc.preprocess.function) if sc.preprocess else None,
        inputs=[{"name": h.name, "where": where(h.function), "channel_dim": h.channel_dim} for h in sc.inputs],
        ground_truths=[{"name": h.name, "where": where(h.function)} for h in sc.ground_truths],
        metadata=[{"name": h.name, "where": where(h.function), "has_type": h.metadata_type is not None}
                  for h in sc.metadata],
        visualizers=[{"name": h.visualizer_handler_data.name, "where": where(h.function),
                      "type": h.visualizer_handler_data.type.name,
                      "args": list(h.visualizer_handler_data.arg_names)} for h in sc.visualizers
                     if _is_user(h.function)],
        prediction_types=[{"name": p.name, "labels": list(p.labels)} for p in sc.prediction_types],
        integration_test=where(binder().integration_test_func) if binder().integration_test_func else None,
    )


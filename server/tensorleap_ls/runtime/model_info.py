"""Reads a model file's inputs and outputs (names, shapes, dtypes) in the project's interpreter,
with onnx / onnxruntime / TensorFlow when it has them: library calls on a data file, not user code
(Keras .h5 files can hold Lambda layers, so loading one counts as user code). Every start goes
through the trust gate (runtime/interpreter.py): in an untrusted workspace its own interpreter
never runs, and .h5 files are not loaded."""

from __future__ import annotations

import json
import os
import subprocess

from tensorleap_ls.runtime import interpreter
from functools import lru_cache

_SCRIPT = r"""
import json, sys
path = sys.argv[1]
out = {"inputs": [], "outputs": []}
if path.endswith(".onnx"):
    try:
        import onnx
        from onnx import helper
        m = onnx.load(path, load_external_data=False)
        def info(v):
            t = v.type.tensor_type
            dims = [d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim]
            return {"name": v.name, "shape": dims, "dtype": str(helper.tensor_dtype_to_np_dtype(t.elem_type))}
        inits = {i.name for i in m.graph.initializer}
        out["inputs"] = [info(v) for v in m.graph.input if v.name not in inits]
        out["outputs"] = [info(v) for v in m.graph.output]
    except ImportError:
        import onnxruntime as ort
        s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        conv = lambda xs: [{"name": x.name, "shape": [d if isinstance(d, int) else None for d in x.shape],
                            "dtype": x.type.replace("tensor(", "").rstrip(")").replace("float", "float32")} for x in xs]
        out["inputs"], out["outputs"] = conv(s.get_inputs()), conv(s.get_outputs())
else:
    import tensorflow as tf
    m = tf.keras.models.load_model(path, compile=False)
    conv = lambda ts: [{"name": t.name.split(":")[0], "shape": [d for d in t.shape], "dtype": t.dtype.name} for t in ts]
    out["inputs"], out["outputs"] = conv(m.inputs), conv(m.outputs)
print(json.dumps(out))
"""
_SKIP = {".venv", "venv", "env", "node_modules", ".git", "__pycache__", "site-packages"}


def find_models(root: str, limit: int = 5) -> list[str]:
    found = []
    for d, dirs, files in os.walk(root):
        dirs[:] = [x for x in dirs if x not in _SKIP and not x.startswith(".")]
        if d.count(os.sep) - root.count(os.sep) > 3:
            dirs[:] = []
        found += [os.path.join(d, f) for f in sorted(files) if f.endswith((".onnx", ".h5"))]
        if len(found) >= limit:
            break
    return found[:limit]


def read(python: str, path: str, root: str | None = None) -> dict | None:
    """The model's facts, or None (no reader library, unreadable file, or refused by the trust gate)."""
    try:
        mtime = os.path.getmtime(path)
    except OSError:
        return None
    return _read(python, path, mtime, root, interpreter.trusted())


@lru_cache(maxsize=32)
def _read(python: str, path: str, mtime: float, root: str | None, trusted: bool) -> dict | None:
    try:
        r = interpreter.run([python, "-c", _SCRIPT, path], root=root, user_code=path.endswith(".h5"),
                            capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": "", "TL_DISABLE_ANALYTICS": "1"})
    except (OSError, subprocess.TimeoutExpired):  # interpreter.Untrusted is an OSError
        return None
    if r.returncode != 0:
        return None
    try:
        return json.loads(r.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None

"""Reads a model file's inputs and outputs (names, shapes, dtypes) in the project's interpreter,
with onnx / onnxruntime / TensorFlow when it has them: library calls on a data file, not user code
(Keras .h5 files can hold Lambda layers, so loading one counts as user code). Every start goes
through the trust gate (runtime/interpreter.py): in an untrusted workspace its own interpreter
never runs, and .h5 files are not loaded. A trusted project's interpreter runs its start-up code
(a venv's ``.pth`` files): the reader runs as the child does (``runner.run_script``: memory limit,
session, guardian), and files over ``files.MODEL_MAX_BYTES`` are not read at all."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from functools import lru_cache

from tensorleap_ls.core import lazy
from tensorleap_ls.core.codes import RUN_INTEGRATION_TEST, RUN_MODEL_INPUT_SHAPE
from tensorleap_ls.core.source.files import MODEL_MAX_BYTES
from tensorleap_ls.runtime import interpreter

subprocess = lazy.Module("subprocess")  # when a model file is read

_SCRIPT = r"""
import sys
sys.path.pop(0)  # '' (-c): the working directory, maybe the project, whose json.py must not be imported
import json
path = sys.argv[1]
out = {"inputs": [], "outputs": []}

def fail(why):
    # A clear reason instead of a traceback; exit 3 so read() keeps returning None.
    print(json.dumps({"error": why}))
    sys.exit(3)

def missing(lib):
    fail(f"library {lib} missing in {sys.executable}")

def dims(shape):
    # numpy's int32 (TFLite details) is no int: int() every dimension that has an index
    out = [int(d) if hasattr(d, "__index__") else None for d in (list(shape) if shape is not None else [])]
    return [d if d is not None and d >= 0 else None for d in out]

if path.endswith(".onnx"):
    try:
        import onnx
        from onnx import helper
        m = onnx.load(path, load_external_data=False)
        def info(v):
            t = v.type.tensor_type
            dims_ = [d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim]
            return {"name": v.name, "shape": dims_, "dtype": str(helper.tensor_dtype_to_np_dtype(t.elem_type))}
        inits = {i.name for i in m.graph.initializer}
        out["inputs"] = [info(v) for v in m.graph.input if v.name not in inits]
        out["outputs"] = [info(v) for v in m.graph.output]
    except ImportError:
        try:
            import onnxruntime as ort
        except ImportError:
            missing("onnx (or onnxruntime)")
        s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        conv = lambda xs: [{"name": x.name, "shape": [d if isinstance(d, int) else None for d in x.shape],
                            "dtype": x.type.replace("tensor(", "").rstrip(")").replace("float", "float32")} for x in xs]
        out["inputs"], out["outputs"] = conv(s.get_inputs()), conv(s.get_outputs())
elif path.endswith(".tflite"):
    try:
        from tensorflow import lite
        Interpreter = lite.Interpreter
    except ImportError:
        try:
            from ai_edge_litert.interpreter import Interpreter  # LiteRT, TFLite's successor
        except ImportError:
            try:
                from tflite_runtime.interpreter import Interpreter
            except ImportError:
                missing("tensorflow (or ai-edge-litert, or tflite-runtime)")
    it = Interpreter(model_path=path)
    conv = lambda ds: [{"name": d["name"], "shape": dims(d.get("shape_signature", d["shape"])),
                        "dtype": getattr(d["dtype"], "__name__", str(d["dtype"]))} for d in ds]
    out["inputs"], out["outputs"] = conv(it.get_input_details()), conv(it.get_output_details())
elif path.endswith((".pt", ".pth", ".torchscript", ".ptl")):
    try:
        import torch
    except ImportError:
        missing("torch")
    m = torch.jit.load(path, map_location="cpu")
    args = list(m.graph.inputs())[1:]  # the first is the module itself
    out["inputs"] = [{"name": a.debugName().split(".")[0], "shape": [], "dtype": None} for a in args]
    # forward() returning a tuple is one graph output of TupleType: its elements are the model's outputs
    res = [t for o in m.graph.outputs() for t in (o.type().elements() if o.type().kind() == "TupleType" else [o.type()])]
    out["outputs"] = [{"name": "output%d" % i, "shape": [], "dtype": None} for i in range(len(res))]
    out["shapes_known"] = False  # TorchScript keeps no static shapes
else:
    import importlib.util, os
    if importlib.util.find_spec("tensorflow") is not None:
        import tensorflow as tf
        load = tf.keras.models.load_model
    else:
        if importlib.util.find_spec("keras") is None:
            missing("tensorflow (or keras)")
        # Keras 3 without TensorFlow: any installed backend reads the file's shapes
        backends = [b for b in ("torch", "jax") if importlib.util.find_spec(b) is not None]
        if not os.environ.get("KERAS_BACKEND") and backends:
            os.environ["KERAS_BACKEND"] = backends[0]
        try:
            import keras
        except ImportError as e:
            fail("keras is installed in %s but cannot import a backend (%s): install tensorflow, or torch or "
                 "jax and set KERAS_BACKEND" % (sys.executable, e))
        load = keras.models.load_model
    m = load(path, compile=False)
    conv = lambda ts: [{"name": t.name.split(":")[0], "shape": dims(t.shape), "dtype": getattr(t.dtype, "name", str(t.dtype))}
                       for t in ts]
    out["inputs"], out["outputs"] = conv(m.inputs), conv(m.outputs)
    names = list(getattr(m, "output_names", None) or [])
    if len(names) == len(out["outputs"]):  # the output layers' names (Keras 3 tensors are keras_tensor_N)
        for o, n in zip(out["outputs"], names):
            o["name"] = n
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


def too_large(path: str) -> str | None:
    """Why the model file at ``path`` is not read (over the size cap), or None."""
    try:
        size = os.stat(path).st_size
    except OSError:
        return None
    if size <= MODEL_MAX_BYTES:
        return None
    return (f"it is {size / 2**30:.1f} GB, over the {MODEL_MAX_BYTES >> 30} GB the model reader reads "
            "(an ONNX file holds at most 2 GB; larger weights live in external data files)")


def _run_reader(python: str, path: str, root: str | None, user_code: bool, memory_mb: int | None):
    # the runner (and the child's protocol it imports) only when a model file is read: not for every `check`
    from tensorleap_ls.runtime.runner import Limits, run_script

    return run_script(python, _SCRIPT, [path], root=root, user_code=user_code, timeout=120,
                      memory_mb=Limits.memory_mb if memory_mb is None else memory_mb)


def read(python: str, path: str, root: str | None = None, memory_mb: int | None = None) -> dict | None:
    """The model's facts, or None (no reader library, unreadable or too large file, or refused by the
    trust gate)."""
    try:
        mtime = os.path.getmtime(path)
    except OSError:
        return None
    if too_large(path):
        return None
    return _read(python, path, mtime, root, interpreter.trusted(), memory_mb)


@lru_cache(maxsize=32)
def _read(python: str, path: str, mtime: float, root: str | None, trusted: bool, memory_mb: int | None) -> dict | None:
    try:
        r = _run_reader(python, path, root, path.endswith(".h5"), memory_mb)
    except (OSError, subprocess.TimeoutExpired):  # interpreter.Untrusted is an OSError
        return None
    if r.returncode != 0:
        return None
    try:
        return json.loads(r.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None


# --- model facts for the model checks (core/checks/model*.py) -------------------------------------
# Formats whose loading can run code stored in the file (Keras Lambda layers, TorchScript):
# read only in a trusted workspace, like every other run.
_CODE_BEARING = (".h5", ".keras", ".pt", ".pth", ".torchscript", ".ptl")


def facts(python: str, path: str, trusted: bool, memory_mb: int | None = None) -> dict | None:
    """Inputs/outputs of the model file ``path`` read in ``python``: {"path", "format", "inputs",
    "outputs"} or {"path", "error"} naming the missing library (or the size cap); None when it may not
    be read or does not exist. Cached by the file's content, not its mtime."""
    if not trusted and path.endswith(_CODE_BEARING):
        return None
    big = too_large(path)
    if big:
        return {"path": path, "format": os.path.splitext(path)[1].lstrip("."), "error": big}
    try:
        digest = _digest(path)
    except OSError:
        return None
    key = (python, path, digest)
    if key not in _FACTS:
        got = _facts(python, path, digest, memory_mb)
        if "error" in got:
            return got  # not cached: the user may install the missing library
        while len(_FACTS) >= 64:
            _FACTS.pop(next(iter(_FACTS)))
        _FACTS[key] = got
    return _FACTS[key]


_FACTS: dict[tuple, dict] = {}


def _digest(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _facts(python: str, path: str, digest: str, memory_mb: int | None) -> dict:
    fmt = os.path.splitext(path)[1].lstrip(".")
    try:
        r = _run_reader(python, path, None, path.endswith(_CODE_BEARING), memory_mb)  # through the trust gate
    except (OSError, subprocess.TimeoutExpired) as e:  # interpreter.Untrusted is an OSError
        return {"path": path, "format": fmt, "error": f"cannot run {python}: {e}"}
    try:
        out = json.loads(r.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        last = (r.stderr.strip().splitlines() or ["no output"])[-1]
        out = {"error": f"{python} cannot read it: {last[:300]}"}
    return {**out, "path": path, "format": fmt, "digest": digest}


def load_facts(analyzer, pa, python: str, trusted: bool, memory_mb: int | None = None) -> bool:
    """Reads the facts of the model ``pa``'s load_model loads into ``analyzer.model_facts`` (the core's
    6xx checks read them there). True when they changed, i.e. the project needs a new analysis."""
    from tensorleap_ls.core.checks.model_file import model_path

    found = model_path(pa.bindings, pa.modules, pa.project.root)
    if found is None or not os.path.isfile(found[0]):
        return False
    got = facts(python, found[0], trusted, memory_mb)
    if got is None or analyzer.model_facts.get(found[0]) == got:
        return False
    analyzer.model_facts[found[0]] = got
    return True


def run_findings(python: str, root: str, entry: str, observed: list | None = None,
                 predictions: list | None = None) -> list:
    """TL610/TL611 (observed encoder shapes of a dynamic run) and TL603 (a preview's predictions)
    against the model's facts. Only called for runs, which are trusted already."""
    from tensorleap_ls.core.engine.analysis import Analyzer
    from tensorleap_ls.core.checks import model_run as checks
    from tensorleap_ls.core.checks.base import CheckContext
    from tensorleap_ls.core.project.closure import norm

    if not observed and not predictions:
        return []
    analyzer = Analyzer()
    out = []
    try:
        for pa in analyzer.analyze_file(entry):
            if pa.project.entry != norm(entry):
                continue
            load_facts(analyzer, pa, python, trusted=True)
            ctx = CheckContext(root=root, entry=entry, bindings=pa.bindings, modules=dict(pa.modules),
                               model_facts=analyzer.model_facts)
            out += checks.observed_findings(ctx, observed or []) + checks.prediction_findings(ctx, predictions or [])
    except Exception:  # noqa: BLE001 - the model checks must never cost the run its other findings
        logging.getLogger(__name__).exception("model checks failed for %s", entry)
    return out


_SHAPE_FAILURE = re.compile(r"invalid dimensions|invalid rank", re.IGNORECASE)


def with_run_findings(findings: list, python: str, root: str, entry: str, observed: list | None) -> list:
    """``findings`` of a dynamic run plus TL610/TL611; the integration test's onnxruntime shape failure
    (TL523) gives way to the TL610 that names the encoder and the axis to move: one root cause, one finding."""
    extra = run_findings(python, root, entry, observed=observed)
    if any(f.code == RUN_MODEL_INPUT_SHAPE for f in extra):
        findings = [f for f in findings if not (f.code == RUN_INTEGRATION_TEST and _SHAPE_FAILURE.search(f.message))]
    return findings + extra

"""Small ONNX models built with onnx.helper for the model checks, and the fixture project they feed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "model" / "cls"
MODEL = "models/classifier.onnx"

_TYPES = {"float32": 1, "int64": 7}  # onnx.TensorProto.FLOAT, INT64


def build(path: Path, inputs: list[tuple[str, list, str]], outputs: list[tuple[str, int | None, int]]) -> Path:
    """inputs: (name, shape with None/"N" for free dims, dtype); outputs: (name, declared size or None
    for a free dimension, real size). Each input is cast to float and flattened, the inputs are
    concatenated, and each output is a softmax of one matrix product: any fixed shape runs."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    nodes, inits, flats, total = [], [], [], 0
    for name, shape, dtype in inputs:
        src = name
        if dtype != "float32":
            nodes.append(helper.make_node("Cast", [name], [f"{name}_f"], to=TensorProto.FLOAT))
            src = f"{name}_f"
        nodes.append(helper.make_node("Flatten", [src], [f"{name}_flat"], axis=1))
        flats.append(f"{name}_flat")
        total += int(np.prod([d for d in shape[1:]]))
    if len(flats) > 1:
        nodes.append(helper.make_node("Concat", flats, ["features"], axis=1))
        features = "features"
    else:
        features = flats[0]
    outs = []
    for name, declared, real in outputs:
        inits.append(numpy_helper.from_array(rng.normal(size=(total, real)).astype(np.float32), f"W_{name}"))
        nodes.append(helper.make_node("MatMul", [features, f"W_{name}"], [f"{name}_logits"]))
        nodes.append(helper.make_node("Softmax", [f"{name}_logits"], [name], axis=-1))
        outs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, ["N", declared if declared else f"{name}_k"]))
    ins = [helper.make_tensor_value_info(n, _TYPES[t], ["N" if d is None else d for d in s]) for n, s, t in inputs]
    graph = helper.make_graph(nodes, "tiny", ins, outs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def classifier(path: Path, shape=(None, 3, 8, 8), classes: int | None = 3, real: int = 3) -> Path:
    return build(path, [("image", list(shape), "float32")], [("classes", classes, real)])


def project(tmp_path: Path, replace: list[tuple[str, str]] = (), model=classifier, fixture: Path = FIXTURE) -> Path:
    """A copy of the fixture integration with ``replace`` planted (each old text must be there once)."""
    root = tmp_path / fixture.name
    shutil.copytree(fixture, root, ignore=shutil.ignore_patterns("__pycache__"))
    entry = root / "leap_integration.py"
    text = entry.read_text()
    for old, new in replace:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    entry.write_text(text)
    if model is not None:
        model(root / MODEL)
    return root


def run_sdk(root: Path) -> subprocess.CompletedProcess:
    """The entry's ``__main__`` (integration test on training and validation samples) with the real
    code-loader: what the SDK itself says about the project."""
    env = {**os.environ, "TL_DISABLE_ANALYTICS": "1", "PYTHONPATH": ""}
    return subprocess.run([sys.executable, "leap_integration.py"], cwd=root, capture_output=True, text=True,
                          timeout=120, env=env)

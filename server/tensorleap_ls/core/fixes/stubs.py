"""Generated code: stubs for missing components and undefined functions, a whole skeleton.

Stubs follow the style the file already uses (decorators or ``leap_binder.set_*``), carry the
signature, return annotation and a return value of the dtype the contract asks for, a TODO, and
are inserted before the integration test / ``__main__`` block, with their imports added once.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from tensorleap_ls.core.model import Kind, Span, Style, TextEdit
from tensorleap_ls.core.source.text import mentions
from tensorleap_ls.core.sdk.bundled import (DECORATORS, DECORATORS_MODULE, DECORATORS_STAR_EXPORTS, LEGACY, Registrar,
                                    contract_of, row_for)

IMPORTS = {
    "np": "import numpy as np",
    "List": "from typing import List",
    "PreprocessResponse": "from code_loader.contract.datasetclasses import PreprocessResponse",
    "PredictionTypeHandler": "from code_loader.contract.datasetclasses import PredictionTypeHandler",
    "ElementInstance": "from code_loader.contract.datasetclasses import ElementInstance",
    "DataStateType": "from code_loader.contract.enums import DataStateType",
    "LeapDataType": "from code_loader.contract.enums import LeapDataType",
    "MetricDirection": "from code_loader.contract.enums import MetricDirection",
    "LeapImage": "from code_loader.contract.visualizer_classes import LeapImage",
    "LeapText": "from code_loader.contract.visualizer_classes import LeapText",
    "leap_binder": "from code_loader import leap_binder",
}


@dataclass
class Stub:
    code: str  # the function(s), ending with a blank line
    names: tuple[str, ...]  # names the code needs imported
    decorators: tuple[str, ...] = ()  # tensorleap_* decorators used


def stub(kind: Kind, style: Style, function: str, name: str | None = None) -> Stub:
    """A stub that satisfies the SDK contract for ``kind``: the table's stub of the kind's first registrar, in
    ``style`` (the decorator form when the kind has no legacy registrar)."""
    row = row_for(kind)
    if row is None:
        return Stub(f"def {function}(*args):\n    # TODO\n    return None\n", ())
    return render(row, style, function, name)


def render(row: Registrar, style: Style | None, function: str, name: str | None = None, shape: str | None = None,
           **calls: str) -> Stub:
    """The stub of a table row: decorated (``Style.DECORATOR``), registered by its ``leap_binder`` method
    (``Style.LEGACY``) or the bare function (None: a legacy call already registers it). ``calls``: the
    functions the stub calls, when not named like its placeholders (e.g. ``autoregressive_step=...``)."""
    fields = _Fields(function=function, name=name or function, shape=shape or "(1,)", **calls)
    code = row.stub.format_map(fields)
    leg = row.legacy
    if style is Style.LEGACY and leg is not None:
        if leg.stub:
            return Stub(leg.stub.format_map(fields), leg.stub_names + ("leap_binder",))
        call = registration(row, Style.LEGACY, function, name, **calls)
        body = code.split("\n", 1)[1]
        return Stub(f"{body}\n\n{call}\n", row.stub_names + ("leap_binder",))
    if style is None:
        return Stub(code.split("\n", 1)[1], row.stub_names)
    return Stub(code, row.stub_names, (row.name,))


def registration(row: Registrar, style: Style, function: str, name: str | None = None, **calls: str) -> str:
    """How the stub of ``row`` registers ``function``: its decorator (``tensorleap_gt_encoder('classes')``,
    without the ``@``) or its legacy call (``leap_binder.set_ground_truth(gt, 'classes')``)."""
    fields = _Fields(function=function, name=name or function, shape="(1,)", **calls)
    decorator = row.stub.split("\n", 1)[0].format_map(fields)[1:]
    if style is not Style.LEGACY or row.legacy is None:
        return decorator
    args = decorator[decorator.index("(") + 1:decorator.rindex(")")]
    return f"leap_binder.{row.legacy.name}({function}{', ' + args if args else ''})"


class _Fields(dict):
    """Template fields; a placeholder nobody filled names a function the stub calls (``{preprocess}``)."""

    def __missing__(self, key: str) -> str:
        return key


def registrar_stub(registrar: str, function: str, name: str | None = None, shape: str | None = None,
                   preprocess: str = "preprocess", **calls: str) -> Stub | None:
    """The registrar table's stub for ``registrar`` (a decorator, or a legacy method through its twin):
    decorated for the decorator API; the legacy call registers it itself, so there only the function."""
    reg = DECORATORS.get(registrar) or LEGACY.get(registrar)
    contract = contract_of(reg) if reg is not None else None
    if contract is None or not contract.stub:
        return None
    return render(contract, Style.DECORATOR if reg is contract else None, function, name, shape,
                  preprocess=preprocess, **calls)


def integration_test_stub(function: str, inputs: list[str], gts: list[str], loader: str | None,
                          losses: list[str], model_inputs: list[str] | None = None) -> Stub:
    """An integration test wired to the encoders, the model and the losses."""
    lines = ["@tensorleap_integration_test()", f"def {function}(sample_id, preprocess):"]
    for i in inputs:
        lines.append(f"    {i}_value = {i}(sample_id, preprocess)")
    for g in gts:
        lines.append(f"    {g}_value = {g}(sample_id, preprocess)")
    if loader:
        lines.append(f"    model = {loader}()")
        names = model_inputs or ["input"] * len(inputs)
        feed = ", ".join(f"{n!r}: {i}_value" for n, i in zip(names, inputs))
        lines.append(f"    prediction = model.run(None, {{{feed}}})[0]  # TODO: the model's input names")
        for loss in losses:
            if gts:
                lines.append(f"    {loss}({gts[0]}_value, prediction)")
    if len(lines) == 2:
        lines.append("    pass  # TODO")
    return Stub("\n".join(lines) + "\n", (), ("tensorleap_integration_test",))


# --- placing code and imports --------------------------------------------------------------------
def insertion_line(tree: ast.Module | None, lines: list[str]) -> int:
    """Before the integration test or the ``if __name__ == '__main__'`` block; else at the end."""
    if tree is not None:
        for stmt in tree.body:
            if isinstance(stmt, ast.If) and mentions(stmt.test, "__name__"):
                return _with_decorators(stmt)
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and any(
                    mentions(d, "tensorleap_integration_test") for d in stmt.decorator_list):
                return _with_decorators(stmt)
    n = len(lines)
    while n > 0 and not lines[n - 1].strip():
        n -= 1
    return n


def _with_decorators(stmt) -> int:
    first = min([stmt.lineno] + [d.lineno for d in getattr(stmt, "decorator_list", [])]) - 1
    return first


def import_edits(path: str, tree: ast.Module | None, lines: list[str], names: set[str],
                 decorators: set[str]) -> list[TextEdit]:
    """Imports the stub needs that the module does not have yet, added once after the last import."""
    have: set[str] = set()
    star_decorators = False
    if tree is not None:
        for stmt in tree.body:
            if isinstance(stmt, (ast.Import, ast.ImportFrom)):
                for a in stmt.names:
                    have.add(a.asname or a.name.split(".")[0])
                if isinstance(stmt, ast.ImportFrom) and stmt.module == DECORATORS_MODULE and any(
                        a.name == "*" for a in stmt.names):
                    star_decorators = True
            elif isinstance(stmt, (ast.Assign, ast.AnnAssign)):
                for t in getattr(stmt, "targets", [getattr(stmt, "target", None)]):
                    if isinstance(t, ast.Name):
                        have.add(t.id)
            elif isinstance(stmt, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
                have.add(stmt.name)
    if star_decorators:
        have |= set(DECORATORS_STAR_EXPORTS) | set(decorators)
    new = [IMPORTS[n] for n in sorted(names) if n not in have and n in IMPORTS]
    missing_decos = sorted(d for d in decorators if d not in have)
    if missing_decos:
        new.append(f"from {DECORATORS_MODULE} import {', '.join(missing_decos)}")
    if not new:
        return []
    return [import_line_edit(path, tree, lines, "\n".join(dict.fromkeys(new)))]


def import_line_edit(path: str, tree: ast.Module | None, lines: list[str], statements: str) -> TextEdit:
    """Inserts import ``statements`` after the module's last top-level import (after its docstring when it has none)."""
    last = 0
    for stmt in tree.body if tree is not None else ():
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            last = stmt.end_lineno or stmt.lineno
    text = statements + "\n"
    if last == 0:
        # after a module docstring, if any
        line = 0
        if tree is not None and tree.body and isinstance(tree.body[0], ast.Expr) and isinstance(
                getattr(tree.body[0], "value", None), ast.Constant) and isinstance(tree.body[0].value.value, str):
            line = tree.body[0].end_lineno or 1
        return TextEdit(Span(path, line, 0, line, 0), text + ("\n" if line == 0 and lines and lines[0].strip() else ""))
    return TextEdit(Span(path, last, 0, last, 0), text)


def insert_code(path: str, tree: ast.Module | None, lines: list[str], code: str, line: int | None = None) -> TextEdit:
    """Inserts ``code`` (top-level statements) before ``line``, two blank lines around it (PEP 8)."""
    at = insertion_line(tree, lines) if line is None else line
    if at >= len(lines) or not any(ln.strip() for ln in lines[at:]):
        last = len(lines) - 1
        end = len(lines[last])
        lead = "\n" if lines[last] else ""
        return TextEdit(Span(path, last, end, last, end), lead + ("\n\n" if any(lines) else "") + code)
    return TextEdit(Span(path, at, 0, at, 0), code + "\n\n")


def _skeleton(model: bool) -> str:
    """A complete decorator-style integration; ``model``: it loads model/model.onnx, else a stub."""
    text = _SKELETON_TEXT
    if not model:
        text = text.replace(_LOAD_ONNX, _LOAD_STUB).replace(_TEST_WITH_MODEL, _TEST_WITHOUT_MODEL)
    return text


_LOAD_ONNX = """    # the model is pushed with `leap push -m model/model.onnx`, not bundled
    import onnxruntime
    return onnxruntime.InferenceSession(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'model', 'model.onnx'))
"""
_LOAD_STUB = """    # TODO: return your model (onnxruntime.InferenceSession('model/model.onnx') or a Keras model), then call it
    #  in integration_test below (model.run...) with the metric and the loss. Until then the checks run without
    #  predictions.
    raise NotImplementedError('TODO: load your model')
"""
_TEST_WITH_MODEL = """    model = load_model()
    prediction = model.run(None, {'image': image})[0]  # TODO: your model's input name
    image_visualizer(image)
    accuracy(gt, prediction)
    cross_entropy(gt, prediction)
"""
_TEST_WITHOUT_MODEL = """    image_visualizer(image)  # TODO: prediction = load_model().run(None, {'image': image})[0]; accuracy/cross_entropy(gt, prediction)
"""

_SKELETON_TEXT = '''"""Tensorleap integration. Generated by tensorleap-ls: fill in the TODOs."""
import os
from typing import List

import numpy as np
from code_loader.contract.datasetclasses import PredictionTypeHandler, PreprocessResponse
from code_loader.contract.enums import DataStateType, LeapDataType, MetricDirection
from code_loader.contract.visualizer_classes import LeapImage
from code_loader.inner_leap_binder.leapbinder_decorators import (
    tensorleap_custom_loss, tensorleap_custom_metric, tensorleap_custom_visualizer, tensorleap_gt_encoder,
    tensorleap_input_encoder, tensorleap_integration_test, tensorleap_load_model, tensorleap_metadata,
    tensorleap_preprocess)

LABELS = [str(i) for i in range(10)]  # TODO: the class names


@tensorleap_preprocess()
def preprocess() -> List[PreprocessResponse]:
    # TODO: load the sample ids of each subset (str ids, or ints with sample_id_type=int)
    train_ids = [str(i) for i in range(10)]
    val_ids = [str(i) for i in range(10, 15)]
    return [PreprocessResponse(sample_ids=train_ids, data={}, state=DataStateType.training),
            PreprocessResponse(sample_ids=val_ids, data={}, state=DataStateType.validation)]


@tensorleap_input_encoder('image', channel_dim=-1)
def input_encoder(sample_id: str, preprocess: PreprocessResponse) -> np.ndarray:
    # TODO: the model input of one sample, unbatched, float32
    return np.zeros((28, 28, 1), dtype=np.float32)


@tensorleap_gt_encoder('classes')
def gt_encoder(sample_id: str, preprocess: PreprocessResponse) -> np.ndarray:
    # TODO: the label of one sample, float32 (unlabeled data: np.array([], dtype=np.float32))
    return np.eye(len(LABELS), dtype=np.float32)[0]


@tensorleap_metadata('sample_index')
def sample_index(sample_id: str, preprocess: PreprocessResponse) -> int:
    return int(sample_id)


@tensorleap_custom_visualizer('image_visualizer', LeapDataType.Image)
def image_visualizer(image: np.ndarray) -> LeapImage:
    # arrives with a batch axis of size 1; the platform shows uint8 0-255
    return LeapImage((image[0] * 255).clip(0, 255).astype(np.uint8))


@tensorleap_custom_metric('accuracy', direction=MetricDirection.Upward)
def accuracy(gt: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    return (gt.argmax(-1) == prediction.argmax(-1)).astype(np.float32)


@tensorleap_custom_loss('cross_entropy')
def cross_entropy(gt: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    return -(gt * np.log(np.clip(prediction, 1e-7, 1.0))).sum(-1).astype(np.float32)


@tensorleap_load_model([PredictionTypeHandler('classes', LABELS, channel_dim=-1)])
def load_model():
    # the model is pushed with `leap push -m model/model.onnx`, not bundled
    import onnxruntime
    return onnxruntime.InferenceSession(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'model', 'model.onnx'))


@tensorleap_integration_test()
def integration_test(sample_id, preprocess):
    image = input_encoder(sample_id, preprocess)
    gt = gt_encoder(sample_id, preprocess)
    model = load_model()
    prediction = model.run(None, {'image': image})[0]  # TODO: your model's input name
    image_visualizer(image)
    accuracy(gt, prediction)
    cross_entropy(gt, prediction)
    sample_index(sample_id, preprocess)


if __name__ == '__main__':
    responses = preprocess()
    integration_test(responses[0].sample_ids[0], responses[0])
'''


SKELETON = _skeleton(model=True)


# --- a new project (leap.yaml, requirements.txt, the entry, a tiny model) ------------------------------
DEFAULT_SDK = "1.0.214"

LEAP_YAML = """# Tensorleap project file (https://docs.tensorleap.ai): what `leap push` uploads.
entryFile: leap_integration.py
include:
  - leap_integration.py
  - requirements.txt
exclude:
  - .git/**
  - .venv/**
  - model/**
pythonVersion: {python}
"""

# Runs in the project interpreter (onnx installed): prints a tiny ONNX classifier, base64-encoded,
# that fits the skeleton: image [N, 28, 28, 1] -> flatten -> matmul -> softmax -> classes [N, 10].
MODEL_SCRIPT = """import base64, sys
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
w = numpy_helper.from_array((np.random.RandomState(0).randn(784, 10) * 0.01).astype(np.float32), 'w')
shape = numpy_helper.from_array(np.array([-1, 784], dtype=np.int64), 'shape')
graph = helper.make_graph(
    [helper.make_node('Reshape', ['image', 'shape'], ['flat']), helper.make_node('MatMul', ['flat', 'w'], ['logits']),
     helper.make_node('Softmax', ['logits'], ['classes'], axis=-1)], 'skeleton',
    [helper.make_tensor_value_info('image', TensorProto.FLOAT, ['N', 28, 28, 1])],
    [helper.make_tensor_value_info('classes', TensorProto.FLOAT, ['N', 10])], [w, shape])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 13)])
model.ir_version = 8
onnx.checker.check_model(model)
sys.stdout.write(base64.b64encode(model.SerializeToString()).decode('ascii'))
"""


MODEL_FILE = "model/model.onnx"  # where a new project's generated model is written


def project_files(sdk_version: str | None, with_model: bool, python_version: str | None = None) -> dict[str, str]:
    """The text files of a new project whose checks pass as generated. ``with_model``: the skeleton
    loads ``model/model.onnx`` (written beside, built by MODEL_SCRIPT); else ``load_model`` is a
    TODO stub and the integration test runs without predictions."""
    major_minor = "".join((python_version or "3.11").split(".")[:2])
    reqs = [f"code-loader=={sdk_version or DEFAULT_SDK}"] + (["onnxruntime"] if with_model else [])
    return {"leap.yaml": LEAP_YAML.format(python=f"py{major_minor}"),
            "requirements.txt": "\n".join(reqs) + "\n",
            "leap_integration.py": _skeleton(model=with_model)}

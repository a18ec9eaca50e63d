"""Hypothesis strategy of integration projects for the differential test (test_differential.py).

A generated project is a decorator-style integration (with legacy pieces mixed in) whose registration
module and integration-test body are composed from the pieces real integrations use: encoders registered
directly, by an ``lru_cache`` factory whose decorator name is its parameter, or by a factory called in a
module-level loop; visualizers registered by decorators or by a legacy loop over ``globals()``; a helper
module pulled in with ``import *``; in the test body, encoder results kept in lists / dicts / tuples built
by loops and comprehensions, predictions indexed by literals, constants, subscripts of constants and
arithmetic on constants, helper variables, ``if`` on constants, ``visualize(...)``, plain helpers,
library calls, arithmetic on placeholders and double indexing. Nothing is labelled good or bad here: the
real SDK decides.

``Program.features`` names the patterns a project uses, so that a disagreement can be attributed to the
classes of issue 10 (see ``KNOWN_OPEN`` in test_differential.py).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field

from hypothesis import strategies as st

REQUIREMENTS = "code-loader==1.0.214\nnumpy\nonnxruntime\nmatplotlib\n"
LEAP_YAML = "entryFile: leap_integration.py\npythonVersion: py311\n"

HEADER = '''\
import os
from functools import lru_cache
from typing import List

import numpy as np
from code_loader import leap_binder
from code_loader.contract.datasetclasses import PredictionTypeHandler, PreprocessResponse
from code_loader.contract.enums import DataStateType, LeapDataType, MetricDirection
from code_loader.contract.visualizer_classes import LeapHorizontalBar, LeapImage
from code_loader.inner_leap_binder.leapbinder_decorators import (
    tensorleap_custom_loss, tensorleap_custom_metric, tensorleap_custom_visualizer, tensorleap_gt_encoder,
    tensorleap_input_encoder, tensorleap_integration_test, tensorleap_load_model, tensorleap_metadata,
    tensorleap_preprocess)
from code_loader.plot_functions.visualize import visualize
'''


@dataclass
class Program:
    files: dict[str, str]
    features: set[str] = field(default_factory=set)

    def text(self) -> str:
        return "\n".join(f"# ---- {name}\n{body}" for name, body in sorted(self.files.items()))


def _encoders(style: str, keys: list[str]) -> tuple[str, dict[str, str]]:
    """Source registering one input encoder per key, and how to call each one in the test."""
    body = "    return np.zeros((8, 8, 1), np.float32) + float(idx)\n"
    if style == "direct":
        src = "".join(f"\n\n@tensorleap_input_encoder('{k}', channel_dim=-1)\ndef input_{k}(idx, preprocess):\n{body}"
                      for k in keys)
        return src, {k: f"input_{k}" for k in keys}
    if style == "factory":  # registered lazily, on the first call of the cached factory
        src = ("\n\n@lru_cache()\ndef get_input_encoder(key):\n"
               "    @tensorleap_input_encoder(key, channel_dim=-1)\n    def encoder(idx, preprocess):\n"
               + textwrap.indent(body, "    ") + "\n    return encoder\n")
        return src, {k: f"get_input_encoder('{k}')" for k in keys}
    # "loop": a factory called in a module-level loop over a literal list
    src = ("\n\ndef make_input_encoder(key):\n    @tensorleap_input_encoder(key, channel_dim=-1)\n"
           "    def encoder(idx, preprocess):\n" + textwrap.indent(body, "    ") + "\n    return encoder\n\n\n"
           "ENCODERS = {}\nfor _key in INPUT_KEYS:\n    ENCODERS[_key] = make_input_encoder(_key)\n")
    return src, {k: f"ENCODERS['{k}']" for k in keys}


def _visualizers(style: str) -> str:
    image = ("def {name}(image: np.ndarray) -> LeapImage:\n"
             "    return LeapImage((np.zeros((8, 8, 3)) * 255).astype(np.uint8))\n")
    bar = ("def {name}(prediction: np.ndarray) -> LeapHorizontalBar:\n"
           "    return LeapHorizontalBar(np.zeros(len(LABELS), np.float32), LABELS)\n")
    if style == "decorator":
        return ("\n\n@tensorleap_custom_visualizer('image_viz', LeapDataType.Image)\n" + image.format(name="image_viz")
                + "\n\n@tensorleap_custom_visualizer('bar_viz', LeapDataType.HorizontalBar)\n" + bar.format(name="bar_viz"))
    # legacy registrations in a loop, the function looked up by name in globals() or in a dict of functions
    lookup = {"globals": "globals()[f'display_{_name}']", "globals_var": "globals()[f'display_{_name}']",
              "dict": "DISPLAYS[_name]"}[style]
    table = "DISPLAYS = {'image': display_image, 'bar': display_bar}\n" if style == "dict" else ""
    register = (f"    fn = {lookup}\n    leap_binder.set_visualizer(fn, name=f'{{_name}}_viz', visualizer_type=_kind)\n"
                if style != "globals" else
                f"    leap_binder.set_visualizer({lookup}, name=f'{{_name}}_viz', visualizer_type=_kind)\n")
    return ("\n\n" + image.format(name="display_image") + "\n\n" + bar.format(name="display_bar") + "\n\n" + table +
            "for _name, _kind in (('image', LeapDataType.Image), ('bar', LeapDataType.HorizontalBar)):\n" + register)


_CORE = '''
LABELS = ['cat', 'dog', 'bird']
OUT = {{'classes': 0, 'aux': 1}}
PAIR = (0, 1)
IDX = 0
PLOT = {plot}
INPUT_KEYS = {keys!r}
MODEL_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'model.onnx')


@tensorleap_preprocess()
def preprocess() -> List[PreprocessResponse]:
    return [PreprocessResponse(sample_ids=list(range(4)), sample_id_type=int, state=DataStateType.training),
            PreprocessResponse(sample_ids=list(range(4, 6)), sample_id_type=int, state=DataStateType.validation)]
{encoders}

@tensorleap_gt_encoder('classes')
def gt_classes(idx, preprocess):
    return np.eye(3, dtype=np.float32)[idx % 3]


@tensorleap_metadata('sample_index')
def meta_index(idx, preprocess) -> int:
    return int(idx)


@tensorleap_load_model({handlers})
def load_model():
    import onnxruntime as ort
    return ort.InferenceSession(MODEL_PATH)


@tensorleap_custom_loss('ce')
def ce(gt: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    return np.zeros(gt.shape[0], np.float32)


@tensorleap_custom_metric('acc', direction=MetricDirection.Upward)
def acc(gt: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    return np.ones(gt.shape[0], np.float32)
{visualizers}

def postprocess(x):
    return x


def normalise(x):
    return x / 255.0
'''


@st.composite
def programs(draw) -> Program:
    feats: set[str] = set()
    keys = draw(st.sampled_from([["image"], ["image", "depth"]]))
    enc_style = draw(st.sampled_from(["direct", "direct", "factory", "loop"]))
    viz_style = draw(st.sampled_from(["decorator", "decorator", "decorator", "globals", "globals_var", "dict"]))
    n_out = draw(st.sampled_from([1, 2]))
    plot = draw(st.booleans())
    star = draw(st.booleans())  # registrations in a helper module pulled in with `import *`
    feats |= {f"enc:{enc_style}", f"viz:{viz_style}"} | ({"import_star"} if star else set())
    if enc_style == "factory":
        feats.add("factory")
    if viz_style != "decorator":
        feats.add("globals")
    enc_src, enc_call = _encoders(enc_style, keys)
    heads = ["classes", "aux"][:n_out]
    if draw(st.integers(0, 3)) == 0:  # prediction types built by a comprehension over a literal list
        feats.add("prediction_comprehension")
        handlers = f"[PredictionTypeHandler(n, LABELS, channel_dim=-1) for n in {heads!r}]"
    else:
        handlers = "[" + ", ".join(f"PredictionTypeHandler('{n}', LABELS, channel_dim=-1)" for n in heads) + "]"
    core = _CORE.format(plot=plot, keys=keys, encoders=enc_src, handlers=handlers, visualizers=_visualizers(viz_style))
    viz_image = "image_viz" if viz_style == "decorator" else "display_image"
    viz_bar = "bar_viz" if viz_style == "decorator" else "display_bar"

    lines: list[str] = []
    # 1. the encoder results: names, or a container built by a loop / comprehension
    holder = draw(st.sampled_from(["names", "names", "list_loop", "list_comp", "dict_comp", "getter"]))
    feats.add(f"inputs:{holder}")
    if holder == "names" or (holder == "getter" and enc_style != "direct"):
        for k in keys:
            lines.append(f"{k} = {enc_call[k]}(idx, preprocess)")
        image = "image"
        first = {k: k for k in keys}
    else:
        if enc_style == "direct":  # the loop needs the functions by key
            table = draw(st.sampled_from(["dict", "globals"]))
            getter = "ENC_TABLE[k]" if table == "dict" else "globals()[f'input_{k}']"
            if table == "dict":
                core += "\n\nENC_TABLE = {" + ", ".join(f"'{k}': input_{k}" for k in keys) + "}\n"
            else:
                feats.add("globals")
        else:
            getter = {"factory": "get_input_encoder(k)", "loop": "ENCODERS[k]"}[enc_style]
        if holder == "list_loop":
            lines += ["inputs = []", "for k in INPUT_KEYS:", f"    inputs.append({getter}(idx, preprocess))"]
        elif holder == "list_comp":
            lines.append(f"inputs = [{getter}(idx, preprocess) for k in INPUT_KEYS]")
        elif holder == "dict_comp":
            lines.append(f"inputs = {{k: {getter}(idx, preprocess) for k in INPUT_KEYS}}")
        else:  # getter: one call through the table / globals
            lines.append(f"image = {getter.replace('k]', repr(keys[0]) + ']').replace('{k}', keys[0])}(idx, preprocess)")
        if holder in ("list_loop", "list_comp"):
            feats.add("list_index")
            first = {k: f"inputs[{i}]" for i, k in enumerate(keys)}
        elif holder == "dict_comp":
            feats.add("dict_index")
            first = {k: f"inputs['{k}']" for k in keys}
        else:
            first = {keys[0]: "image"}
        image = first[keys[0]]
        if holder != "getter" and draw(st.booleans()):
            lines.append(f"image = {image}")
            image = "image"
    lines.append("gt = gt_classes(idx, preprocess)")
    lines.append("model = load_model()")

    # 2. the model call and the prediction
    call = draw(st.sampled_from(["onnx", "onnx", "keras"]))
    feed_dict = "{" + ", ".join(f"'{k}': {first.get(k, image)}" for k in keys[:1]) + "}"
    model_call = f"model.run(None, {feed_dict})" if call == "onnx" else f"model([{image}])"
    if draw(st.integers(0, 5)) == 0:  # loaded and run in one expression
        feats.add("inline_model")
        model_call = "load_model()" + model_call[len("model"):]
    index = draw(st.sampled_from(["0", "IDX", "OUT['classes']", "PAIR[0]", "IDX + 0", "-1" if n_out == 1 else "1",
                                  "0][0", "OUT['aux']" if n_out == 2 else "0"]))
    if index in ("OUT['classes']", "PAIR[0]", "OUT['aux']"):
        feats.add("const_subscript")
    if index == "IDX + 0":
        feats.add("const_arith")
    if index == "0][0":
        feats.add("double_index")
    if n_out == 2 and draw(st.integers(0, 5)) == 0:  # the outputs unpacked
        feats.add("unpack_outputs")
        lines.append(f"pred, aux = {model_call}")
    elif draw(st.booleans()):
        lines.append(f"predictions = {model_call}")
        lines.append(f"pred = predictions[{index}]")
    else:
        lines.append(f"pred = {model_call}[{index}]")

    # 3. statements
    stmts = {
        "viz_image": f"{viz_image}({image})",
        "viz_bar": f"{viz_bar}(pred)",
        "loss": "ce(gt, pred)",
        "loss_kw": "ce(gt=gt, prediction=pred)",
        "metric": "acc(gt, pred)",
        "meta": "meta_index(idx, preprocess)",
        "visualize": f"visualize({viz_image}({image}))",
        "visualize_if": f"if PLOT:\n    visualize({viz_bar}(pred), title='prediction')",
        "helper_var": "y = pred\nce(gt, y)",
        "tuple": "pair = (gt, pred)\nacc(pair[0], pair[1])",
        "dict": "outs = {'gt': gt, 'prediction': pred}\nce(outs['gt'], outs['prediction'])",
        "loop_literal": "for _ in ['a', 'b']:\n    acc(gt, pred)",
        "comprehension": f"[{viz_bar}(p) for p in [pred]]",
        "const_arith": "n = IDX + 1\nscale = 2 * 3",
        "if_const": "if IDX == 0:\n    acc(gt, pred)",
        "dead_branch": f"if False:\n    {viz_image}({image}[0])",
        "plain_helper": f"{viz_bar}(postprocess(pred))",
        "plain_helper_math": f"{viz_image}(normalise({image}))",
        "lib_call": "np.argmax(pred)",
        "lib_call_viz": f"{viz_bar}(np.squeeze(pred))",
        "arith": "ce(gt, pred * 2)",
        "arith_input": f"{viz_image}({image} + 1)",
        "index_input": f"{viz_image}({image}[0])",
        "index_gt": "ce(gt[0], pred)",
        "double_index": f"{viz_bar}(pred[0])",
        "print": "print(pred)",
        "len_list": "n_inputs = len(INPUT_KEYS)",
    }
    rare = {  # rejected by the SDK; drawn less often so that the SDK still accepts many projects
        # values that are not mapping placeholders passed to a visualizer / metric / loss
        "const_to_metric": "acc(gt, 0.5)",
        "list_to_viz": f"{viz_bar}([pred])",
        "array_to_loss": "ce(gt, np.zeros(3))",
        # attributes the placeholders lack
        "model_predict": f"model.predict([{image}])",
        "attr_pred": "shape = pred.shape",
        "attr_input": f"shape = {image}.shape",
        # a SyntaxError only the compiler raises
        "dup_keyword": "print(pred, sep=' ', sep=' ')",
    }
    chosen = draw(st.lists(st.sampled_from(sorted(stmts)), min_size=1, max_size=5))
    if draw(st.integers(0, 5)) == 0:
        chosen.insert(draw(st.integers(0, len(chosen))), draw(st.sampled_from(sorted(rare))))
    stmts.update(rare)
    for name in chosen:
        feats.add(f"stmt:{name}")
        lines.extend(stmts[name].split("\n"))
    if "visualize" in chosen or "visualize_if" in chosen:
        feats.add("visualize")
    body = "\n".join("    " + ln for ln in lines)
    test = f"\n\n@tensorleap_integration_test()\ndef integration_test(idx, preprocess):\n{body}\n"

    # 4. a slip made while editing (issue 25): a deleted definition, a typo in a decorator, a call or an import
    # (an index taken modulo from a wide range: sampled_from favours the first kinds in a derandomized run)
    kinds = sorted(SLIPS)
    slip = kinds[draw(st.integers(0, 2 ** 20)) % len(kinds)] if draw(st.integers(0, 2)) == 0 else None
    if slip == "typo_in_test_under_flag":
        test = test.replace("    gt = gt_classes(idx, preprocess)\n",
                            "    gt = gt_classes(idx, preprocess)\n    if PLOT:\n        print(pred_typo)\n", 1)

    files = {"leap.yaml": LEAP_YAML, "requirements.txt": REQUIREMENTS}
    if star:
        # the module's names pulled in with `import *`, or named one by one (an explicit import can name a deleted
        # one); all of them, since the test may look some up in globals()
        explicit = draw(st.booleans())
        feats.add("import_explicit" if explicit else "import_star")
        names = sorted(n for n in _top_level(core) if not n.startswith("_"))
        line = (f"from tl_parts.registrations import ({', '.join(names)})\n" if explicit
                else "from tl_parts.registrations import *\n")
        files["tl_parts/__init__.py"] = ""
        files["tl_parts/registrations.py"] = HEADER + core
        files["leap_integration.py"] = HEADER + line + test + (
            "\n\nif __name__ == '__main__':\n    integration_test(0, preprocess()[0])\n")
    else:
        files["leap_integration.py"] = HEADER + core + test
    if slip is not None and _apply_slip(files, slip):
        feats.add(f"slip:{slip}")
    return Program(files, feats)


_GT = "@tensorleap_gt_encoder('classes')\ndef gt_classes(idx, preprocess):\n    return np.eye(3, dtype=np.float32)[idx % 3]\n"
# slip -> (old, new) text edits of the file holding ``old`` (the registrations module, or the entry)
SLIPS: dict[str, list[tuple[str, str]]] = {
    "delete_gt_encoder": [(_GT, "")],  # still called by the test (and imported by name in the explicit style)
    "delete_helper": [("def postprocess(x):\n    return x\n", "")],  # only some tests call it
    "typo_decorator_gt": [("@tensorleap_gt_encoder('classes')", "@tensorleap_gt_encodr('classes')")],
    "typo_decorator_loss": [("@tensorleap_custom_loss('ce')", "@tensorleap_custom_los('ce')")],
    "typo_decorator_argument": [("direction=MetricDirection.Upward", "direction=MetricDirection_Upward")],
    "typo_call_in_test": [("    gt = gt_classes(idx, preprocess)", "    gt = gt_clases(idx, preprocess)")],
    "typo_in_encoder": [("[idx % 3]", "[idx % len(LABLES)]")],
    "typo_in_metadata": [("    return int(idx)", "    return int(indx)")],
    "typo_in_helper": [("    return x / 255.0", "    return x / MAX_VALU")],  # runs only where the test calls it
    "typo_in_test_under_flag": [],  # the test reads an undefined name under `if PLOT:` (True or False)
    "typo_in_dead_code": [("def normalise(x):", "def unused(x):\n    return x + MISSPELT\n\n\ndef normalise(x):")],
    "typo_in_main_block": [("    integration_test(0, preprocess()[0])", "    integraton_test(0, preprocess()[0])")],
    "typo_import_local": [("gt_classes", "gt_clases")],  # in the explicit import of the entry (that style only)
    "typo_import_sdk": [("import DataStateType, LeapDataType", "import DataStateTyp, LeapDataType")],
    "missing_numpy_import": [("\nimport numpy as np\n", "\n")],
}


def _apply_slip(files: dict[str, str], slip: str) -> bool:
    """Applies ``slip`` to the first file (registrations module first) whose text has each edit's anchor;
    False when the project has none of them (the slip does not apply to this shape)."""
    if slip == "typo_import_local":
        entry = files["leap_integration.py"]
        line = next((ln for ln in entry.split("\n") if ln.startswith("from tl_parts.registrations import (")), None)
        if line is None or "gt_classes" not in line:
            return False
        files["leap_integration.py"] = entry.replace(line, line.replace("gt_classes", "gt_clases"), 1)
        return True
    order = sorted(files, key=lambda n: (n != "tl_parts/registrations.py", n))
    done = not SLIPS[slip]  # the test-body slip was applied while composing
    for old, new in SLIPS[slip]:
        target = next((n for n in order if n.endswith(".py") and old in files[n]), None)
        if target is None:
            return False
        files[target] = files[target].replace(old, new, 1)
        done = True
    return done


def _top_level(source: str) -> set[str]:
    import ast

    out = set()
    for stmt in ast.parse(source).body:
        if isinstance(stmt, (ast.FunctionDef, ast.ClassDef)):
            out.add(stmt.name)
        elif isinstance(stmt, ast.Assign):
            out.update(t.id for t in stmt.targets if isinstance(t, ast.Name))
    return out


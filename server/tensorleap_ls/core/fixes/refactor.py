"""Refactorings no diagnostic asks for: legacy registrations -> decorators, companions of an encoder
(visualizer / metadata / metric wired to it), encoders and prediction types from the model file, the
skeleton of an empty file."""

from __future__ import annotations

import ast
import os
import re

from tensorleap_ls.core.fixes import stubs
from tensorleap_ls.core.fixes.edits import free_name, insert, module
from tensorleap_ls.core.model import Binding, Fix, Kind, Span, Style, TextEdit
from tensorleap_ls.core.sdk.bundled import DECORATOR_OF


# --- refactoring: legacy -> decorators -----------------------------------------------------------
def to_decorator(b: Binding, pa) -> list[TextEdit] | None:
    """Edits turning one legacy registration into the decorator on its function (same file only)."""
    call = b.reg_node
    if b.style is not Style.LEGACY or not isinstance(call, ast.Call) or b.def_node is None:
        return None
    method = call.func.attr if isinstance(call.func, ast.Attribute) else ""
    deco = DECORATOR_OF.get(method)
    if deco is None or b.def_path is None:
        return None
    kw = []
    for k, v in b.args.items():
        if k in ("function",):
            continue
        kw.append(v.text if k == "name" else f"{'heatmap_function' if k == 'heatmap_visualizer' else k}={v.text}")
    mod = module(pa, b.module_path)
    stmt = next((s for s in (mod.tree.body if mod and mod.tree else []) if isinstance(s, ast.Expr) and s.value is call), None)
    if stmt is None:
        return None
    first = stmt.lineno - 1
    last = (stmt.end_lineno or stmt.lineno)
    node = b.def_node
    deco_line = min([node.lineno] + [d.lineno for d in node.decorator_list]) - 1
    indent = " " * node.col_offset
    edits = [TextEdit(Span(b.module_path, first, 0, last, 0), ""),
             insert(b.def_path, deco_line, 0, f"{indent}@{deco}({', '.join(kw)})\n")]
    return edits


def convert_file(path: str, pa) -> Fix | None:
    edits: list[TextEdit] = []
    decos = set()
    for b in pa.bindings:
        if b.module_path != path or b.style is not Style.LEGACY:
            continue
        e = to_decorator(b, pa)
        if e:
            edits += e
            decos.add(DECORATOR_OF[b.reg_node.func.attr])
    if not edits:
        return None
    mod = module(pa, path)
    imports = stubs.import_edits(path, mod.tree, mod.source.lines, set(), decos)
    return Fix("Convert all leap_binder registrations of this file to decorators", imports + edits,
               kind="refactor.rewrite")


def convert_binding(b: Binding, pa) -> Fix | None:
    edits = to_decorator(b, pa)
    if not edits:
        return None
    mod = module(pa, b.def_path)
    deco = DECORATOR_OF[b.reg_node.func.attr]
    imports = stubs.import_edits(b.def_path, mod.tree, mod.source.lines, set(), {deco})
    return Fix(f"Convert to @{deco}", imports + edits, kind="refactor.rewrite")


def skeleton(path: str) -> Fix:
    return Fix("Generate a Tensorleap integration skeleton", [TextEdit(Span(path, 0, 0, 0, 0), stubs.SKELETON)],
               kind="source")


def is_empty(text: str) -> bool:
    return not text.strip() or all(not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines())



# --- from an encoder: add a visualizer / metadata / metric for this input -------------------------
def companions(b: Binding, pa) -> list[Fix]:
    """Stubs wired to the input or ground truth ``b`` (arguments named after its registered name)."""
    if b.kind not in (Kind.INPUT, Kind.GROUND_TRUTH) or not b.name or not b.name.isidentifier() or b.def_path is None:
        return []
    mod = module(pa, b.def_path)
    if mod is None or mod.tree is None:
        return []
    style = b.style
    out = []
    arg = b.name
    specs = [
        ("visualizer", Kind.VISUALIZER, f"{arg}_visualizer",
         f"def {{fn}}({arg}: np.ndarray) -> LeapImage:\n"
         f"    # {arg} arrives with a batch axis of size 1; return uint8 0-255 pixels (TODO: adapt to the data)\n"
         f"    return LeapImage((({arg}[0] - {arg}[0].min()) / (np.ptp({arg}[0]) + 1e-9) * 255).astype(np.uint8))\n",
         "@tensorleap_custom_visualizer('{name}', LeapDataType.Image)",
         "leap_binder.set_visualizer({fn}, '{name}', LeapDataType.Image)",
         {"np", "LeapImage", "LeapDataType"}, "tensorleap_custom_visualizer"),
        ("metadata", Kind.METADATA, f"{arg}_mean",
         "def {fn}(sample_id, preprocess: PreprocessResponse) -> float:\n"
         f"    # TODO: a property of the sample's {arg}\n"
         f"    return float({b.function}(sample_id, preprocess).mean())\n",
         "@tensorleap_metadata('{name}')", "leap_binder.set_metadata({fn}, '{name}')",
         {"PreprocessResponse"}, "tensorleap_metadata"),
        ("metric", Kind.METRIC, f"{arg}_metric",
         f"def {{fn}}({arg}: np.ndarray, prediction: np.ndarray) -> np.ndarray:\n"
         f"    # batched [B, ...] arrays; one value per sample (TODO: a real metric)\n"
         f"    return np.abs({arg} - prediction).reshape({arg}.shape[0], -1).mean(-1).astype(np.float32)\n",
         "@tensorleap_custom_metric('{name}', direction=MetricDirection.Downward)",
         "leap_binder.add_custom_metric({fn}, '{name}', direction=MetricDirection.Downward)",
         {"np", "MetricDirection"}, "tensorleap_custom_metric"),
    ]
    for what, kind, fn, body, deco, call, names, deco_name in specs:
        taken = {x.name for x in pa.bindings if x.kind is kind} | set(mod.defs) | set(mod.assigns)
        fn = next(c for c in [fn] + [f"{fn}_{i}" for i in range(2, 1000)] if c not in taken)
        code = body.format(fn=fn)
        if style is Style.DECORATOR:
            code = deco.format(name=fn) + "\n" + code
            imports = stubs.import_edits(b.def_path, mod.tree, mod.source.lines, names, {deco_name})
        else:
            code = code + "\n\n" + call.format(fn=fn, name=fn) + "\n"
            imports = stubs.import_edits(b.def_path, mod.tree, mod.source.lines, names | {"leap_binder"}, set())
        end = (b.def_node.end_lineno or b.def_node.lineno)
        edit = TextEdit(Span(b.def_path, end, 0, end, 0), "\n\n" + code)
        out.append(Fix(f"Add a {what} for `{arg}`", imports + [edit], kind="refactor"))
    return out


# --- stubs from the model file ----------------------------------------------------------------------
def model_stubs(pa, style: Style, model_path: str, info: dict, path: str) -> Fix | None:
    """One input encoder per model input (name, shape, dtype from the model) and a load_model with one
    prediction type per output; the model file's facts come from runtime/model_info.py."""
    mod = module(pa, path)
    if mod is None or not info.get("inputs"):
        return None
    taken = {b.name for b in pa.bindings if b.kind is Kind.INPUT} | set(mod.defs)
    parts, decos, names = [], set(), {"np", "PreprocessResponse"}
    for inp in info["inputs"]:
        name = str(inp["name"])
        if name in taken:
            continue
        shape = [d for d in inp.get("shape") or []][1:]  # drop the batch axis
        shape_text = "(" + ", ".join(str(d) if isinstance(d, int) and d > 0 else "1" for d in shape) + ("," if len(shape) == 1 else "") + ")"
        fn = free_name(mod, "encode_" + re.sub(r"\W", "_", name))
        channel = "1" if len(shape) == 3 and isinstance(shape[0], int) and shape[0] in (1, 3) and shape[-1] not in (1, 3) else "-1"
        body = (f"def {fn}(sample_id, preprocess: PreprocessResponse) -> np.ndarray:\n"
                f"    # TODO: model input '{name}': shape {shape_text} without the batch axis, model dtype {inp.get('dtype')}\n"
                f"    return np.zeros({shape_text}, dtype=np.float32)\n")
        if style is Style.DECORATOR:
            parts.append(f"@tensorleap_input_encoder({name!r}, channel_dim={channel})\n{body}")
            decos.add("tensorleap_input_encoder")
        else:
            parts.append(f"{body}\n\nleap_binder.set_input({fn}, {name!r}, channel_dim={channel})\n")
            names.add("leap_binder")
    if not any(b.kind in (Kind.LOAD_MODEL, Kind.PREDICTION) for b in pa.bindings):
        handlers = []
        for out in info.get("outputs", []):
            n = (out.get("shape") or [None])[-1]
            labels = f"[str(i) for i in range({n})]" if isinstance(n, int) and n > 0 else "[]"
            handlers.append((str(out["name"]), labels))
        rel = os.path.relpath(model_path, os.path.dirname(mod.path))
        if style is Style.DECORATOR:
            hs = ", ".join(f"PredictionTypeHandler({n!r}, {lab}, channel_dim=-1)" for n, lab in handlers)
            parts.append(f"@tensorleap_load_model([{hs}])\ndef load_model():\n"
                         f"    import onnxruntime  # TODO: keras.models.load_model for .h5 files\n"
                         f"    return onnxruntime.InferenceSession(os.path.join(os.path.dirname(os.path.abspath(__file__)), {rel!r}))\n")
            decos.add("tensorleap_load_model")
            names |= {"PredictionTypeHandler", "os"}
        else:
            parts += [f"leap_binder.add_prediction({n!r}, {lab}, channel_dim=-1)\n" for n, lab in handlers]
            names.add("leap_binder")
    if not parts:
        return None
    stubs.IMPORTS.setdefault("os", "import os")
    edits = stubs.import_edits(path, mod.tree, mod.source.lines, names, decos)
    edits.append(stubs.insert_code(path, mod.tree, mod.source.lines, "\n\n".join(p.rstrip("\n") + "\n" for p in parts)))
    return Fix(f"Create encoders and prediction types from {os.path.basename(model_path)}", edits, preferred=True)

"""Every row of the registrar table has a stub that, applied the way the code actions apply it (to the
generated integration or an advanced fixture), passes the real code-loader's check; the TL242 quick fix
creates the missing companion."""

from __future__ import annotations

import ast
import base64
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from advanced_projects import ENTRY, LEGACY_ENTRY, findings, project, run_sdk  # noqa: E402

from tensorleap_ls.core.fixes import stubs  # noqa: E402
from tensorleap_ls.core.engine.analysis import Analyzer  # noqa: E402
from tensorleap_ls.core.fixes import fixes_for  # noqa: E402
from tensorleap_ls.core.model import Style  # noqa: E402
from tensorleap_ls.core.sdk.bundled import DECORATORS, ROWS  # noqa: E402

pytestmark = pytest.mark.dynamic

_LOAD_LINE = "@tensorleap_load_model("

# registrar -> where its stub is tried: (base project, the function of the base it replaces or None = added
# beside, the registered name, shape, functions the stub calls, (old, new) edits of the base's calls).
# "skeleton" is the generated integration (core/stubs.project_files, with its ONNX model).
SCENARIOS = {
    "tensorleap_preprocess": ("skeleton", "preprocess", None, None, {}, ()),
    "tensorleap_unlabeled_preprocess": ("skeleton", None, None, None, {}, ()),
    "tensorleap_input_encoder": ("skeleton", "input_encoder", "image", None, {}, ()),
    "tensorleap_gt_encoder": ("skeleton", "gt_encoder", "classes", None, {}, ()),
    "tensorleap_metadata": ("skeleton", "sample_index", "sample_index", None, {}, ()),
    "tensorleap_custom_visualizer": ("skeleton", "image_visualizer", "image_visualizer", None, {}, ()),
    "tensorleap_custom_metric": ("skeleton", "accuracy", "accuracy", None, {}, ()),
    "tensorleap_custom_loss": ("skeleton", "cross_entropy", "cross_entropy", None, {}, ()),
    "tensorleap_load_model": ("skeleton", "load_model", None, None, {}, ()),
    "tensorleap_integration_test": ("skeleton", "integration_test", None, None, {}, ()),
    # with its two companions' stubs (the table's stubs too), in the generated integration
    "tensorleap_element_instance_preprocess": ("skeleton", "preprocess", None, None, {}, ()),
    "tensorleap_instances_masks_encoder": ("detection", "object_mask", "objects", None, {}, ()),
    "tensorleap_instances_length_encoder": ("detection", "object_count", "objects", None, {}, ()),
    "tensorleap_false_positive_instances_encoder": ("detection", "false_positives", "objects", None, {}, ()),
    "tensorleap_false_positive_empty_gt": ("detection", "empty_objects", "objects", "(3,)", {}, ()),
    "tensorleap_false_positive_custom_latent_space": ("detection", "false_positive_position", "object_position",
                                                      "(2,)", {}, ()),
    "tensorleap_custom_latent_space": ("detection", None, None, None, {}, ()),
    "tensorleap_instance_custom_latent_space": ("detection", None, None, None, {}, ()),
    "tensorleap_custom_instances_metric": ("detection", None, None, None, {}, ()),
    "tensorleap_simulation": ("detection", None, None, None, {}, ()),
    # the step feeds the decoder's input 'tokens' (4 floats)
    "tensorleap_autoregressive_step": ("sequence", "next_inputs", "tokens", "(4,)", {}, ()),
    "tensorleap_model_loop": ("sequence", "model_loop", "tokens", None, {"autoregressive_step": "next_inputs"}, ()),
    "tensorleap_autoregressive_metric": ("sequence", "chain_steps", "chain_steps", None, {}, ()),
    "tensorleap_autoregressive_loss": ("sequence", "last_token_error", "last_token_error", None, {},
                                       (("last_token_error(outputs, target_tokens)", "last_token_error(outputs)"),)),
    "tensorleap_autoregressive_visualizer": ("sequence", "chain_text", "chain_text", None, {}, ()),
}
# Rows without a stub, and why.
NO_STUB = {"tensorleap_custom_layer": "a Keras layer class: TensorFlow is not installed beside the SDK here"}
# Legacy forms left out of the all-legacy integration below, and why (their decorator forms run above).
LEGACY_ELSEWHERE = {
    "set_instance_masks": "needs the element-instance preprocess, which has no leap_binder method",
    "set_false_positive_custom_latent_space": "needs an instance custom latent space, which has no leap_binder method",
    "set_autoregressive_step": "an autoregressive integration has no input encoders",
    "add_autoregressive_metric": "autoregressive", "add_autoregressive_loss": "autoregressive",
    "add_autoregressive_visualizer": "autoregressive",
}


def apply(text: str, edits) -> str:
    lines = text.split("\n")
    offsets = [0]
    for ln in lines:
        offsets.append(offsets[-1] + len(ln) + 1)
    for e in sorted(edits, key=lambda e: (e.span.line, e.span.col), reverse=True):
        a = offsets[e.span.line] + e.span.col
        b = offsets[e.span.end_line] + e.span.end_col
        text = text[:a] + e.new_text + text[b:]
    return text


def _node(text: str, function: str) -> ast.FunctionDef:
    return next(n for n in ast.parse(text).body if isinstance(n, ast.FunctionDef) and n.name == function)


def _first_line(text: str, function: str) -> int:
    return min(d.lineno for d in _node(text, function).decorator_list) - 1


def _without(text: str, function: str) -> str:
    """The entry without the decorated function ``function`` (and the blank lines after it)."""
    node = _node(text, function)
    lines = text.split("\n")
    end = node.end_lineno
    while end < len(lines) and not lines[end].strip():
        end += 1
    return "\n".join(lines[:_first_line(text, function)] + lines[end:])


def test_every_row_of_the_table_has_a_stub_tried_with_the_sdk():
    assert {name for name, r in DECORATORS.items() if not r.stub} == set(NO_STUB)
    assert set(SCENARIOS) == set(DECORATORS) - set(NO_STUB)


def _skeleton(tmp_path: Path) -> Path:
    root = tmp_path / "skeleton"
    root.mkdir()
    for rel, text in stubs.project_files(None, with_model=True).items():
        (root / rel).write_text(text)
    built = subprocess.run([sys.executable, "-c", stubs.MODEL_SCRIPT], capture_output=True, text=True, check=True)
    (root / "model").mkdir()
    (root / "model" / "model.onnx").write_bytes(base64.b64decode(built.stdout))
    (root / "model.onnx").write_bytes(base64.b64decode(built.stdout))  # where the load_model stub reads it
    return root


@pytest.mark.parametrize("registrar", sorted(SCENARIOS))
def test_stub_passes_the_sdk(tmp_path, registrar):
    base, replaced, name, shape, calls, call_edits = SCENARIOS[registrar]
    root = _skeleton(tmp_path) if base == "skeleton" else project(tmp_path, base)
    entry = root / ENTRY
    text = entry.read_text()
    for old, new in call_edits:
        assert text.count(old) == 1
        text = text.replace(old, new)
    at = None
    if replaced:
        function = replaced
        at = _first_line(text, function)  # where it was: later code names it
        text = _without(text, function)
    else:
        function, name = f"new_{registrar.removeprefix('tensorleap_')}", name or f"new_{registrar}"
    parts = [stubs.registrar_stub(registrar, function, name, shape, **calls)]
    # the companions the stub calls and the base lacks (element-instance preprocess: the length and mask
    # encoders) are the table's stubs too, placed first
    companions = [c.removeprefix("tensorleap_") for c in DECORATORS[registrar].companions]
    parts[:0] = [stubs.registrar_stub(f"tensorleap_{c}", c, "objects") for c in companions
                 if f"{{{c}}}" in DECORATORS[registrar].stub and c not in calls]
    tree = ast.parse(text)
    lines = text.split("\n")
    edits = stubs.import_edits(str(entry), tree, lines, {n for p in parts for n in p.names},
                               {d for p in parts for d in p.decorators})
    edits.append(stubs.insert_code(str(entry), tree, lines, "\n\n".join(p.code for p in parts), line=at))
    entry.write_text(apply(text, edits))
    assert f"def {function}(" in entry.read_text()
    run = run_sdk(root)
    assert run.returncode == 0 and "Successful!" in run.stdout, run.stdout[-2000:] + run.stderr[-3000:]
    errors = [f for f in findings(root) if f.effective_severity.label == "error"]
    assert errors == [], [(f.code, f.message) for f in errors]


def test_legacy_stubs_together_make_an_integration_the_sdk_accepts(tmp_path):
    """The legacy form of every row that has a leap_binder method (function, then ``leap_binder.<method>(...)``),
    all in one legacy-style file ending in ``leap_binder.check()``: the code-loader accepts it, tensorleap-ls
    reports no error."""
    rows = [r for r in ROWS if r.legacy and r.stub and r.legacy.name not in LEGACY_ELSEWHERE]
    assert {r.legacy.name for r in ROWS if r.legacy and r.stub} - {r.legacy.name for r in rows} == set(LEGACY_ELSEWHERE)
    parts = []
    for r in rows:  # the false-positive empty ground truth names the ground truth 'gt_encoder' (10 floats)
        empty_gt = r.name == "tensorleap_false_positive_empty_gt"
        parts.append(stubs.render(r, Style.LEGACY, r.name.removeprefix("tensorleap_"), "gt_encoder" if empty_gt else None,
                                  "(10,)"))
    imports = dict.fromkeys(stubs.IMPORTS[n] for p in parts for n in sorted(p.names))
    root = tmp_path / "legacy"
    root.mkdir()
    (root / LEGACY_ENTRY).write_text("\n".join(imports) + "\n\n\n" + "\n\n".join(p.code for p in parts)
                                     + "\n\nif __name__ == '__main__':\n    leap_binder.check()\n")
    (root / "leap.yaml").write_text(f"entryFile: {LEGACY_ENTRY}\ninclude:\n  - {LEGACY_ENTRY}\n")
    assert all(f"leap_binder.{r.legacy.name}(" in (root / LEGACY_ENTRY).read_text() for r in rows)
    run = run_sdk(root)
    assert run.returncode == 0 and "Successful!" in run.stdout, run.stdout[-2000:] + run.stderr[-3000:]
    errors = [f for f in findings(root) if f.effective_severity.label == "error"]
    assert errors == [], [(f.code, f.message) for f in errors]


def test_missing_empty_gt_fix_creates_it_and_passes_the_sdk(tmp_path):
    root = project(tmp_path, "detection")
    entry = root / ENTRY
    entry.write_text(_without(entry.read_text(), "empty_objects"))
    assert run_sdk(root).returncode != 0
    pa = next(iter(Analyzer().analyze_path(str(root))))
    finding = next(f for f in pa.findings if f.code == "TL242")
    fix = fixes_for(finding, pa)[0]
    assert "tensorleap_false_positive_empty_gt('objects')" in fix.title
    entry.write_text(apply(entry.read_text(), fix.edits))
    assert "np.zeros(np.shape(gt_objects(sample_id, preprocess)), dtype=np.float32)" in entry.read_text()
    run = run_sdk(root)
    assert run.returncode == 0 and "Successful!" in run.stdout, run.stdout[-2000:] + run.stderr[-3000:]
    assert not [f for f in findings(root) if f.code == "TL242"]


def test_undefined_function_of_a_legacy_advanced_registration_gets_the_table_stub(tmp_path):
    root = project(tmp_path, "detection", [(_LOAD_LINE, "from code_loader import leap_binder\n\n"
                                            "leap_binder.set_instance_masks(more_masks, 'more_objects')\n\n\n" + _LOAD_LINE)])
    pa = next(iter(Analyzer().analyze_path(str(root))))
    finding = next(f for f in pa.findings if f.code == "TL110")
    fix = fixes_for(finding, pa)[0]
    entry = root / ENTRY
    entry.write_text(apply(entry.read_text(), fix.edits))
    text = entry.read_text()
    assert "def more_masks(sample_id: str, preprocess: PreprocessResponse, instance_id: int) -> ElementInstance:" in text
    assert "@tensorleap_instances_masks_encoder" not in text.split("def more_masks")[0].rsplit("\n\n", 1)[-1]
    assert not [f for f in findings(root) if f.effective_severity.label == "error"]
    run = run_sdk(root)
    assert run.returncode == 0 and "Successful!" in run.stdout, run.stdout[-2000:] + run.stderr[-3000:]

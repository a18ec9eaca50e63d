"""The registrar table's stubs, applied to the detection fixture the way the code actions apply them,
pass the real code-loader's check; the TL242 quick fix creates the missing companion."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from advanced_projects import ENTRY, findings, project, run_sdk  # noqa: E402

from tensorleap_ls.core import stubs  # noqa: E402
from tensorleap_ls.core.analysis import Analyzer  # noqa: E402
from tensorleap_ls.core.fixes import fixes_for  # noqa: E402
from tensorleap_ls.core.sdk import DECORATORS  # noqa: E402

pytestmark = pytest.mark.dynamic

_LOAD_LINE = "@tensorleap_load_model("

# registrar -> (function of the fixture the stub replaces, its registered name, shape) or None: added beside
REPLACES = {
    "tensorleap_instances_masks_encoder": ("object_mask", "objects", None),
    "tensorleap_instances_length_encoder": ("object_count", "objects", None),
    "tensorleap_false_positive_instances_encoder": ("false_positives", "objects", None),
    "tensorleap_false_positive_empty_gt": ("empty_objects", "objects", "(3,)"),
    "tensorleap_false_positive_custom_latent_space": ("false_positive_position", "object_position", "(2,)"),
    "tensorleap_custom_latent_space": None,
    "tensorleap_instance_custom_latent_space": None,
    "tensorleap_custom_instances_metric": None,
    "tensorleap_simulation": None,
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


def test_every_advanced_stub_is_tested():
    assert {name for name, r in DECORATORS.items() if r.stub} == set(REPLACES)


@pytest.mark.parametrize("registrar", sorted(REPLACES))
def test_stub_passes_the_sdk(tmp_path, registrar):
    root = project(tmp_path, "detection")
    entry = root / ENTRY
    text = entry.read_text()
    replaced = REPLACES[registrar]
    at = None
    if replaced:
        function, name, shape = replaced
        at = _first_line(text, function)  # where it was: the element-instance preprocess names it below
        text = _without(text, function)
    else:
        function, name, shape = f"new_{registrar.removeprefix('tensorleap_')}", f"new_{registrar}", None
    st = stubs.registrar_stub(registrar, function, name, shape)
    tree = ast.parse(text)
    lines = text.split("\n")
    edits = stubs.import_edits(str(entry), tree, lines, set(st.names), set(st.decorators))
    edits.append(stubs.insert_code(str(entry), tree, lines, st.code, line=at))
    entry.write_text(apply(text, edits))
    assert f"def {function}(" in entry.read_text()
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

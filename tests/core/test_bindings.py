"""Binding extraction and the project model, one test per pattern real integrations use.

Fixture projects under tests/fixtures/extraction/ are written like real integrations: a package of
helpers pulled in with star imports, YAML configs, factories, both API styles.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tensorleap_ls.core.engine.analysis import Analyzer

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "extraction"


def analyse(project: str | Path):
    root = FIX / project if isinstance(project, str) else project
    (pa,) = Analyzer().analyze_path(str(root))
    return pa


def table(pa) -> set[tuple]:
    root = pa.project.root
    return {(b.kind.value, b.name, b.function, os.path.relpath(b.reg_span.path, root), b.reg_span.line + 1,
             b.style.value) for b in pa.bindings}


# --- star_pkg: star imports, packages, relative imports, a local package named leap_binder, sys.path ------
def test_star_imports_across_a_package():
    t = table(analyse("star_pkg"))
    assert ("input", "image", "encode_image", "tensorleap/components/encoders.py", 7, "decorator") in t
    assert ("ground_truth", "mask", "encode_mask", "tensorleap/components/encoders.py", 12, "decorator") in t


def test_local_package_named_leap_binder_next_to_the_sdk_object():
    pa = analyse("star_pkg")
    assert ("preprocess", None, "preprocess", "leap_binder/preprocessing.py", 13, "legacy") in table(pa)
    assert str(FIX / "star_pkg" / "leap_binder" / "preprocessing.py") in pa.project.modules
    assert ("prediction", "mask", None, "leap_integration.py", 11, "legacy") in table(pa)


def test_names_from_module_constants_and_f_strings():
    t = table(analyse("star_pkg"))
    # INPUT_NAME imported from a sibling module by a relative import; f"{VIZ_PREFIX}_image"; f"mask"
    assert ("visualizer", "raw_image", "image_viz", "tensorleap/components/visualizers.py", 8, "decorator") in t


def test_sys_path_insert_and_module_alias_of_the_decorators():
    pa = analyse("star_pkg")
    t = table(pa)
    assert ("metric", "iou", "iou", "tensorleap/extra_metrics.py", 6, "decorator") in t
    assert ("loss", "dice", "dice", "tensorleap/extra_metrics.py", 11, "decorator") in t


def test_files_outside_the_closure_do_not_count():
    pa = analyse("star_pkg")
    assert not any(b.name == "stray" for b in pa.bindings)
    assert str(FIX / "star_pkg" / "unused_helper.py") not in pa.project.modules
    # opened on its own, the stray file is not part of any closure but uses code_loader: its own entry
    (alone,) = Analyzer().analyze_file(str(FIX / "star_pkg" / "unused_helper.py"))
    assert alone.project.entry.endswith("unused_helper.py")
    assert [b.name for b in alone.bindings] == ["stray"]


def test_definition_positions_are_recorded():
    pa = analyse("star_pkg")
    b = next(b for b in pa.bindings if b.name == "image")
    assert b.def_span is not None and b.def_span.line + 1 == 8 and b.def_path.endswith("encoders.py")
    assert b.args["channel_dim"].value == -1 and b.args["name"].text == "INPUT_NAME"


# --- dynamic_patterns: loops, YAML configs, ifs, factories, lru_cache, aliases, mixed styles ------------
def test_loop_over_a_literal_list_yields_one_binding_per_item():
    t = table(analyse("dynamic_patterns"))
    assert {("metadata", n, "aux", "leap_binder.py", 39, "legacy") for n in ("aux_a", "aux_b")} <= t


def test_loop_over_a_list_read_from_a_yaml_config_of_the_project():
    t = table(analyse("dynamic_patterns"))
    for cls in ("car", "person", "bike"):
        assert ("metadata", f"count_{cls}", "class_count", "leap_binder.py", 41, "legacy") in t


def test_loop_over_values_from_outside_the_project_gives_an_unknown_name_and_no_error():
    pa = analyse("dynamic_patterns")
    unknown = [b for b in pa.bindings if b.kind.value == "metadata" and b.name is None]
    assert len(unknown) == 1 and unknown[0].function == "aux"
    assert not [f for f in pa.findings if f.code in ("TL110", "TL111", "TL112", "TL120", "TL122")]


def test_if_on_a_module_constant_takes_the_known_branch():
    t = table(analyse("dynamic_patterns"))
    assert not any(k == "input" and n == "depth" for k, n, *_ in t)  # use_depth: false in the YAML config
    assert ("metadata", "image_mean", "encode", "leap_binder.py", 37, "legacy") in t  # MODE == 'detection'


def test_a_function_registered_under_two_kinds():
    t = table(analyse("dynamic_patterns"))
    assert ("input", "image", "encode", "leap_binder.py", 33, "legacy") in t
    assert ("metadata", "image_mean", "encode", "leap_binder.py", 37, "legacy") in t


def test_factory_called_with_config_values_and_binder_alias():
    t = table(analyse("dynamic_patterns"))
    assert ("prediction", "boxes", None, "tl/factories.py", 15, "legacy") in t
    assert ("prediction", "scores", None, "tl/factories.py", 15, "legacy") in t


def test_lru_cache_loader_called_with_a_literal_registers_its_closure():
    pa = analyse("dynamic_patterns")
    viz = [b for b in pa.bindings if b.kind.value == "visualizer"]
    assert [(b.name, b.function, b.def_span.line + 1) for b in viz] == [("score_text", "text_viz", 25)]


def test_mixed_styles_in_one_project():
    pa = analyse("dynamic_patterns")
    assert {b.style.value for b in pa.bindings} == {"legacy", "decorator"}


# --- model_handlers: prediction handler lists in a variable of another module --------------------------
def test_prediction_handlers_held_in_a_variable():
    pa = analyse("model_handlers")
    preds = sorted((b.name, b.args["channel_dim"].value, os.path.basename(b.reg_span.path), b.reg_span.line + 1)
                   for b in pa.bindings if b.kind.value == "prediction")
    assert preds == [("classes", -1, "handlers.py", 4), ("embedding", 1, "handlers.py", 5)]
    assert any(b.kind.value == "load_model" and b.function == "load_model" for b in pa.bindings)


def test_decorators_through_a_module_alias():
    t = table(analyse("model_handlers"))
    assert ("integration_test", None, "test", "leap_integration.py", 33, "decorator") in t
    assert ("loss", "zero", "zero", "leap_integration.py", 28, "decorator") in t


# --- the project model -------------------------------------------------------------------------------
def test_entry_defaults_without_leap_yaml(tmp_path):
    shutil.copytree(FIX / "model_handlers", tmp_path / "p")
    (tmp_path / "p" / "leap.yaml").unlink()
    pa = analyse(tmp_path / "p")
    assert pa.project.entry.endswith("leap_integration.py") and pa.project.leap_yaml_path is None


def test_every_file_of_the_closure_maps_to_its_project():
    analyzer = Analyzer()
    helper = FIX / "dynamic_patterns" / "tl" / "factories.py"
    (pa,) = analyzer.analyze_file(str(helper))
    assert pa.project.entry.endswith("leap_binder.py")
    (pa2,) = analyzer.analyze_file(str(FIX / "dynamic_patterns" / "leap.yaml"))
    assert pa2.project.root == pa.project.root


def test_overlay_shadows_the_disk_and_closing_reverts():
    analyzer = Analyzer()
    entry = FIX / "model_handlers" / "leap_integration.py"
    text = entry.read_text()
    analyzer.set_overlay(str(entry), text.replace("'image'", "'pixels'"))
    (pa,) = analyzer.analyze_file(str(entry))
    assert any(b.name == "pixels" for b in pa.bindings)
    analyzer.set_overlay(str(entry), None)
    (pa,) = analyzer.analyze_file(str(entry))
    assert any(b.name == "image" for b in pa.bindings) and not any(b.name == "pixels" for b in pa.bindings)


@pytest.mark.parametrize("project", ["star_pkg", "dynamic_patterns", "model_handlers"])
def test_unchanged_modules_are_not_parsed_again(project):
    analyzer = Analyzer()
    root = FIX / project
    (first,) = analyzer.analyze_path(str(root))
    (second,) = analyzer.analyze_path(str(root))
    assert all(second.project.modules[p] is m for p, m in first.project.modules.items())


def test_inside_the_project_is_a_path_boundary(tmp_path):
    """A sibling folder that merely starts with the root's name is outside it (``/a/bc`` vs ``/a/b``)."""
    from tensorleap_ls.core.project.closure import inside

    root = tmp_path / "proj"
    assert inside(str(root / "cfg" / "x.yaml"), str(root)) and inside(str(root), str(root))
    assert not inside(str(tmp_path / "proj_data" / "x.yaml"), str(root))
    assert not inside(str(tmp_path), str(root))

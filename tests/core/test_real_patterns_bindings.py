"""Issue 10, classes 3, 4 and 6: code other people write that the SDK accepts.

- class 3: functions looked up by name (``globals()[f'display_{name}']``, a dict of functions,
  ``getattr(module, name)``) in loops over config lists, and decorators applied by hand;
- class 4: encoders registered lazily by an ``lru_cache`` factory, called from the integration test,
  from other functions or at module level (and TL310 seeing those calls);
- class 6: TL408 once per missing distribution, at its first import executed when the entry is imported.

Fixtures under tests/fixtures/real_patterns/ are written like public integrations (py3.8-era typing,
YAML configs, ``import *`` helper packages, a thin requirements.txt beside a poetry pyproject, a vendored
library with optional back-ends). Each is also loaded by the real code-loader (tests/sdk_probe.py) and
its registrations are compared with ``tensorleap-ls check --format json``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sdk_probe import compare, sdk_registrations  # noqa: E402

from tensorleap_ls.core.engine.analysis import Analyzer  # noqa: E402

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "real_patterns"
FIXTURES = ("config_loop_globals", "lazy_factory", "poetry_vendored")


def analyse(root: Path):
    """As the CLI does it without a project venv: against this interpreter's environment."""
    from tensorleap_ls.core.sdk.env import environment

    (pa,) = Analyzer(env_for=lambda _root: environment(None)).analyze_path(str(root))
    return pa


def codes(pa, *wanted: str) -> list:
    return [f for f in pa.findings if f.code in wanted]


def check_json(root: Path) -> dict:
    proc = subprocess.run([sys.executable, "-m", "tensorleap_ls", "check", "--format", "json", str(root)],
                          capture_output=True, text=True, timeout=120)
    (project,) = json.loads(proc.stdout)["projects"]
    return project


def write_project(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text))
    return tmp_path


# --- the SDK agrees: registrations per kind -------------------------------------------------------------
@pytest.mark.parametrize("name", FIXTURES)
def test_bindings_equal_what_the_sdk_registers(name):
    sdk = sdk_registrations(FIX / name)
    assert sdk["error"] is None, sdk["error"]
    project = check_json(FIX / name)
    assert compare(sdk, project["bindings"]) == []
    # and nothing red from the codes of these classes where the SDK accepts the code
    red = [d for d in project["diagnostics"] if d["severity"] == "error"
           and d["code"] in ("TL101", "TL102", "TL103", "TL105", "TL106", "TL110", "TL111", "TL112", "TL120")]
    assert red == []


def test_compare_reports_a_missing_registration():
    """The comparison itself can fail (so the test above asserts something)."""
    sdk = {"kinds": {"input": ["image", "mask"]}}
    assert compare(sdk, [{"kind": "input", "name": "image"}]) == [
        "input: the SDK registers ['mask'], tensorleap-ls has 0 binding(s) of unknown name"]
    assert compare(sdk, [{"kind": "input", "name": "image"}, {"kind": "input", "name": None}]) == []
    assert compare(sdk, [{"kind": "input", "name": "image"}, {"kind": "input", "name": "mask"},
                         {"kind": "input", "name": "depth"}]) == [
        "input: tensorleap-ls reports ['depth'] the SDK does not register"]


# --- class 3: functions looked up by name -----------------------------------------------------------------
def test_globals_lookup_in_a_config_loop_registers_one_visualizer_per_item():
    pa = analyse(FIX / "config_loop_globals")
    assert codes(pa, "TL110", "TL111", "TL112") == []
    viz = {(b.name, b.function) for b in pa.bindings if b.kind.value == "visualizer"}
    assert viz == {("image_viz", "display_image"), ("mask_overlay_viz", "display_mask_overlay")}
    b = next(b for b in pa.bindings if b.name == "image_viz")
    assert b.def_path.endswith("seg_tl/visualizers.py") and b.def_node is not None


def test_dict_of_functions_and_getattr_of_a_module_resolve():
    pa = analyse(FIX / "config_loop_globals")
    got = {(b.kind.value, b.name, b.function) for b in pa.bindings}
    assert {("metric", "dice", "dice"), ("metric", "iou", "iou"),
            ("metadata", "meta_brightness", "meta_brightness"), ("metadata", "meta_area", "meta_area")} <= got


_LOOKUP = """\
    import os
    from code_loader import leap_binder
    from code_loader.contract.enums import LeapDataType
    from code_loader.contract.visualizer_classes import LeapImage

    def display_image(image) -> LeapImage:
        return LeapImage(image[0])

    FUNCS = {{"image": display_image}}

    for name in {names}:
        fn = globals()[f'display_{{name}}']
        leap_binder.set_visualizer(fn, name=f'{{name}}_viz', visualizer_type=LeapDataType.Image)
    for name in {names}:
        leap_binder.set_visualizer(FUNCS.get(name, display_image), name=f'{{name}}_d', visualizer_type=LeapDataType.Image)
"""


def test_lookup_with_an_unknown_key_gives_an_unknown_function_never_an_undefined_one(tmp_path):
    root = write_project(tmp_path, {"leap_binder.py": _LOOKUP.format(names="os.environ['VIZ'].split(',')")})
    pa = analyse(root)
    assert codes(pa, "TL110", "TL111", "TL112") == []
    viz = [b for b in pa.bindings if b.kind.value == "visualizer"]
    assert len(viz) == 2 and all(b.name is None and b.def_node is None for b in viz)


def test_lookup_of_a_known_key_that_does_not_exist_is_an_error(tmp_path):
    # globals()['display_mask'] raises KeyError at import: the SDK fails there. FUNCS.get('mask', display_image)
    # falls back to a defined function: no error for it.
    root = write_project(tmp_path, {"leap_binder.py": _LOOKUP.format(names="['image', 'mask']")})
    pa = analyse(root)
    assert [(f.data.function, f.span.line + 1) for f in codes(pa, "TL110", "TL111", "TL112")] == [("display_mask", 13)]
    assert {(b.name, b.function) for b in pa.bindings if b.kind.value == "visualizer"} == {
        ("image_viz", "display_image"), ("mask_viz", "display_mask"), ("image_d", "display_image"),
        ("mask_d", "display_image")}


def test_decorator_applied_by_hand_to_a_globals_lookup():
    pa = analyse(FIX / "lazy_factory")
    (b,) = [b for b in pa.bindings if b.kind.value == "visualizer"]
    assert (b.name, b.function, b.style.value) == ("depth_viz", "display_depth", "decorator")
    assert b.def_node is not None and b.def_node.name == "display_depth"


# --- class 4: factories -------------------------------------------------------------------------------------
def test_factory_called_in_a_loop_of_the_integration_test_registers_each_key():
    pa = analyse(FIX / "lazy_factory")
    inputs = sorted((b.name, b.function) for b in pa.bindings if b.kind.value == "input")
    assert inputs == [("image", "input_func"), ("mask", "input_func")]  # once each: the factory is cached
    assert codes(pa, "TL102", "TL120") == []


def test_factory_called_at_module_level_over_a_yaml_list():
    pa = analyse(FIX / "lazy_factory")
    assert sorted(b.name for b in pa.bindings if b.kind.value == "metadata") == ["max_depth", "mean_depth"]
    assert [b.name for b in pa.bindings if b.kind.value == "ground_truth"] == ["depth"]


def test_tl310_sees_factory_calls_in_the_integration_test():
    pa = analyse(FIX / "lazy_factory")
    assert {f.data.function for f in codes(pa, "TL310")} == {"display_depth"}  # the one the test never calls


_FACTORY = """\
    from functools import lru_cache
    import os
    import numpy as np
    from code_loader.inner_leap_binder.leapbinder_decorators import *

    @lru_cache()
    def get_input_func(key):
        @tensorleap_input_encoder(key, channel_dim=-1)
        def f(idx, p):
            return np.zeros((2, 2), dtype=np.float32)
        return f

    @tensorleap_preprocess()
    def preprocess():
        return []

    {use}
"""


def test_factory_called_with_an_unknown_key_suppresses_the_missing_input(tmp_path):
    root = write_project(tmp_path, {"leap_integration.py": _FACTORY.format(use="get_input_func(os.environ['KEY'])")})
    pa = analyse(root)
    assert codes(pa, "TL102") == []
    assert [(b.kind.value, b.name) for b in pa.bindings if b.kind.value == "input"] == [("input", None)]


def test_factory_called_from_another_decorated_function(tmp_path):
    use = """
    @tensorleap_metadata('brightness')
    def brightness(idx, p):
        return float(get_input_func('image')(idx, p).mean())
    """
    root = write_project(tmp_path, {"leap_integration.py": _FACTORY.format(use=textwrap.dedent(use).replace("\n", "\n    "))})
    pa = analyse(root)
    assert codes(pa, "TL102") == []
    assert [b.name for b in pa.bindings if b.kind.value == "input"] == ["image"]


def test_factory_never_called_registers_nothing(tmp_path):
    root = write_project(tmp_path, {"leap_integration.py": _FACTORY.format(use="")})
    pa = analyse(root)
    assert [f.code for f in codes(pa, "TL102")] == ["TL102"]


# --- class 6: TL408 ------------------------------------------------------------------------------------------
def test_tl408_once_per_distribution_at_its_first_executed_import():
    pa = analyse(FIX / "poetry_vendored")
    found = codes(pa, "TL408")
    # PIL: imported twice at the top of the entry and again inside a function -> one finding, the first line.
    # numpy / yaml / code_loader: the platform provides the SDK and its requirements.
    # torch, tensorflow, google (try/except ImportError / Exception / bare), cv2 (inside a function), the
    # vendored back-ends and boto3 (modules loaded only lazily): not executed when the entry is imported.
    assert [(f.data.package, f.span.line + 1, f.span.path.endswith("leap_binder.py")) for f in found] == \
        [("PIL", 5, True)]
    assert "pyproject.toml" in found[0].message and found[0].data.distribution == "pillow"


def test_tl408_without_pyproject_names_requirements_only(tmp_path):
    root = tmp_path / "p"
    shutil.copytree(FIX / "poetry_vendored", root)
    (root / "pyproject.toml").unlink()
    (f,) = codes(analyse(root), "TL408")
    assert "pyproject" not in f.message and "`pillow`" in f.message


def test_tl408_for_an_executed_import_of_a_module_loaded_at_import(tmp_path):
    root = tmp_path / "p"
    shutil.copytree(FIX / "poetry_vendored", root)
    ops = root / "vendor" / "detlib" / "ops.py"
    ops.write_text("import cv2\n" + ops.read_text())  # now executed: vendor.detlib is imported by the entry
    assert sorted(f.data.package for f in codes(analyse(root), "TL408")) == ["PIL", "cv2"]


def test_tl413_suggests_pinning_code_loader_as_information():
    pa = analyse(FIX / "poetry_vendored")
    (f,) = codes(pa, "TL413")
    assert f.effective_severity.name == "INFORMATION" and f.span.path.endswith("requirements.txt")
    assert codes(analyse(FIX / "lazy_factory"), "TL413") == []  # requirements.txt pins code-loader


def test_a_factory_registering_several_keys_reports_a_contract_finding_once(tmp_path):
    root = tmp_path / "p"
    shutil.copytree(FIX / "lazy_factory", root)
    enc = root / "depth_tl" / "encoders.py"
    enc.write_text(enc.read_text().replace("@tensorleap_input_encoder(key, channel_dim=-1)",
                                           "@tensorleap_input_encoder(key)"))
    pa = analyse(root)
    assert len([b for b in pa.bindings if b.kind.value == "input"]) == 2
    assert [f.span.line + 1 for f in codes(pa, "TL230")] == [10]


def test_tl408_not_for_fallbacks_in_import_error_handlers(tmp_path):
    root = write_project(tmp_path, {
        "leap.yaml": "entryFile: leap_binder.py\n",
        "requirements.txt": "code-loader\n",
        "leap_binder.py": """\
            from typing import TYPE_CHECKING
            try:
                import ujson as json
            except ImportError:
                import simplejson as json
            else:
                import orjson
            if TYPE_CHECKING:
                import torch
            import sklearn
            from code_loader import leap_binder
            import sklearn.metrics

            if __name__ == "__main__":
                import matplotlib
        """})
    assert [(f.data.package, f.span.line + 1) for f in codes(analyse(root), "TL408")] == [("sklearn", 10)]


def test_getattr_of_this_module_and_globals_get(tmp_path):
    root = write_project(tmp_path, {"leap_binder.py": """\
        import sys
        from code_loader import leap_binder

        def meta_a(idx, p):
            return 1

        def meta_b(idx, p):
            return 2

        for key in ['a', 'b']:
            leap_binder.set_metadata(getattr(sys.modules[__name__], f'meta_{key}'), key)
        leap_binder.set_metadata(globals().get('meta_a'), 'c')
        leap_binder.set_metadata(globals().get('meta_z', meta_b), 'd')
    """})
    pa = analyse(root)
    assert codes(pa, "TL110", "TL111", "TL112") == []
    assert sorted((b.name, b.function) for b in pa.bindings) == [
        ("a", "meta_a"), ("b", "meta_b"), ("c", "meta_a"), ("d", "meta_b")]


@pytest.mark.parametrize("cached", [True, False])
def test_a_factory_called_twice_with_one_key_is_a_duplicate_only_without_a_cache(tmp_path, cached):
    src = _FACTORY.format(use="get_input_func('image')\n    get_input_func('image')")
    if not cached:
        src = src.replace("    @lru_cache()\n", "")
    root = write_project(tmp_path, {"leap_integration.py": src})
    sdk = sdk_registrations(root)
    pa = analyse(root)
    if cached:  # lru_cache returns the first function: one registration
        assert sdk["error"] is None and sdk["kinds"]["input"] == ["image"]
        assert codes(pa, "TL120") == []
    else:  # the SDK raises at the second decoration
        assert sdk["error"] is not None and "already exists" in sdk["error"]
        assert [f.effective_severity.name for f in codes(pa, "TL120")] == ["ERROR"]


@pytest.mark.parametrize("decorator, kind, code", [
    ("tensorleap_input_encoder(key, channel_dim=-1)", "input", "TL102"),
    ("tensorleap_gt_encoder(key)", "ground_truth", "TL106"),
    ("tensorleap_custom_loss(key)", "loss", "TL105"),
])
def test_any_kind_registered_by_a_factory_with_an_unknown_key_is_not_missing(tmp_path, decorator, kind, code):
    src = _FACTORY.format(use="ENCODERS = {k: get_input_func(k) for k in os.environ['KEYS'].split(',')}")
    root = write_project(tmp_path, {"leap_integration.py": src.replace("tensorleap_input_encoder(key, channel_dim=-1)",
                                                                       decorator)})
    pa = analyse(root)
    assert codes(pa, code) == []
    assert [b.name for b in pa.bindings if b.kind.value == kind] == [None]


def test_a_dict_comprehension_of_factory_calls_over_a_literal_list(tmp_path):
    src = _FACTORY.format(use="ENCODERS = {k: get_input_func(k) for k in ['image', 'depth']}")
    root = write_project(tmp_path, {"leap_integration.py": src})
    sdk = sdk_registrations(root)
    assert sdk["error"] is None
    assert compare(sdk, check_json(root)["bindings"]) == []
    assert sorted(sdk["kinds"]["input"]) == ["depth", "image"]


def test_a_helper_passing_its_parameter_to_a_factory(tmp_path):
    """``make(key)`` calls the factory with its own parameter: its calls with literal keys register them (checked
    against the SDK's mapping run of the integration test); the helper's own body adds no unknown name."""
    root = write_project(tmp_path, {"leap_integration.py": """\
        from functools import lru_cache
        from typing import List
        import numpy as np
        from code_loader.inner_leap_binder.leapbinder_decorators import *

        @tensorleap_preprocess()
        def preprocess() -> List[PreprocessResponse]:
            return [PreprocessResponse(sample_ids=[0, 1], data=None, state=s, sample_id_type=int)
                    for s in (DataStateType.training, DataStateType.validation)]

        @lru_cache()
        def get_input_func(key):
            @tensorleap_input_encoder(key, channel_dim=-1)
            def f(idx, p):
                return np.zeros((2, 2), dtype=np.float32)
            return f

        def make(key):
            return get_input_func(key)

        @tensorleap_integration_test()
        def integration_test(idx, p):
            make('image')(idx, p)
            make('depth')(idx, p)
    """})
    sdk = sdk_registrations(root)
    assert sdk["error"] is None and sorted(sdk["kinds"]["input"]) == ["depth", "image"]
    assert compare(sdk, check_json(root)["bindings"]) == []
    pa = analyse(root)
    assert codes(pa, "TL310") == []


def test_tl408_at_the_import_that_runs_first(tmp_path):
    root = write_project(tmp_path, {
        "leap.yaml": "entryFile: leap_binder.py\n",
        "requirements.txt": "code-loader\n",
        "leap_binder.py": "import numpy as np\nimport helpers\nimport cv2\nfrom code_loader import leap_binder\n",
        "helpers/__init__.py": "from .ops import *\n",
        "helpers/ops.py": "def f():\n    import torch\n\nimport cv2\n",
    })
    (f,) = codes(analyse(root), "TL408")
    assert (f.data.package, Path(f.span.path).name, f.span.line + 1) == ("cv2", "ops.py", 4)


def test_globals_lookup_of_names_bound_by_other_statements_is_never_undefined(tmp_path):
    root = write_project(tmp_path, {"leap_binder.py": """\
        from code_loader import leap_binder

        def _make(i):
            return lambda idx, p: i

        meta_a, meta_b = _make(1), _make(2)
        for i in range(2):
            pass

        def init():
            global meta_c
            meta_c = _make(3)

        init()
        for key in ['a', 'b', 'c']:
            leap_binder.set_metadata(globals()[f'meta_{key}'], key)
    """})
    pa = analyse(root)
    assert codes(pa, "TL110", "TL111", "TL112") == []
    assert sorted(b.name for b in pa.bindings) == ["a", "b", "c"]


def test_prediction_types_from_a_comprehension_over_a_config_list(tmp_path):
    """``tensorleap_load_model([PredictionTypeHandler(h, LABELS[h]) for h in CONFIG['heads']])`` (CONFIG read
    from the project's YAML): one prediction per head, its labels known, as the SDK registers them."""
    root = write_project(tmp_path, {
        "project_config.yaml": "heads: [category, color]\n",
        "leap_integration.py": """\
            import os
            import numpy as np
            import yaml
            from code_loader.contract.datasetclasses import PredictionTypeHandler, PreprocessResponse
            from code_loader.contract.enums import DataStateType
            from code_loader.inner_leap_binder.leapbinder_decorators import (
                tensorleap_input_encoder, tensorleap_integration_test, tensorleap_load_model, tensorleap_preprocess)

            with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'project_config.yaml')) as f:
                CONFIG = yaml.safe_load(f)
            LABELS = {'category': ['shoe', 'bag'], 'color': ['red', 'green', 'blue']}

            @tensorleap_preprocess()
            def preprocess():
                return [PreprocessResponse(sample_ids=[0, 1], sample_id_type=int, state=DataStateType.training),
                        PreprocessResponse(sample_ids=[2], sample_id_type=int, state=DataStateType.validation)]

            @tensorleap_input_encoder('image', channel_dim=-1)
            def image(idx, p):
                return np.zeros((4, 4, 3), np.float32)

            @tensorleap_load_model([PredictionTypeHandler(h, LABELS[h], channel_dim=-1) for h in CONFIG['heads']
                                    if h != 'unused'])
            def load_model():
                return None

            @tensorleap_integration_test()
            def integration_test(idx, p):
                image(idx, p)
            """})
    sdk = sdk_registrations(root)
    assert sdk["error"] is None
    assert sorted(sdk["kinds"]["prediction"]) == ["category", "color"]
    assert compare(sdk, check_json(root)["bindings"]) == []
    pa = analyse(root)
    preds = {b.name: b.args["labels"].value for b in pa.bindings if b.kind.value == "prediction"}
    assert preds == LABELS_BY_HEAD
    assert [f.code for f in pa.findings if f.effective_severity.value == "error"] == []


LABELS_BY_HEAD = {"category": ["shoe", "bag"], "color": ["red", "green", "blue"]}

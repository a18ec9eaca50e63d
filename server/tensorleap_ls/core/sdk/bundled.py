"""What the analysis knows about code-loader 1.0.214, as plain data.

The server never imports code_loader: everything the static analysis, completion and
hover need is written down here (see ../shared/sdk/code-loader-contract.md).
"""

from __future__ import annotations

import ast
from dataclasses import replace

from tensorleap_ls.core.model import Kind
from tensorleap_ls.core.sdk.table import ROWS, Registrar  # noqa: F401  (the row type, re-exported)
from tensorleap_ls.core.source.text import dotted


def _tables() -> tuple[dict[str, Registrar], dict[str, Registrar]]:
    """DECORATORS and LEGACY by name, from the registrar table: a legacy method takes its row's kind and
    facts unless it registers something else (``add_prediction``)."""
    decorators, legacy = {}, {}
    for row in ROWS:
        decorators[row.name] = row
        leg = row.legacy
        if leg is None:
            continue
        if leg.kind is None:
            leg = replace(leg, kind=row.kind, summary=row.summary, label=row.label, named=row.named,
                          paired=row.paired, singleton=row.singleton, takes=row.takes,
                          builtin_names=row.builtin_names)
        legacy[leg.name] = replace(leg, twin=row.name if leg.twin else "")
    return decorators, legacy


DECORATORS, LEGACY = _tables()
# legacy method -> its decorator, for the legacy -> decorator refactoring (core/fixes.py)
DECORATOR_OF: dict[str, str] = {r.legacy.name: r.name for r in ROWS if r.legacy and r.legacy.converts}
_ALL = (*DECORATORS.values(), *LEGACY.values())


def _kinds(flag: str) -> frozenset[Kind]:
    return frozenset(r.kind for r in _ALL if getattr(r, flag))


NAMED_KINDS = _kinds("named")  # the SDK checks these names for duplicates
PAIRED_KINDS = _kinds("paired")  # a ground truth and the prediction it is compared with may share a name
SINGLETON_KINDS = _kinds("singleton")  # unique per project (registering again replaces)
SAMPLE_FUNCTION_KINDS = frozenset(r.kind for r in _ALL if r.takes == "sample")  # take (sample_id, preprocess)
TENSOR_FUNCTION_KINDS = frozenset(r.kind for r in _ALL if r.takes == "tensors")  # batched arrays by name
# Names pre-registered on every LeapBinder: they collide with user names of the same kind.
BUILTIN_NAMES: dict[Kind, frozenset[str]] = {r.kind: frozenset(r.builtin_names) for r in ROWS if r.builtin_names}
_LABELS = {r.kind: r.label for r in _ALL if r.label}
_SUMMARIES = {r.kind: r.summary for r in reversed(_ALL) if r.summary}


def label_of(kind: Kind) -> str:
    """What messages call a registration of ``kind``."""
    return _LABELS.get(kind, kind.value)


def summary_of(kind: Kind) -> str:
    """The one-line contract of ``kind`` (its common registrar's), else the kind's name."""
    return _SUMMARIES.get(kind, kind.value)


def row_for(kind: Kind) -> Registrar | None:
    """The row a missing part of ``kind`` is created from: the first whose decorator or legacy method registers
    ``kind`` and that has a stub (``PREDICTION``: load_model, whose legacy method is ``add_prediction``)."""
    return next((r for r in ROWS if r.stub and (r.kind is kind or (r.legacy and r.legacy.kind is kind))), None)


def lens_rows() -> list[tuple[str, str, frozenset[Kind]]]:
    """The checklist lens entries in table order: (label, "one" | "count" | "used", the kinds counted); a
    row's legacy method of another kind counts too (load_model: ``add_prediction``)."""
    return [(r.lens[0], r.lens[1], frozenset({r.kind} | ({r.legacy.kind} if r.legacy and r.legacy.kind else set())))
            for r in ROWS if r.lens]


def contract_of(reg: Registrar) -> Registrar:
    """The entry holding a registrar's contract: a legacy method shares its decorator's."""
    return DECORATORS.get(reg.twin, reg)


def registrar_of(binding) -> Registrar | None:
    """The table entry a binding was registered with (decorator or legacy method)."""
    node = binding.reg_node
    target = node.func if isinstance(node, ast.Call) else node
    short = dotted(target).rsplit(".", 1)[-1] if target is not None else ""
    return DECORATORS.get(short) or LEGACY.get(short)


# Module paths (as imported by users) that expose the API.
BUNDLED_VERSION = "1.0.214"  # the release this table describes; core/sdk/env.py reads the installed one
LEAP_BINDER_MODULES = ("code_loader", "code_loader.inner_leap_binder")
DECORATORS_MODULE = "code_loader.inner_leap_binder.leapbinder_decorators"
# `from code_loader.inner_leap_binder.leapbinder_decorators import *` re-exports these too.
DECORATORS_STAR_EXPORTS = (
    "leap_binder", "np", "PreprocessResponse", "SamplePreprocessResponse", "PredictionTypeHandler",
    "DataStateType", "LeapDataType", "MetricDirection", "DatasetMetadataType",
)

# SDK callables meant for users that an integration test may call besides decorated functions: the
# plotting helpers are no-ops in mapping mode (`@run_only_on_non_mapping_mode` in
# code_loader/plot_functions/plot_functions.py), and the SDK's own error text asks for
# `SamplePreprocessResponse(sample_id, preprocess)` inside the test. Qualified by where they are defined.
_PLOT = "code_loader.plot_functions.plot_functions."
TEST_BODY_HELPERS = frozenset({
    "code_loader.plot_functions.visualize.visualize",
    *(_PLOT + f for f in ("plot_image", "plot_image_with_b_box", "plot_graph", "plot_text_with_heatmap", "plot_hbar",
                          "plot_image_mask", "plot_text_mask", "plot_video", "plot_image_with_heatmap",
                          "plot_point_cloud")),
    "code_loader.contract.datasetclasses.SamplePreprocessResponse",
})

# The first code-loader release whose platform loader (LeapLoader._check_integration_test_exists, under
# IS_TENSORLEAP_PLATFORM=true) fails a push without an integration test, legacy scripts included: read in the
# published wheels (1.0.188 lacks it, 1.0.189 and every later sampled release have it).
INTEGRATION_TEST_REQUIRED_SINCE = "1.0.189"

# What each Leap* result class's own __post_init__ validates (code-loader 1.0.214 contract/visualizer_classes.py),
# in the dataclass's positional order (``type`` is a field too): "array:<dtypes>" an np.ndarray of one of the
# dtypes, "list[str]" a list (a tuple fails) of exact str, "list[float]" of exact Python float, "tuple", "bool";
# "?" allows None; None: not checked here.
LEAP_RESULT_RULES: dict[str, tuple[tuple[str, str | None], ...]] = {
    "LeapImage": (("data", "array:uint8|float32"), ("type", None), ("compress", "bool?")),
    "LeapVideo": (("data", "array:uint8|float32"), ("type", None)),
    "LeapGraph": (("data", "array:float32"), ("type", None), ("x_label", None), ("y_label", None),
                  ("x_range", "tuple?"), ("legend", None)),  # legend: only its length is checked
    "LeapText": (("data", "list[str]"), ("type", None), ("heatmap", "list[float]?")),
    "LeapHorizontalBar": (("body", "array:float32"), ("labels", "list[str]"), ("gt", "array?"), ("type", None)),
    "LeapImageMask": (("mask", "array:uint8"), ("image", "array:uint8|float32"), ("labels", "list[str]"),
                      ("type", None)),
    "LeapTextMask": (("mask", "array:uint8"), ("text", "list[str]"), ("labels", "list[str]"), ("type", None)),
    "LeapImageWithBBox": (("data", "array:uint8|float32"), ("bounding_boxes", None), ("type", None)),
    "LeapImageWithHeatmap": (("image", "array:float32"), ("heatmaps", "array:float32"), ("labels", "list[str]"),
                             ("type", None)),
}

# LeapDataType member -> the Leap* class a visualizer of that type must return.
VISUALIZER_CLASSES: dict[str, str] = {
    "Image": "LeapImage", "Text": "LeapText", "Graph": "LeapGraph", "HorizontalBar": "LeapHorizontalBar",
    "ImageMask": "LeapImageMask", "TextMask": "LeapTextMask", "ImageWithBBox": "LeapImageWithBBox",
    "ImageWithHeatmap": "LeapImageWithHeatmap", "Video": "LeapVideo", "Audio": "LeapAudio",
    "PointCloud": "LeapPointCloud",
}
LEAP_CLASSES = tuple(VISUALIZER_CLASSES.values())

ENUMS: dict[str, tuple[str, ...]] = {
    "LeapDataType": tuple(VISUALIZER_CLASSES),
    "DataStateType": ("training", "validation", "test", "unlabeled", "additional"),
    "DataStateEnum": ("training", "validation", "test", "unlabeled", "additional"),
    "MetricDirection": ("Upward", "Downward"),
    "DatasetMetadataType": ("float", "string", "int", "boolean"),
}

# Fields of the SDK's data classes, for completion and hover.
DATACLASS_FIELDS: dict[str, tuple[str, ...]] = {
    "PreprocessResponse": ("sample_ids", "data", "state", "sample_id_type", "length"),
    "PredictionTypeHandler": ("name", "labels", "channel_dim"),
    "SamplePreprocessResponse": ("sample_ids", "preprocess_response"),
    "LeapImage": ("data", "compress"),
    "LeapVideo": ("data",),
    "LeapGraph": ("data", "x_label", "y_label", "x_range", "legend"),
    "LeapText": ("data", "heatmap"),
    "LeapHorizontalBar": ("body", "labels", "gt"),
    "LeapImageMask": ("mask", "image", "labels"),
    "LeapTextMask": ("mask", "text", "labels"),
    "LeapImageWithBBox": ("data", "bounding_boxes"),
    "LeapImageWithHeatmap": ("image", "heatmaps", "labels"),
    "LeapAudio": ("audio", "sample_rate", "visual"),
    "LeapPointCloud": ("points", "intensity", "bounding_boxes"),
    "BoundingBox": ("x", "y", "width", "height", "confidence", "label", "rotation", "metadata"),
}

"""What the analysis knows about code-loader 1.0.214, as plain data.

The server never imports code_loader: everything the static analysis, completion and
hover need is written down here (see ../shared/sdk/code-loader-contract.md).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from tensorleap_ls.core.model import Kind
from tensorleap_ls.core.source import dotted


@dataclass(frozen=True)
class Registrar:
    """A legacy ``leap_binder`` method or a ``tensorleap_*`` decorator."""

    name: str
    kind: Kind
    params: tuple[str, ...]  # SDK parameter names in positional order (excluding self)
    function_param: str | None  # which parameter holds the function (legacy); None for decorators
    name_param: str | None  # which parameter holds the registered name
    doc: str = ""
    # The positional parameters the SDK calls the user function with, when it checks or calls them
    # positionally (core/checks/registrars.py reports a different count); () = not checked there.
    signature: tuple[str, ...] = ()
    # Registrars that must accompany this one (hover, checklist lens, TL242).
    companions: tuple[str, ...] = ()
    # A decorator-style stub that passes the SDK ({function}, {name}, {shape}: a ground truth's or latent
    # space's shape, {preprocess}: the preprocess function); the names it imports (core/stubs.py).
    stub: str = ""
    stub_names: tuple[str, ...] = ()
    twin: str = ""  # a legacy method's decorator, whose contract it shares


def _r(name: str, kind: Kind, params: str, fn: str | None, nm: str | None, doc: str = "",
       signature: str = "", companions: str = "", stub: str = "", stub_names: str = "", twin: str = "") -> Registrar:
    return Registrar(name, kind, tuple(p for p in params.split() if p), fn, nm, doc, tuple(signature.split()),
                     tuple(companions.split()), stub, tuple(stub_names.split()), twin)


LEGACY: dict[str, Registrar] = {r.name: r for r in [
    _r("set_preprocess", Kind.PREPROCESS, "function", "function", None,
       "Register `preprocess() -> List[PreprocessResponse]` (training and validation at least)."),
    _r("set_unlabeled_data_preprocess", Kind.UNLABELED_PREPROCESS, "function", "function", None,
       "Register `unlabeled_preprocess() -> PreprocessResponse`."),
    _r("set_input", Kind.INPUT, "function name channel_dim", "function", "name",
       "Register an input encoder `(sample_id, preprocess) -> np.ndarray[float32]`, unbatched."),
    _r("set_ground_truth", Kind.GROUND_TRUTH, "function name", "function", "name",
       "Register a ground-truth encoder `(sample_id, preprocess) -> np.ndarray[float32]`, unbatched."),
    _r("set_metadata", Kind.METADATA, "function name metadata_type", "function", "name",
       "Register metadata `(sample_id, preprocess) -> int | float | str | bool | None | dict[str, scalar]`."),
    _r("set_visualizer", Kind.VISUALIZER, "function name visualizer_type heatmap_visualizer", "function", "name",
       "Register a visualizer taking batched (leading axis 1) arrays and returning the `Leap*` class of `visualizer_type`."),
    _r("add_custom_loss", Kind.LOSS, "function name", "function", "name",
       "Register a custom loss: batched `[B, ...]` arrays in, a `[B]` ndarray out."),
    _r("add_custom_metric", Kind.METRIC, "function name direction compute_insights", "function", "name",
       "Register a metric: batched arrays in, `[B]` ndarray / list / dict out."),
    _r("add_custom_instance_metric", Kind.INSTANCE_METRIC, "function name direction compute_insights", "function", "name", twin="tensorleap_custom_instances_metric"),
    _r("add_prediction", Kind.PREDICTION, "name labels channel_dim prediction_index", None, "name",
       "Declare a model output: `add_prediction(name, labels, channel_dim=-1)`."),
    _r("set_custom_layer", Kind.CUSTOM_LAYER, "custom_layer name inspect_layer kernel_index use_custom_latent_space", "custom_layer", "name",
       "Register a custom Keras layer class (it must have a `call` method)."),
    _r("set_custom_latent_space", Kind.CUSTOM_LATENT_SPACE, "function name use_ls_for_analysis instance_aware computed_at arg_names reduce n_components channel_axis", "function", "name", twin="tensorleap_custom_latent_space"),
    _r("set_instance_masks", Kind.INSTANCE_MASKS, "function name", "function", "name", twin="tensorleap_instances_masks_encoder"),
    _r("set_false_positive_instances", Kind.FALSE_POSITIVE, "function name", "function", "name", twin="tensorleap_false_positive_instances_encoder"),
    _r("set_false_positive_empty_gt", Kind.FALSE_POSITIVE, "function gt_name", "function", "gt_name", twin="tensorleap_false_positive_empty_gt"),
    _r("set_false_positive_custom_latent_space", Kind.FALSE_POSITIVE, "function name", "function", "name", twin="tensorleap_false_positive_custom_latent_space"),
    _r("set_simulation", Kind.SIMULATION, "function name sim_config_raw", "function", "name", twin="tensorleap_simulation"),
    _r("set_autoregressive_step", Kind.AUTOREGRESSIVE, "function", "function", None, twin="tensorleap_autoregressive_step"),
    _r("add_autoregressive_metric", Kind.AUTOREGRESSIVE, "function name", "function", "name", twin="tensorleap_autoregressive_metric"),
    _r("add_autoregressive_loss", Kind.AUTOREGRESSIVE, "function name", "function", "name", twin="tensorleap_autoregressive_loss"),
    _r("add_autoregressive_visualizer", Kind.AUTOREGRESSIVE, "function name visualizer_type", "function", "name", twin="tensorleap_autoregressive_visualizer"),
]}

DECORATORS: dict[str, Registrar] = {r.name: r for r in [
    _r("tensorleap_preprocess", Kind.PREPROCESS, "", None, None,
       "`def preprocess() -> List[PreprocessResponse]`: no parameters; a list with training and validation responses."),
    _r("tensorleap_unlabeled_preprocess", Kind.UNLABELED_PREPROCESS, "", None, None,
       "`def unlabeled() -> PreprocessResponse`: no parameters."),
    _r("tensorleap_input_encoder", Kind.INPUT, "name channel_dim model_input_index", None, "name",
       "`(sample_id, preprocess) -> np.ndarray` of dtype float32, unbatched. `channel_dim`: -1 (NHWC) or a positive axis of the batched tensor. "
       "`model_input_index`: which model input it feeds (0-based, unique)."),
    _r("tensorleap_gt_encoder", Kind.GROUND_TRUTH, "name", None, "name",
       "`(sample_id, preprocess) -> np.ndarray` of dtype float32, unbatched. Unlabeled data: `np.array([], dtype=np.float32)`."),
    _r("tensorleap_metadata", Kind.METADATA, "name metadata_type", None, "name",
       "`(sample_id, preprocess) -> int | float | str | bool | None | dict[str, scalar]`."),
    _r("tensorleap_custom_visualizer", Kind.VISUALIZER, "name visualizer_type heatmap_function connects_to", None, "name",
       "Takes arrays with a leading batch axis of size 1; returns the `Leap*` class matching `visualizer_type`."),
    _r("tensorleap_custom_metric", Kind.METRIC, "name direction compute_insights connects_to", None, "name",
       "Batched `[B, ...]` arrays in; a 1-D `[B]` ndarray, a list of B numbers, or a dict of those out."),
    _r("tensorleap_custom_loss", Kind.LOSS, "name connects_to", None, "name",
       "Batched `[B, ...]` arrays in; an ndarray with ndim < 2 (`[B]`) out. `connects_to`: the encoders/predictions "
       "its arguments read, when the integration test does not show it."),
    _r("tensorleap_custom_layer", Kind.CUSTOM_LAYER, "name", None, "name",
       "Class decorator for a `tf.keras.layers.Layer` subclass."),
    _r("tensorleap_load_model", Kind.LOAD_MODEL, "prediction_types", None, None,
       "`def load_model()`: no parameters; returns a Keras model or an `onnxruntime.InferenceSession`. One `PredictionTypeHandler` per model output, in order."),
    _r("tensorleap_integration_test", Kind.INTEGRATION_TEST, "", None, None,
       "`def test(sample_id, preprocess)`: may only call decorated functions, the model, and index predictions once."),
    _r("tensorleap_custom_latent_space", Kind.CUSTOM_LATENT_SPACE, "name use_ls_for_analysis reduce n_components channel_axis", None, "name",
       "Dataset-computed: `(sample_id, preprocess: PreprocessResponse) -> np.ndarray` of shape `(d,)` (the second "
       "parameter annotated `PreprocessResponse`); model-computed: annotated `np.ndarray` model tensors -> `(batch, d)`. "
       "An unannotated second parameter is ambiguous and raises at decoration.",
       stub='@tensorleap_custom_latent_space({name!r})\n'
            'def {function}(sample_id: str, preprocess: PreprocessResponse) -> np.ndarray:\n'
            '    # TODO: one vector per sample, float32, shape (d,)\n'
            '    return np.zeros(8, dtype=np.float32)\n', stub_names="np PreprocessResponse"),
    _r("tensorleap_instance_custom_latent_space", Kind.CUSTOM_LATENT_SPACE, "name use_ls_for_analysis", None, "name",
       "`(sample_id, preprocess, instance_id) -> np.ndarray` of shape `(d,)`: one vector per element instance.",
       signature="sample_id preprocess instance_id", companions="tensorleap_element_instance_preprocess",
       stub='@tensorleap_instance_custom_latent_space({name!r})\n'
            'def {function}(sample_id: str, preprocess: PreprocessResponse, instance_id: int) -> np.ndarray:\n'
            '    # TODO: one vector per instance, float32, shape (d,)\n'
            '    return np.zeros(8, dtype=np.float32)\n', stub_names="np PreprocessResponse"),
    _r("tensorleap_custom_instances_metric", Kind.INSTANCE_METRIC, "name direction compute_insights connects_to", None, "name",
       "Batched `[B, ...]` arrays in; a dict `{instance number (int): [B] ndarray}` out.",
       companions="tensorleap_element_instance_preprocess",
       stub='@tensorleap_custom_instances_metric({name!r}, direction=MetricDirection.Upward)\n'
            'def {function}(gt: np.ndarray, prediction: np.ndarray) -> dict:\n'
            '    # TODO: {{instance number: one value per sample of the batch}}\n'
            '    return {{0: np.zeros(gt.shape[0], dtype=np.float32)}}\n', stub_names="np MetricDirection"),
    _r("tensorleap_element_instance_preprocess", Kind.PREPROCESS, "instance_length_encoder instance_mask_encoder instance_metadata_types", None, None,
       "`def preprocess() -> List[PreprocessResponse]`: no parameters; registers the preprocess and splits every sample "
       "into element instances with `instance_length_encoder(sample_id, preprocess) -> int` and "
       "`instance_mask_encoder(sample_id, preprocess, instance_id) -> ElementInstance`.",
       signature="", companions="tensorleap_instances_length_encoder tensorleap_instances_masks_encoder"),
    _r("tensorleap_instances_masks_encoder", Kind.INSTANCE_MASKS, "name", None, "name",
       "`(sample_id, preprocess, instance_id) -> ElementInstance | None`: the mask of one element instance.",
       signature="sample_id preprocess instance_id", companions="tensorleap_element_instance_preprocess",
       stub='@tensorleap_instances_masks_encoder({name!r})\n'
            'def {function}(sample_id: str, preprocess: PreprocessResponse, instance_id: int) -> ElementInstance:\n'
            '    # TODO: the mask of instance `instance_id` of the sample, float32, image-sized\n'
            '    return ElementInstance(name=f\'instance_{{instance_id}}\', mask=np.zeros((8, 8), dtype=np.float32))\n',
       stub_names="np PreprocessResponse ElementInstance"),
    _r("tensorleap_instances_length_encoder", Kind.INSTANCE_LENGTH, "name", None, "name",
       "`(sample_id, preprocess) -> int`: how many element instances the sample has.",
       signature="sample_id preprocess", companions="tensorleap_element_instance_preprocess",
       stub='@tensorleap_instances_length_encoder({name!r})\n'
            'def {function}(sample_id: str, preprocess: PreprocessResponse) -> int:\n'
            '    # TODO: the number of instances (objects) in the sample\n'
            '    return 1\n', stub_names="PreprocessResponse"),
    _r("tensorleap_false_positive_instances_encoder", Kind.FALSE_POSITIVE, "name instance_metadata_types", None, "name",
       "`(sample_id, preprocess, predictions: dict) -> List[ElementInstance]`, one per false-positive prediction. "
       "Needs a `tensorleap_false_positive_empty_gt` for every ground-truth encoder.",
       signature="sample_id preprocess predictions", companions="tensorleap_false_positive_empty_gt",
       stub='@tensorleap_false_positive_instances_encoder({name!r})\n'
            'def {function}(sample_id: str, preprocess: PreprocessResponse, predictions: dict) -> List[ElementInstance]:\n'
            '    # TODO: one ElementInstance per prediction that matches no ground-truth instance\n'
            '    return []\n', stub_names="List PreprocessResponse ElementInstance"),
    _r("tensorleap_false_positive_empty_gt", Kind.FALSE_POSITIVE, "gt_name", None, "gt_name",
       "`(sample_id, preprocess) -> np.ndarray` shaped like the ground truth `gt_name` returns: the ground truth of a "
       "false-positive row.",
       signature="sample_id preprocess", companions="tensorleap_false_positive_instances_encoder",
       stub='@tensorleap_false_positive_empty_gt({name!r})\n'
            'def {function}(sample_id: str, preprocess: PreprocessResponse) -> np.ndarray:\n'
            '    # TODO: the same shape as the ground truth {name!r} returns, all \'no object\'\n'
            '    return np.zeros({shape}, dtype=np.float32)\n', stub_names="np PreprocessResponse"),
    _r("tensorleap_false_positive_custom_latent_space", Kind.FALSE_POSITIVE, "name", None, "name",
       "`(sample_id, preprocess, fp_instance: ElementInstance) -> np.ndarray` 1-D, shaped like the instance custom "
       "latent space `name` returns.",
       signature="sample_id preprocess fp_instance",
       companions="tensorleap_false_positive_instances_encoder tensorleap_instance_custom_latent_space",
       stub='@tensorleap_false_positive_custom_latent_space({name!r})\n'
            'def {function}(sample_id: str, preprocess: PreprocessResponse, fp_instance: ElementInstance) -> np.ndarray:\n'
            '    # TODO: the same width as the instance latent space {name!r} returns\n'
            '    return np.zeros({shape}, dtype=np.float32)\n', stub_names="np PreprocessResponse ElementInstance"),
    _r("tensorleap_simulation", Kind.SIMULATION, "name sim_params", None, "name",
       "`def sim(<one parameter per sim_params key>, N, seed) -> PreprocessResponse` of N generated samples; "
       "`sim_params`: `{param: {'type': 'float'|'int'|'str', 'bounds': {'min': .., 'max': ..} | {'values': [...]}}}`.",
       stub='@tensorleap_simulation({name!r}, {{\'scale\': {{\'type\': \'float\', \'bounds\': {{\'min\': 0.5, \'max\': 1.5}}}}}})\n'
            'def {function}(scale: float, N: int, seed: int) -> PreprocessResponse:\n'
            '    # TODO: generate N samples from `scale` (deterministic for a seed), in the layout the encoders read\n'
            '    data = {preprocess}()[0].data\n'
            '    return PreprocessResponse(sample_ids=[str(i) for i in range(N)], data=data)\n',
       stub_names="PreprocessResponse"),
    _r("tensorleap_autoregressive_step", Kind.AUTOREGRESSIVE, "latent_space_aggregation", None, None,
       "`(sample_id, prev_inputs, prev_outputs, state, preprocess) -> (Optional[Dict[str, np.ndarray]], state)`: the "
       "hook that drives a chain; `latent_space_aggregation` is 'last_step' or 'mean'. The integration then has no "
       "input encoders, simulations, element instances or custom latent spaces, and declares prediction types.",
       signature="sample_id prev_inputs prev_outputs state preprocess", companions="tensorleap_model_loop"),
    _r("tensorleap_model_loop", Kind.AUTOREGRESSIVE, "", None, None,
       "`(model, sample_id, preprocess) -> (final_inputs, final_outputs, final_state)`: the local rollout loop "
       "around the autoregressive step.",
       signature="model sample_id preprocess", companions="tensorleap_autoregressive_step"),
    _r("tensorleap_autoregressive_metric", Kind.AUTOREGRESSIVE, "name direction compute_insights", None, "name",
       "Per finished chain: declares at least one of `inputs`, `outputs`, `state` (fed by the platform); other "
       "arguments are ground truths. Returns a scalar (or a dict of scalars).",
       companions="tensorleap_autoregressive_step"),
    _r("tensorleap_autoregressive_loss", Kind.AUTOREGRESSIVE, "name", None, "name",
       "Per finished chain: declares at least one of `inputs`, `outputs`, `state`; returns one scalar.",
       companions="tensorleap_autoregressive_step"),
    _r("tensorleap_autoregressive_visualizer", Kind.AUTOREGRESSIVE, "name visualizer_type", None, "name",
       "Per finished chain: declares at least one of `inputs`, `outputs`, `state`; returns the `Leap*` class of "
       "`visualizer_type`.",
       companions="tensorleap_autoregressive_step"),
]}



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
BUNDLED_VERSION = "1.0.214"  # the release this table describes; core/sdk_env.py reads the installed one
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

# Names pre-registered on every LeapBinder: they collide with user names of the same kind.
BUILTIN_NAMES: dict[Kind, frozenset[str]] = {
    Kind.VISUALIZER: frozenset({"Image", "Video", "Graph", "RawData", "HorizontalBar", "Text", "ImageMask", "TextMask"}),
    Kind.METRIC: frozenset({"MeanSquaredError", "MeanSquaredLogarithmicError", "MeanAbsoluteError",
                            "MeanAbsolutePercentageError", "Accuracy", "ConfusionMatrixClassification",
                            "CategoricalCrossentropy", "BinaryCrossentropy"}),
    Kind.LOSS: frozenset({"MeanSquaredError", "MeanSquaredLogarithmicError", "MeanAbsoluteError",
                          "MeanAbsolutePercentageError", "CategoricalCrossentropy", "BinaryCrossentropy"}),
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

# Kinds whose functions take (sample_id, preprocess).
SAMPLE_FUNCTION_KINDS = frozenset({Kind.INPUT, Kind.GROUND_TRUTH, Kind.METADATA})
# Kinds whose functions take batched arrays by name (at least one argument).
TENSOR_FUNCTION_KINDS = frozenset({Kind.VISUALIZER, Kind.METRIC, Kind.LOSS, Kind.INSTANCE_METRIC})
# Kinds that must be unique per project (registering again replaces).
SINGLETON_KINDS = frozenset({Kind.PREPROCESS, Kind.UNLABELED_PREPROCESS, Kind.LOAD_MODEL, Kind.INTEGRATION_TEST})

"""Generates integration projects of a given size for the benchmark.

    python bench/generate.py OUT_DIR --lines 400 --style decorator

A project has leap.yaml, requirements.txt, an entry file and a `tensorleap/` helper package,
so the analysis follows imports as it does on real integrations. The entry holds most of the
lines (it is the file being edited) and exactly one deliberate error: a visualizer whose return
annotation does not match its visualizer_type (TL213), so every server has something to report
and a code action to offer.
"""

from __future__ import annotations

import argparse
import os
import textwrap

HEADER_DECORATOR = '''\
import os
from typing import List

import numpy as np
from code_loader.contract.datasetclasses import PreprocessResponse, PredictionTypeHandler
from code_loader.contract.enums import DataStateType, LeapDataType, MetricDirection
from code_loader.contract.visualizer_classes import LeapImage, LeapHorizontalBar
from code_loader.inner_leap_binder.leapbinder_decorators import (
    tensorleap_preprocess, tensorleap_input_encoder, tensorleap_gt_encoder, tensorleap_metadata,
    tensorleap_custom_visualizer, tensorleap_custom_metric, tensorleap_custom_loss,
    tensorleap_load_model, tensorleap_integration_test)

from tensorleap.config import LABELS, IMAGE_SIZE
from tensorleap.data import load_split


@tensorleap_preprocess()
def preprocess() -> List[PreprocessResponse]:
    train_ids, val_ids = load_split()
    return [PreprocessResponse(sample_ids=train_ids, sample_id_type=int, state=DataStateType.training),
            PreprocessResponse(sample_ids=val_ids, sample_id_type=int, state=DataStateType.validation)]


@tensorleap_input_encoder('image', channel_dim=-1)
def input_image(idx: int, preprocess: PreprocessResponse) -> np.ndarray:
    rng = np.random.default_rng(idx)
    return rng.random((IMAGE_SIZE, IMAGE_SIZE, 1)).astype(np.float32)


@tensorleap_gt_encoder('classes')
def gt_classes(idx: int, preprocess: PreprocessResponse) -> np.ndarray:
    return np.eye(len(LABELS), dtype=np.float32)[idx % len(LABELS)]


@tensorleap_custom_loss('ce')
def ce_loss(gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    return -(gt * np.log(np.clip(pred, 1e-7, 1.0))).sum(-1)


@tensorleap_load_model([PredictionTypeHandler('classes', LABELS, channel_dim=-1)])
def load_model():
    import onnxruntime as ort
    return ort.InferenceSession(os.path.join(os.path.dirname(__file__), 'model.onnx'))


# deliberate error: the annotation does not match LeapDataType.Image (TL213)
@tensorleap_custom_visualizer('image_viz', LeapDataType.Image)
def image_viz(image: np.ndarray) -> LeapHorizontalBar:
    return LeapImage((image[0] * 255).astype(np.uint8))

'''

BLOCK_DECORATOR = '''\
@tensorleap_metadata('meta_{i}')
def meta_{i}(idx: int, preprocess: PreprocessResponse) -> float:
    # metadata number {i}: a cheap deterministic value
    value = float(idx * {i} % 7)
    if value > 3:
        value = value / 2.0
    return value


@tensorleap_custom_metric('metric_{i}', direction=MetricDirection.Upward)
def metric_{i}(gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    return (gt.argmax(-1) == pred.argmax(-1)).astype(np.float32) * {i}


@tensorleap_custom_visualizer('bar_{i}', LeapDataType.HorizontalBar)
def bar_{i}(pred: np.ndarray) -> LeapHorizontalBar:
    return LeapHorizontalBar(body=pred[0].astype(np.float32), labels=LABELS)


'''

FOOTER_DECORATOR = '''\
@tensorleap_integration_test()
def integration_test(idx, preprocess):
    image = input_image(idx, preprocess)
    gt = gt_classes(idx, preprocess)
    model = load_model()
    pred = model.run(None, {{'image': image}})[0]
    image_viz(image)
    ce_loss(gt, pred)
{calls}

if __name__ == '__main__':
    responses = preprocess()
    integration_test(0, responses[0])
'''

HEADER_LEGACY = '''\
from typing import List

import numpy as np
from code_loader import leap_binder
from code_loader.contract.datasetclasses import PreprocessResponse
from code_loader.contract.enums import DataStateType, LeapDataType, MetricDirection
from code_loader.contract.visualizer_classes import LeapImage, LeapHorizontalBar

from tensorleap.config import LABELS, IMAGE_SIZE
from tensorleap.data import load_split


def preprocess() -> List[PreprocessResponse]:
    train_ids, val_ids = load_split()
    return [PreprocessResponse(sample_ids=train_ids, sample_id_type=int, state=DataStateType.training),
            PreprocessResponse(sample_ids=val_ids, sample_id_type=int, state=DataStateType.validation)]


def input_image(idx: int, preprocess: PreprocessResponse) -> np.ndarray:
    rng = np.random.default_rng(idx)
    return rng.random((IMAGE_SIZE, IMAGE_SIZE, 1)).astype(np.float32)


def gt_classes(idx: int, preprocess: PreprocessResponse) -> np.ndarray:
    return np.eye(len(LABELS), dtype=np.float32)[idx % len(LABELS)]


def ce_loss(gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    return -(gt * np.log(np.clip(pred, 1e-7, 1.0))).sum(-1)


# deliberate error: the annotation does not match LeapDataType.Image (TL213)
def image_viz(image: np.ndarray) -> LeapHorizontalBar:
    return LeapImage((image[0] * 255).astype(np.uint8))


leap_binder.set_preprocess(preprocess)
leap_binder.set_input(input_image, 'image', channel_dim=-1)
leap_binder.set_ground_truth(gt_classes, 'classes')
leap_binder.add_custom_loss(ce_loss, 'ce')
leap_binder.add_prediction('classes', LABELS, channel_dim=-1)
leap_binder.set_visualizer(image_viz, 'image_viz', LeapDataType.Image)

'''

BLOCK_LEGACY = '''\
def meta_{i}(idx: int, preprocess: PreprocessResponse) -> float:
    # metadata number {i}: a cheap deterministic value
    value = float(idx * {i} % 7)
    if value > 3:
        value = value / 2.0
    return value


def metric_{i}(gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    return (gt.argmax(-1) == pred.argmax(-1)).astype(np.float32) * {i}


def bar_{i}(pred: np.ndarray) -> LeapHorizontalBar:
    return LeapHorizontalBar(body=pred[0].astype(np.float32), labels=LABELS)


leap_binder.set_metadata(meta_{i}, 'meta_{i}')
leap_binder.add_custom_metric(metric_{i}, 'metric_{i}', MetricDirection.Upward)
leap_binder.set_visualizer(bar_{i}, 'bar_{i}', LeapDataType.HorizontalBar)


'''

FOOTER_LEGACY = '''\
if __name__ == '__main__':
    leap_binder.check()
'''

SUPPORT = {
    "tensorleap/__init__.py": "",
    "tensorleap/config.py": "LABELS = ['zero', 'one', 'two']\nIMAGE_SIZE = 8\n",
    "tensorleap/data.py": textwrap.dedent('''\
        from typing import List, Tuple


        def load_split() -> Tuple[List[int], List[int]]:
            ids = list(range(40))
            return ids[:30], ids[30:]
        '''),
    "requirements.txt": "code-loader==1.0.214\nnumpy\nonnxruntime\n",
}


def generate(out_dir: str, lines: int, style: str) -> str:
    """Writes a project of about ``lines`` lines in its entry file; returns the entry path."""
    decorator = style == "decorator"
    entry_name = "leap_integration.py" if decorator else "leap_binder.py"
    header = HEADER_DECORATOR if decorator else HEADER_LEGACY
    block = BLOCK_DECORATOR if decorator else BLOCK_LEGACY
    body = [header]
    calls = []
    count = header.count("\n") + 12
    i = 0
    per_block = block.count("\n") + (3 if decorator else 0)
    while count + per_block <= lines or i == 0:
        body.append(block.format(i=i))
        calls.append(f"    bar_{i}(pred)\n    metric_{i}(gt, pred)\n    meta_{i}(idx, preprocess)")
        count += per_block
        i += 1
    if decorator:
        body.append(FOOTER_DECORATOR.format(calls="\n".join(calls)))
    else:
        body.append(FOOTER_LEGACY)
    os.makedirs(os.path.join(out_dir, "tensorleap"), exist_ok=True)
    for rel, text in SUPPORT.items():
        with open(os.path.join(out_dir, rel), "w", encoding="utf-8") as f:
            f.write(text)
    with open(os.path.join(out_dir, "leap.yaml"), "w", encoding="utf-8") as f:
        f.write(f"entryFile: {entry_name}\ninclude:\n  - {entry_name}\n  - requirements.txt\n"
                "  - tensorleap/**/*.py\npythonVersion: py311\n")
    entry = os.path.join(out_dir, entry_name)
    with open(entry, "w", encoding="utf-8") as f:
        f.write("".join(body))
    return entry


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out_dir")
    ap.add_argument("--lines", type=int, default=400)
    ap.add_argument("--style", choices=["decorator", "legacy"], default="decorator")
    args = ap.parse_args()
    entry = generate(args.out_dir, args.lines, args.style)
    with open(entry, encoding="utf-8") as f:
        print(entry, sum(1 for _ in f), "lines")


if __name__ == "__main__":
    main()

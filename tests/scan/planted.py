"""An integration of our own over a data set of N samples (default 20,000) with bad samples planted at known
ids, written the way users write one: annotations in a CSV read by preprocess, encoders that read the row of
their sample, a bug that shows only on some rows. The bad samples come from the data, as in real data sets:

    exception       the row's box column is corrupt ("??"): float() raises in the ground-truth encoder
    NaN             the row's brightness is "nan": the input image becomes NaN (and the brightness metadata)
    shape drift     the row's size is 8x7: that image has another shape
    wrong dtype     the row has soft labels: that branch forgets dtype=float32 (float64)
    None metadata   the row's label is empty: the metadata returns None
    duplicate id    the CSV lists one sample twice (the same id twice in the training subset)

``PLANTED`` maps each kind to (subset, sample id, the function reported, the code). Every encoder counts its
calls in ``<TL_SCAN_COUNT>/<function>.<pid>`` when that variable is set (the incremental-rescan test);
``TL_SCAN_STALL`` / ``TL_SCAN_CRASH`` make the worker on one sample stall once or die (the lost-worker tests).
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

# 20,000 in CI (a few seconds with the cheap encoders); TL_SCAN_SAMPLES=200000 for a long run
N = max(20_000, int(os.environ.get("TL_SCAN_SAMPLES") or 20_000))
VALIDATION = 0.2  # the last 20% of ids

# kind -> (subset, sample id, function, code)
PLANTED = {
    "exception": ("training", 4321, "encode_boxes", "TL501"),
    "nan": ("training", 9876, "encode_image", "TL505"),
    "shape": ("validation", 18_642, "encode_image", "TL506"),
    "dtype": ("training", 12_000, "encode_label", "TL504"),
    "none": ("training", 2468, "meta_label", "TL536"),
    "duplicate": ("training", 555, "load_annotations", "TL512"),
}

ENTRY = '''\
import os

import numpy as np
from code_loader.contract.datasetclasses import PredictionTypeHandler, PreprocessResponse
from code_loader.contract.enums import DataStateType, LeapDataType
from code_loader.contract.visualizer_classes import LeapImage
from code_loader.inner_leap_binder.leapbinder_decorators import (
    tensorleap_custom_visualizer, tensorleap_gt_encoder, tensorleap_input_encoder, tensorleap_integration_test,
    tensorleap_load_model, tensorleap_metadata, tensorleap_preprocess)

from shapes_tl.data import CLASSES, count_call, read_rows, row_image, fault_hooks

HERE = os.path.dirname(os.path.abspath(__file__))


@tensorleap_preprocess()
def load_annotations():
    rows = read_rows(os.path.join(HERE, 'data', 'annotations.csv'))
    train = [r for r in rows if r['split'] == 'train']
    val = [r for r in rows if r['split'] == 'val']
    return [PreprocessResponse(sample_ids=[int(r['id']) for r in train], data={int(r['id']): r for r in train},
                               sample_id_type=int, state=DataStateType.training),
            PreprocessResponse(sample_ids=[int(r['id']) for r in val], data={int(r['id']): r for r in val},
                               sample_id_type=int, state=DataStateType.validation)]


@tensorleap_input_encoder('image', channel_dim=-1)
def encode_image(idx, preprocess):
    count_call('encode_image')
    fault_hooks(idx)
    row = preprocess.data[idx]
    return row_image(row) * np.float32(float(row['brightness']))


@tensorleap_gt_encoder('classes')
def encode_label(idx, preprocess):
    count_call('encode_label')
    row = preprocess.data[idx]
    if row['soft']:
        return np.array([float(x) for x in row['soft'].split(';')])
    return np.eye(len(CLASSES), dtype=np.float32)[CLASSES.index(row['label'] or CLASSES[0])]


@tensorleap_gt_encoder('boxes')
def encode_boxes(idx, preprocess):
    count_call('encode_boxes')
    x, y, w, h = (float(v) for v in preprocess.data[idx]['box'].split(' '))
    return np.array([x, y, w, h], dtype=np.float32)


@tensorleap_metadata('label')
def meta_label(idx, preprocess):
    count_call('meta_label')
    return preprocess.data[idx]['label'] or None


@tensorleap_metadata('brightness')
def meta_brightness(idx, preprocess):
    count_call('meta_brightness')
    return float(preprocess.data[idx]['brightness'])


@tensorleap_metadata('geometry')
def meta_geometry(idx, preprocess):
    count_call('meta_geometry')
    row = preprocess.data[idx]
    w, h = (int(v) for v in row['size'].split('x'))
    return {'area': float(w * h), 'square': w == h, 'source': row['source']}


@tensorleap_custom_visualizer('image_viz', LeapDataType.Image)
def image_viz(image: np.ndarray) -> LeapImage:
    return LeapImage((np.nan_to_num(image[0]) * 255).astype(np.uint8))


@tensorleap_load_model([PredictionTypeHandler('classes', CLASSES)])
def load_model():
    raise RuntimeError('no model in this test project')


@tensorleap_integration_test()
def integration_test(idx, preprocess):
    image = encode_image(idx, preprocess)
    encode_label(idx, preprocess)
    encode_boxes(idx, preprocess)
    image_viz(image)
    meta_label(idx, preprocess)
    meta_brightness(idx, preprocess)
    meta_geometry(idx, preprocess)
'''

DATA = '''\
"""Reading the annotations, and the images they describe (drawn from the row: no files needed)."""
import csv
import os

import numpy as np

CLASSES = ['circle', 'square', 'triangle']


def read_rows(path):
    with open(path, newline='') as f:
        return list(csv.DictReader(f))


def row_image(row):
    w, h = (int(v) for v in row['size'].split('x'))
    level = (int(row['id']) % 250) / 255.0
    return np.full((h, w, 1), level, dtype=np.float32)


def count_call(name):
    folder = os.environ.get('TL_SCAN_COUNT')
    if folder:
        with open(os.path.join(folder, '%s.%d' % (name, os.getpid())), 'a') as f:
            f.write('.')


def fault_hooks(idx):
    """Faults the scan tests inject: a worker that stalls once on one sample (the test kills it), or that
    dies on one sample every time."""
    if os.environ.get('TL_SCAN_CRASH') == str(idx):
        os._exit(3)
    stall = os.environ.get('TL_SCAN_STALL', '').split(':')
    if stall[0] == str(idx) and not os.path.exists(stall[1]):
        with open(stall[1] + '.tmp', 'w') as f:
            f.write(str(os.getpid()))
        os.replace(stall[1] + '.tmp', stall[1])
        import time
        time.sleep(60)
'''


def write(root: Path, n: int = N) -> Path:
    """The project under ``root`` (created); returns its entry."""
    (root / "shapes_tl").mkdir(parents=True, exist_ok=True)
    (root / "data").mkdir(exist_ok=True)
    (root / "leap.yaml").write_text("entryFile: leap_integration.py\ninclude: ['**/*.py', 'data/*.csv', requirements.txt]\n")
    (root / "requirements.txt").write_text("code-loader==1.0.214\nnumpy\n")
    (root / "shapes_tl" / "__init__.py").write_text("")
    (root / "shapes_tl" / "data.py").write_text(DATA)
    (root / "leap_integration.py").write_text(ENTRY)
    planted = {(subset, sid): kind for kind, (subset, sid, _, _) in PLANTED.items()}
    first_val = int(n * (1 - VALIDATION))
    with open(root / "data" / "annotations.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "split", "label", "brightness", "size", "box", "soft", "source"])
        for i in range(n):
            split = "train" if i < first_val else "val"
            kind = planted.get(("training" if split == "train" else "validation", i))
            label = ["circle", "square", "triangle"][i % 3]
            row = [i, split, "" if kind == "none" else label, "nan" if kind == "nan" else f"{0.5 + (i % 7) / 14:.3f}",
                   "8x7" if kind == "shape" else "8x8", "?? ?? ?? ??" if kind == "exception" else "0.25 0.3 0.4 0.35",
                   "0.2;0.7;0.1" if kind == "dtype" else "", ["camera_a", "camera_b"][i % 2]]
            w.writerow(row)
            if kind == "duplicate":
                w.writerow(row)
    return root / "leap_integration.py"


def edit_encoder(root: Path) -> None:
    """Changes one encoder (encode_boxes) and nothing else."""
    entry = root / "leap_integration.py"
    text = entry.read_text()
    new = text.replace("    return np.array([x, y, w, h], dtype=np.float32)\n",
                       "    return np.array([x, y, x + w, y + h], dtype=np.float32)  # corners, not sizes\n")
    assert new != text
    entry.write_text(new)


def expected() -> set[tuple]:
    """(subset, sample id, function, code) of every failure the planted samples must give, and no other: the NaN
    brightness is also the brightness metadata's NaN."""
    return set(PLANTED.values()) | {("training", PLANTED["nan"][1], "meta_brightness", "TL505")}

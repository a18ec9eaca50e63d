"""A deterministic, digit-like synthetic data set (no download) and its labels file."""
import os
from typing import List, Tuple

import numpy as np

IMAGE_SIZE = 28
SEED = 11


def load_labels() -> List[str]:
    with open(os.path.join(os.path.dirname(__file__), 'labels.txt')) as f:
        return [line.strip() for line in f if line.strip()]


LABELS = load_labels()


def make_split(n: int, offset: int) -> Tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(SEED + offset)
    labels = rng.integers(0, len(LABELS), n)
    images = rng.random((n, IMAGE_SIZE, IMAGE_SIZE, 1)).astype(np.float32) * 0.2
    for i, k in enumerate(labels):
        left = 2 + int(k) * 2
        images[i, 4:IMAGE_SIZE - 4, left:left + 3, 0] = 1.0
    return images, labels.astype(np.int64)

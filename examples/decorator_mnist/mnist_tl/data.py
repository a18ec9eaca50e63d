"""A deterministic, digit-like synthetic data set: no download, same pixels on every run."""
from typing import Tuple

import numpy as np

from mnist_tl.config import CONFIG, IMAGE_SIZE, LABELS


def make_dataset(n: int, offset: int) -> Tuple[np.ndarray, np.ndarray]:
    """Images (n, H, W, 1) in [0, 1] and integer labels; class k draws a bar whose position encodes k."""
    rng = np.random.default_rng(CONFIG['seed'] + offset)
    labels = rng.integers(0, len(LABELS), n)
    images = rng.random((n, IMAGE_SIZE, IMAGE_SIZE, 1)).astype(np.float32) * 0.2
    for i, k in enumerate(labels):
        top = 2 + int(k) * 2
        images[i, top:top + 3, 4:IMAGE_SIZE - 4, 0] = 1.0
    return images, labels.astype(np.int64)

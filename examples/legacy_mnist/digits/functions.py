"""The integration's functions; leap_binder.py registers them."""
from typing import List

import numpy as np
from code_loader.contract.datasetclasses import PreprocessResponse
from code_loader.contract.enums import DataStateType
from code_loader.contract.visualizer_classes import LeapHorizontalBar, LeapImage

from digits.dataset import LABELS, make_split

TRAIN_SIZE, VALIDATION_SIZE = 50, 20


def preprocess() -> List[PreprocessResponse]:
    out = []
    for state, n, offset in ((DataStateType.training, TRAIN_SIZE, 0),
                             (DataStateType.validation, VALIDATION_SIZE, TRAIN_SIZE)):
        images, labels = make_split(n, offset)
        out.append(PreprocessResponse(sample_ids=[f'{state.value}_{i}' for i in range(n)],
                                      data={'images': images, 'labels': labels}, state=state))
    return out


def _index(sample_id: str) -> int:
    return int(sample_id.rsplit('_', 1)[1])


def encode_image(sample_id: str, preprocess: PreprocessResponse) -> np.ndarray:
    return preprocess.data['images'][_index(sample_id)].astype(np.float32)


def encode_label(sample_id: str, preprocess: PreprocessResponse) -> np.ndarray:
    return np.eye(len(LABELS), dtype=np.float32)[preprocess.data['labels'][_index(sample_id)]]


def metadata_label(sample_id: str, preprocess: PreprocessResponse) -> str:
    return LABELS[int(preprocess.data['labels'][_index(sample_id)])]


def metadata_brightness(sample_id: str, preprocess: PreprocessResponse) -> float:
    return float(preprocess.data['images'][_index(sample_id)].mean())


def image_visualizer(image: np.ndarray) -> LeapImage:
    return LeapImage((image[0] * 255).clip(0, 255).astype(np.uint8))


def prediction_bar(prediction: np.ndarray) -> LeapHorizontalBar:
    return LeapHorizontalBar(body=prediction[0].astype(np.float32), labels=LABELS)


def accuracy(gt: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    return (gt.argmax(-1) == prediction.argmax(-1)).astype(np.float32)


def cross_entropy(gt: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    return -(gt * np.log(np.clip(prediction, 1e-7, 1.0))).sum(-1).astype(np.float32)

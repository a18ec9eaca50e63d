import numpy as np
from code_loader.contract.datasetclasses import PreprocessResponse
from code_loader.contract.enums import DatasetMetadataType
from code_loader.inner_leap_binder.leapbinder_decorators import (
    tensorleap_gt_encoder, tensorleap_input_encoder, tensorleap_metadata)

from mnist_tl.config import LABELS


@tensorleap_input_encoder('image', channel_dim=-1)
def input_encoder(idx: int, preprocess: PreprocessResponse) -> np.ndarray:
    return preprocess.data['images'][idx - preprocess.data['offset']].astype(np.float32)


@tensorleap_gt_encoder('classes')
def gt_encoder(idx: int, preprocess: PreprocessResponse) -> np.ndarray:
    label = preprocess.data['labels'][idx - preprocess.data['offset']]
    return np.eye(len(LABELS), dtype=np.float32)[label]


@tensorleap_metadata('label')
def metadata_label(idx: int, preprocess: PreprocessResponse) -> str:
    return LABELS[int(preprocess.data['labels'][idx - preprocess.data['offset']])]


@tensorleap_metadata('stats', metadata_type={'brightness': DatasetMetadataType.float,
                                             'is_even': DatasetMetadataType.boolean})
def metadata_stats(idx: int, preprocess: PreprocessResponse) -> dict:
    i = idx - preprocess.data['offset']
    return {'brightness': float(preprocess.data['images'][i].mean()),
            'is_even': bool(preprocess.data['labels'][i] % 2 == 0)}

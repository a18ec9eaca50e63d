"""Decorator-style Tensorleap integration of a synthetic digits data set (runs offline).

    python leap_integration.py        # runs the integration test on a few samples
"""
import os
from typing import List

from code_loader.contract.datasetclasses import PredictionTypeHandler, PreprocessResponse
from code_loader.contract.enums import DataStateType
from code_loader.inner_leap_binder.leapbinder_decorators import (
    tensorleap_integration_test, tensorleap_load_model, tensorleap_preprocess)

from mnist_tl.config import CONFIG, LABELS
from mnist_tl.data import make_dataset
from mnist_tl.encoders import gt_encoder, input_encoder, metadata_label, metadata_stats
from mnist_tl.metrics import accuracy, cross_entropy
from mnist_tl.visualizers import image_visualizer, prediction_bar

MODEL_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'model', 'model.onnx')


@tensorleap_preprocess()
def preprocess() -> List[PreprocessResponse]:
    n_train, n_val = CONFIG['train_size'], CONFIG['validation_size']
    responses = []
    for state, n, offset in ((DataStateType.training, n_train, 0), (DataStateType.validation, n_val, n_train)):
        images, labels = make_dataset(n, offset)
        responses.append(PreprocessResponse(sample_ids=list(range(offset, offset + n)), sample_id_type=int,
                                            data={'images': images, 'labels': labels, 'offset': offset},
                                            state=state))
    return responses


@tensorleap_load_model([PredictionTypeHandler('classes', LABELS, channel_dim=-1)])
def load_model():
    import onnxruntime as ort
    return ort.InferenceSession(MODEL_PATH)


@tensorleap_integration_test()
def integration_test(idx, preprocess):
    image = input_encoder(idx, preprocess)
    gt = gt_encoder(idx, preprocess)
    model = load_model()
    prediction = model.run(None, {'image': image})[0]
    image_visualizer(image)
    prediction_bar(prediction)
    accuracy(gt, prediction)
    cross_entropy(gt, prediction)
    metadata_label(idx, preprocess)
    metadata_stats(idx, preprocess)


if __name__ == '__main__':
    responses = preprocess()
    for response in responses:
        for sample_id in response.sample_ids[:3]:
            integration_test(sample_id, response)

import numpy as np
from code_loader.contract.enums import MetricDirection
from code_loader.inner_leap_binder.leapbinder_decorators import tensorleap_custom_loss, tensorleap_custom_metric


@tensorleap_custom_metric('accuracy', direction=MetricDirection.Upward)
def accuracy(gt: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    return (gt.argmax(-1) == prediction.argmax(-1)).astype(np.float32)


@tensorleap_custom_loss('cross_entropy')
def cross_entropy(gt: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    p = np.clip(prediction.astype(np.float32), 1e-7, 1.0)
    return -(gt.astype(np.float32) * np.log(p)).sum(-1)

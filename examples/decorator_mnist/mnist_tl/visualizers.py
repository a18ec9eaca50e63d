import numpy as np
from code_loader.contract.enums import LeapDataType
from code_loader.contract.visualizer_classes import LeapHorizontalBar, LeapImage
from code_loader.inner_leap_binder.leapbinder_decorators import tensorleap_custom_visualizer

from mnist_tl.config import LABELS


@tensorleap_custom_visualizer('image_visualizer', LeapDataType.Image)
def image_visualizer(image: np.ndarray) -> LeapImage:
    # the platform shows uint8 0-255; a float image in [0, 1] would render black
    return LeapImage((image[0] * 255).clip(0, 255).astype(np.uint8))


@tensorleap_custom_visualizer('prediction_bar', LeapDataType.HorizontalBar)
def prediction_bar(prediction: np.ndarray) -> LeapHorizontalBar:
    return LeapHorizontalBar(body=prediction[0].astype(np.float32), labels=LABELS)

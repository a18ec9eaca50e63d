"""Legacy-style Tensorleap integration (leap_binder.set_* calls) of a synthetic digits data set.

    python leap_binder.py        # runs leap_binder.check()
"""
from code_loader import leap_binder
from code_loader.contract.enums import LeapDataType, MetricDirection

from digits.dataset import LABELS
from digits.functions import (accuracy, cross_entropy, encode_image, encode_label, image_visualizer,
                              metadata_brightness, metadata_label, preprocess, prediction_bar)

leap_binder.set_preprocess(preprocess)
leap_binder.set_input(encode_image, 'image', channel_dim=-1)
leap_binder.set_ground_truth(encode_label, 'classes')
for name, function in (('label', metadata_label), ('brightness', metadata_brightness)):
    leap_binder.set_metadata(function, name)
leap_binder.set_visualizer(image_visualizer, 'image_visualizer', LeapDataType.Image)
leap_binder.set_visualizer(prediction_bar, 'prediction_bar', LeapDataType.HorizontalBar)
leap_binder.add_custom_metric(accuracy, 'accuracy', MetricDirection.Upward)
leap_binder.add_custom_loss(cross_entropy, 'cross_entropy')
leap_binder.add_prediction('classes', LABELS, channel_dim=-1)

if __name__ == '__main__':
    leap_binder.check()

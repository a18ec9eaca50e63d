import os

import yaml

with open(os.path.join(os.path.dirname(__file__), 'config.yaml')) as f:
    CONFIG = yaml.safe_load(f)

LABELS = CONFIG['labels']
IMAGE_SIZE = CONFIG['image_size']

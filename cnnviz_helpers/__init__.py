"""cnnviz_helpers — every method of the lecture "Visualizing and Understanding CNNs", fully implemented.

One module per lecture section; the shared machinery lives once:

- :mod:`.config`    device choice, fast mode (``CNNVIZ_FAST``), offline mode, seeding
- :mod:`.models`    ``load_model`` (torchvision ImageNet weights, or the offline ShapesNet)
- :mod:`.images`    loading any image mode, pre/post-processing, jitter, Gaussian blur
- :mod:`.layers`    layer lookup and the one hook mechanism (:class:`Hooks`, :func:`capture`)
- :mod:`.scores`    ``target_scores``: one class score per image, computing only that class
- :mod:`.plotting`  image grids and heatmap overlays
- :mod:`.shapes`, :mod:`.shapesnet`  the synthetic dataset and the offline model
"""

from .config import budget, default_device, fast_mode, offline_mode, seed_everything
from .images import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    deprocess,
    gaussian_blur,
    jitter,
    load_image,
    preprocess,
    sample_names,
    to_rgb,
)
from .layers import Hooks, capture, check_channel, first_conv, get_layer, layer_names, model_state
from .models import Example, KitModel, load_model
from .plotting import image_grid, normalize, overlay, show_images

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "Example",
    "Hooks",
    "KitModel",
    "budget",
    "capture",
    "check_channel",
    "default_device",
    "deprocess",
    "fast_mode",
    "first_conv",
    "gaussian_blur",
    "get_layer",
    "image_grid",
    "jitter",
    "layer_names",
    "load_image",
    "load_model",
    "model_state",
    "normalize",
    "offline_mode",
    "overlay",
    "preprocess",
    "sample_names",
    "seed_everything",
    "show_images",
    "to_rgb",
]

"""cnnviz_helpers — every method of the lecture "Visualizing and Understanding CNNs", fully implemented.

The package's folders are its architecture (lower layers never import higher ones; a test enforces it):

- ``core/``      the shared machinery every method stands on: config (device, fast / offline mode),
                 models (``load_model``, :class:`KitModel`), images, layers and hooks, targets (what
                 every method accepts), scores (class scores, input gradients), image priors,
                 options (ImagePriors, Schedule), synthesis (the one optimisation loop of every
                 image-synthesis method), compat (old names).
- ``engines/``   speed machinery the methods dispatch to (torch.fx tracing: receptive fields, the
                 incremental occlusion engine, the target-row shortcut); not needed to read a method.
- ``datasets/``  the synthetic shapes dataset and the offline ShapesNet.
- one module per lecture section (``filters``, ``last_layer``, ``patches``, ``occlusion``,
  ``saliency``, ``guided_backprop``, ``gradcam``, ``sanity``, ``class_visualization``,
  ``adversarial``, ``deepdream``, ``inversion``, ``texture_synthesis``, ``style_transfer``,
  ``fast_style``): the reference
  implementations a student compares with.
- ``ui/``        plots, widget building blocks and the per-section widgets; nothing else imports it.
- ``training/``  scripts that train and download (ShapesNet, the fast style network, weights).
"""

from .core.compat import install_module_aliases
from .core.config import budget, default_device, fast_mode, offline_mode, seed_everything
from .core.images import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    deprocess,
    gaussian_blur,
    image_grid,
    jitter,
    load_image,
    normalize,
    preprocess,
    sample_names,
    to_rgb,
)
from .core.layers import Hooks, capture, check_channel, first_conv, get_layer, layer_names, model_state
from .core.models import Example, KitModel, load_model
from .ui.plotting import overlay, show_images

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

install_module_aliases()  # old flat paths (cnnviz_helpers.models, .widgets, …) keep importing

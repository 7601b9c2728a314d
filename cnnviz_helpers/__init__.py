"""cnnviz_helpers — every method of the lecture "Visualizing and Understanding CNNs", fully implemented.

The package's folders are its architecture, a strict order of layers (lowest first; a module imports
only its own layer or lower, and ``tests/test_architecture.py`` enforces it):

1. ``core/``      the shared machinery every method stands on: config (device, fast / offline mode),
                  images, layers and hooks, image priors, options (ImagePriors, Schedule, Callback).
2. ``datasets/``  data the kit generates, ships or downloads: the synthetic shapes and the offline
                  ShapesNet, Imagenette, labelled image sets, paintings.
3. ``models/``    the networks and what every method takes: ``load_model`` and :class:`KitModel`
                  (``models.loading``), targets and :class:`~cnnviz_helpers.models.targets.Unit`
                  (``models.targets``), example images picked on first access (``models.examples``),
                  the image set suited to a model (``models.image_sets``).
4. ``engines/``   speed machinery the methods dispatch to (torch.fx tracing: receptive fields, the
                  incremental occlusion engine, the target-row shortcut of ``engines.scores``).
5. one module per lecture section (``filters``, ``last_layer``, ``patches``, ``occlusion``,
   ``saliency``, ``guided_backprop``, ``gradcam``, ``sanity``, ``class_visualization``,
   ``adversarial``, ``deepdream``, ``inversion``, ``style``, ``fast_style``; beyond the lecture
   ``integrated_gradients``): the reference implementations a student compares with.
6. ``methods``    the method registry: one entry per method (function, kind, UI settings, what it
                  draws); the explorer, the section widgets, the contract test and the bench read it.
7. ``ui/`` (plots and widgets), ``training/`` (scripts that train and download) and ``grading/``
   (the graded exercises' checks), side by side: ui and grading never import each other.

``import cnnviz_helpers`` loads neither matplotlib nor ipywidgets: plots live in
:mod:`cnnviz_helpers.ui.plotting` (``show_images``, ``overlay``).
"""

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
from .models.examples import Example
from .models.loading import KitModel, load_model

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
    "preprocess",
    "sample_names",
    "seed_everything",
    "to_rgb",
]

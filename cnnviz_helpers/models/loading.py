"""Loading the networks the lecture looks at — or, offline, the kit's own ShapesNet.

``load_model("squeezenet1_1")`` (the CS231n choice: fast on a CPU) returns a :class:`KitModel`: the
network in eval mode with frozen parameters, its class names, its preprocessing and the layers the
notebooks use. ImageNet weights come through torchvision's weights API (cached under
``$TORCH_HOME/hub/checkpoints``, with a download progress bar, loaded with ``weights_only=True``).
When they are not cached and cannot be downloaded — or ``CNNVIZ_OFFLINE=1`` — the kit says so in one
line and uses ShapesNet, a small CNN it trained itself on synthetic shapes (``data/shapesnet.md``).

Example:
    >>> km = load_model()                      # squeezenet1_1, or ShapesNet when offline
    >>> img = km.examples[0].image
    >>> km.predict(km.preprocess(img))[0][:2]  # [(class name, probability), ...]
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

import numpy as np
import torch
import torchvision
from torch import nn

from ..core import images as im
from ..core.config import announce, default_device, offline_mode
from ..core.layers import module_device
from ..datasets.shapes import CLASS_NAMES as SHAPE_CLASSES
from ..datasets.shapesnet import MEAN as SHAPES_MEAN
from ..datasets.shapesnet import STD as SHAPES_STD
from ..datasets.shapesnet import WEIGHTS_PATH, load_shapesnet
from ..datasets.shortcut import load_shortcut_shapesnet, shortcut_seed, shortcut_weights_path
from .examples import Example, imagenette_examples, photo_examples, shapes_examples


@dataclass(frozen=True)
class ModelSpec:
    """What the kit knows about one architecture: the layers its notebooks use."""

    layers: tuple[str, ...]  # layers worth visualizing, shallow → deep
    last_conv: str  # Grad-CAM / "last convolutional" layer
    penultimate: str  # features for kNN / PCA / t-SNE (pooled when 4-D)
    examples: tuple[tuple[str, str], ...] = ()  # (sample image, class name) pairs for ImageNet models


_IMAGENET_EXAMPLES = (("chelsea", "tabby"), ("coffee", "espresso"), ("grace_hopper", "military uniform"))

SPECS: dict[str, ModelSpec] = {
    "squeezenet1_1": ModelSpec(
        layers=(
            "features.1",
            "features.3",
            "features.4",
            "features.6",
            "features.7",
            "features.9",
            "features.10",
            "features.11",
            "features.12",
        ),
        last_conv="features.12",
        penultimate="features.12",
        examples=_IMAGENET_EXAMPLES,
    ),
    "vgg16": ModelSpec(
        layers=(
            "features.1",
            "features.3",
            "features.6",
            "features.8",
            "features.11",
            "features.13",
            "features.15",
            "features.18",
            "features.20",
            "features.22",
            "features.25",
            "features.27",
            "features.29",
        ),
        last_conv="features.29",
        penultimate="classifier.4",
        examples=_IMAGENET_EXAMPLES,
    ),
    "vgg19": ModelSpec(
        layers=(
            "features.1",
            "features.3",
            "features.6",
            "features.8",
            "features.11",
            "features.13",
            "features.15",
            "features.17",
            "features.20",
            "features.22",
            "features.24",
            "features.26",
            "features.29",
            "features.31",
            "features.33",
            "features.35",
        ),
        last_conv="features.35",
        penultimate="classifier.4",
        examples=_IMAGENET_EXAMPLES,
    ),
    "resnet18": ModelSpec(
        layers=("relu", "layer1", "layer2", "layer3", "layer4"),
        last_conv="layer4",
        penultimate="avgpool",
        examples=_IMAGENET_EXAMPLES,
    ),
    "googlenet": ModelSpec(
        layers=(
            "conv1",
            "conv2",
            "conv3",
            "inception3a",
            "inception3b",
            "inception4a",
            "inception4b",
            "inception4c",
            "inception4d",
            "inception4e",
            "inception5a",
            "inception5b",
        ),
        last_conv="inception5b",
        penultimate="avgpool",
        examples=_IMAGENET_EXAMPLES,
    ),
    "alexnet": ModelSpec(
        layers=("features.1", "features.4", "features.7", "features.9", "features.11", "classifier.2", "classifier.5"),
        last_conv="features.11",
        penultimate="classifier.5",
        examples=_IMAGENET_EXAMPLES,
    ),
    "densenet121": ModelSpec(
        layers=(
            "features.relu0",
            "features.denseblock1",
            "features.transition1",
            "features.denseblock2",
            "features.transition2",
            "features.denseblock3",
            "features.transition3",
            "features.denseblock4",
            "features.norm5",
        ),
        last_conv="features.norm5",  # the forward applies a functional ReLU after it
        penultimate="features.norm5",
        examples=_IMAGENET_EXAMPLES,
    ),
    "shapesnet": ModelSpec(
        layers=("features.2", "features.6", "features.10", "features.14"),
        last_conv="features.14",
        penultimate="classifier.3",
    ),
}
SPECS["shapesnet_robust"] = SPECS["shapesnet"]  # same architecture, adversarially trained weights
SPECS["shapesnet_shortcut"] = SPECS["shapesnet"]  # same architecture, trained on data with a spurious cue
#: the kit's own models (synthetic shapes), not ImageNet models
OFFLINE_MODELS = ("shapesnet", "shapesnet_robust", "shapesnet_shortcut")
IMAGENET_MODELS = tuple(n for n in SPECS if n not in OFFLINE_MODELS)
ROBUST_WEIGHTS_PATH = WEIGHTS_PATH.with_name("shapesnet_robust.pt")
# torchvision's DenseNet checkpoints use old key names ('norm.1'); its builder renames them the same way
_DENSENET_OLD_KEY = re.compile(r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$")


@dataclass
class KitModel:
    """A network plus everything needed to use it in the notebooks.

    Attributes:
        model: the ``nn.Module``, in eval mode, parameters frozen, on ``device``.
        name: ``"squeezenet1_1"``, ``"vgg16"``, … or ``"shapesnet"``.
        class_names: one name per output.
        mean, std: input normalisation.
        input_size: side of the square input the notebooks use.
        spec: the layers the notebooks use (:class:`ModelSpec`).
        offline: True for the kit's ShapesNet (not an ImageNet model).
        description: one readable line about what this model is.
        examples: a few images with their true classes, picked on first access (not by
            :func:`load_model`): for ImageNet models one Imagenette photo per class (when downloaded;
            correctly classified where one of the first few is) followed by the kit's photos; for
            ShapesNet generated shapes with ground-truth masks (:mod:`cnnviz_helpers.models.examples`).
    """

    model: nn.Module
    name: str
    class_names: list[str]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    input_size: int
    spec: ModelSpec
    offline: bool
    description: str
    _examples: list[Example] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def device(self) -> torch.device:
        return module_device(self.model)

    @property
    def examples(self) -> list[Example]:
        """The model's example images (see the class docstring), picked the first time they are asked for."""
        if self._examples is None:
            if self.offline:
                self._examples = shapes_examples()
            elif self.spec.examples:  # an ImageNet model
                photos = photo_examples(self.spec.examples, self.class_names)
                picked = imagenette_examples(self._image_probabilities, self.class_names, self.input_size)
                self._examples = picked + photos
            else:  # a plain module: no known classes
                self._examples = []
        return self._examples

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def __repr__(self) -> str:
        return f"KitModel({self.description})"

    def preprocess(self, img: im.ImageLike | Sequence[im.ImageLike], size: int | tuple[int, int] | None = None) -> torch.Tensor:
        """Image(s) → normalised ``[N, 3, S, S]`` tensor on the model's device (``S = input_size``; a
        ``(height, width)`` ``size`` resizes exactly, see :func:`~cnnviz_helpers.core.images.load_image`)."""
        return im.preprocess(img, self.mean, self.std, size or self.input_size, device=self.device)

    def deprocess(self, x: torch.Tensor, rescale: bool = False) -> np.ndarray:
        """Normalised tensor → ``HxWx3`` float image(s) in [0, 1], ready for ``plt.imshow``."""
        return im.deprocess(x, self.mean, self.std, rescale=rescale)

    @torch.inference_mode()
    def predict(self, x: torch.Tensor, k: int = 5) -> list[list[tuple[str, float]]]:
        """Top-``k`` ``(class name, probability)`` for each image of a preprocessed batch."""
        probs = self._probabilities(x)
        top = probs.topk(min(k, probs.shape[-1]), dim=-1)
        return [[(self.class_names[int(i)], float(p)) for p, i in zip(ps, idx)] for ps, idx in zip(top.values, top.indices)]

    @torch.inference_mode()
    def _probabilities(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities ``[N, classes]`` of a preprocessed batch, in eval mode (the model's mode restored)."""
        was_training = self.model.training
        self.model.eval()
        try:
            return self.model(x.to(self.device)).softmax(-1)
        finally:
            self.model.train(was_training)

    def _image_probabilities(self, images: Sequence[im.ImageLike]) -> torch.Tensor:
        """Class probabilities (float32 ``[N, classes]``) of images, preprocessed as the model expects."""
        return self._probabilities(self.preprocess(images)).float()

    def class_index(self, name: str | int) -> int:
        """Index of a class from its name (exact, then case-insensitive, then closest matches suggested)."""
        if isinstance(name, int):
            if not 0 <= name < len(self.class_names):
                raise IndexError(
                    f"{self.name} has {len(self.class_names)} classes: index must be in 0..{len(self.class_names) - 1}"
                )
            return name
        lower = [c.lower() for c in self.class_names]
        if name in self.class_names:
            return self.class_names.index(name)
        if name.lower() in lower:
            return lower.index(name.lower())
        close = difflib.get_close_matches(name.lower(), lower, n=5, cutoff=0.5)
        hint = f" Did you mean: {', '.join(self.class_names[lower.index(c)] for c in close)}?" if close else ""
        raise KeyError(f"{self.name} has no class {name!r}.{hint}")

    def search_classes(self, text: str) -> list[tuple[int, str]]:
        """Classes whose name contains ``text`` (case-insensitive), for class pickers."""
        return [(i, c) for i, c in enumerate(self.class_names) if text.lower() in c.lower()]

    @classmethod
    def wrap(
        cls,
        net: nn.Module,
        mean: Sequence[float] = im.IMAGENET_MEAN,
        std: Sequence[float] = im.IMAGENET_STD,
        *,
        name: str | None = None,
        input_size: int = 224,
        class_names: Sequence[str] = (),
    ) -> KitModel:
        """A :class:`KitModel` around a plain ``nn.Module``: the one place an input normalisation is given.

        Every method of the kit takes a KitModel or a plain ``nn.Module``; a plain module means
        ImageNet normalisation and 224-px inputs. Wrap it for anything else:

        Args:
            net: the network (used as it is: not copied, not frozen, its modes untouched).
            mean, std: its input normalisation (per channel, pixels in [0, 1]).
            name: a name for messages (default: the module's class name).
            input_size: side of the square input the synthesis methods make by default.
            class_names: one per output, to pass classes by name (default: none).

        Example:
            >>> km = KitModel.wrap(my_net, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25), name="mine")
            >>> img = class_visualization(km, 3)
        """
        name = name or type(net).__name__
        return cls(
            model=net,
            name=name,
            class_names=list(class_names),
            mean=tuple(float(v) for v in mean),
            std=tuple(float(v) for v in std),
            input_size=input_size,
            spec=ModelSpec(layers=(), last_conv="", penultimate=""),
            offline=False,
            description=f"{name}, a plain {type(net).__name__} (normalisation mean {tuple(mean)}, std {tuple(std)})",
        )


def _offline_model(device: torch.device, name: str = "shapesnet") -> KitModel:
    if name == "shapesnet_robust":
        what = "robust ShapesNet — the kit's offline CNN adversarially trained (PGD, card: data/shapesnet_robust.md)"
        net = load_shapesnet(ROBUST_WEIGHTS_PATH, device)
    elif name == "shapesnet_shortcut":
        seed = shortcut_seed()
        what = f"a ShapesNet with a high accuracy (card: {shortcut_weights_path(seed).with_suffix('.md').name})"
        net = load_shortcut_shapesnet(seed, str(device))
    else:
        what, net = "ShapesNet — the kit's offline CNN", load_shapesnet(WEIGHTS_PATH, device)
    return KitModel(
        model=_frozen(net),
        name=name,
        class_names=list(SHAPE_CLASSES),
        mean=SHAPES_MEAN,
        std=SHAPES_STD,
        input_size=64,
        spec=SPECS["shapesnet"],
        offline=True,
        description=f"{what} (10 synthetic shape/texture classes, 64×64 input; NOT an ImageNet model)",
    )


def _frozen(model: nn.Module) -> nn.Module:
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


class WeightsFileError(RuntimeError):
    """A weights file that exists but cannot be used (damaged, or repaired but not re-downloadable); the message says what to do."""


def cached_weights_path(weights: torchvision.models.WeightsEnum) -> Path:
    """Where torchvision keeps ``weights``: ``$TORCH_HOME/hub/checkpoints/<file name of its URL>``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(weights.url).path).name


def damaged_download(path: Path) -> bool | None:
    """Whether ``path`` fails the check torchvision makes on download: its SHA-256 must start with the hash
    prefix in its name (``squeezenet1_1-b8a52dc0.pth``). ``None`` when the name carries no hash."""
    match = torch.hub.HASH_REGEX.search(path.name)
    if match is None:
        return None
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return not digest.hexdigest().startswith(match.group(1))


def _state_dict(weights: torchvision.models.WeightsEnum, progress: bool) -> dict[str, torch.Tensor]:
    """``weights``' state dict from the torch cache (downloaded once with a hash check).

    A cached file that does not load is checked against the hash prefix in its name: a damaged file
    (an interrupted download or copy) is deleted and downloaded again; when that fails too, the
    :class:`WeightsFileError` names the file and what to do.
    """
    path = cached_weights_path(weights)
    if not path.exists():
        _check_reachable(weights.url)  # offline: fail before torch.hub prints "Downloading: …" (one line in all)
    try:
        return weights.get_state_dict(progress=progress, check_hash=True, weights_only=True)
    except Exception as err:
        if not path.exists():
            raise  # not cached, and the download failed
        damaged = damaged_download(path)
        if damaged is None:
            raise WeightsFileError(f"{path} does not load ({_reason(err)}); delete it to download it again") from err
        if not damaged:
            raise WeightsFileError(f"{path} passes its checksum but does not load ({_reason(err)})") from err
    path.unlink()
    announce(f"{path} was damaged (an interrupted download or copy?): deleted it, downloading it again")
    try:
        return weights.get_state_dict(progress=progress, check_hash=True, weights_only=True)
    except Exception as err:
        raise WeightsFileError(
            f"{path} was damaged (an interrupted download or copy?) and has been deleted; downloading it again "
            f"failed ({_reason(err)}): run load_model again when online, or copy a good {path.name} there"
        ) from err


def _stamp(path: Path) -> tuple[int, int]:
    """``path``'s size and modification time: a changed file is hashed again."""
    st = path.stat()
    return st.st_size, st.st_mtime_ns


@functools.lru_cache(maxsize=16)
def _unverified(path: str, _size: int, _mtime_ns: int) -> bool:
    """:func:`damaged_download` once per file version: a 500 MB VGG file is not hashed on every load."""
    return bool(damaged_download(Path(path)))


def _check_reachable(url: str, timeout: float = 5.0) -> None:
    """Raise ``OSError`` (``URLError``) when ``url``'s server cannot be reached: a HEAD request, no download."""
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout).close()


def _reason(err: BaseException) -> str:
    """One short line about an exception."""
    return f"{type(err).__name__}: {err}".splitlines()[0][:100]


def _build_imagenet(name: str, pretrained: bool, progress: bool) -> tuple[nn.Module, torchvision.models.WeightsEnum]:
    """The torchvision model ``name`` and its default weights enum (weights loaded if ``pretrained``)."""
    weights = torchvision.models.get_model_weights(name).DEFAULT
    kwargs: dict[str, object] = {"num_classes": len(weights.meta["categories"])}
    if name == "googlenet":  # what torchvision's builder does for pretrained GoogLeNet
        kwargs.update(transform_input=True, aux_logits=True, init_weights=False)
    model = torchvision.models.get_model(name, weights=None, **kwargs)
    if pretrained:
        state = _state_dict(weights, progress)
        if name.startswith("densenet"):
            state = {_DENSENET_OLD_KEY.sub(r"\1\2", k): v for k, v in state.items()}
        model.load_state_dict(state)
    if name == "googlenet":
        model.aux_logits = False
        model.aux1 = model.aux2 = None
    return model, weights


def load_model(
    name: str = "squeezenet1_1",
    weights: Literal["imagenet", "random"] = "imagenet",
    device: torch.device | str | None = None,
    progress: bool = True,
) -> KitModel:
    """Load a network for the notebooks.

    Args:
        name: one of ``squeezenet1_1`` (default), ``vgg16``, ``vgg19``, ``googlenet``, ``resnet18``,
            ``alexnet``, ``densenet121``, or the kit's offline models ``shapesnet`` and
            ``shapesnet_robust`` (adversarially trained, see ``data/shapesnet_robust.md``) and
            ``shapesnet_shortcut`` (the capstone's model of notebook 14, for the shortcut seed
            ``$CNNVIZ_SHORTCUT_SEED``, see ``data/shapesnet_shortcut.md``).
        weights: ``"imagenet"`` (downloads once, then reads the cache) or ``"random"`` (untrained;
            for sanity checks and tests — say so wherever you show results).
        device: default :func:`cnnviz_helpers.default_device` (CUDA, then MPS, then CPU).
        progress: show a progress bar while downloading.

    Returns:
        A :class:`KitModel`. When ImageNet weights cannot be had (no cache, no network) or
        ``CNNVIZ_OFFLINE=1``, one line says so and the kit's ShapesNet is returned instead.
    """
    dev = torch.device(device) if device is not None else default_device()
    if name in OFFLINE_MODELS:
        return _offline_model(dev, name)
    if name not in SPECS:
        close = difflib.get_close_matches(name, list(SPECS), n=3)
        raise ValueError(
            f"unknown model {name!r}; choose from {', '.join(SPECS)}" + (f" (did you mean {close[0]}?)" if close else "")
        )
    if weights not in ("imagenet", "random"):
        raise ValueError(f"weights must be 'imagenet' or 'random', got {weights!r}")
    pretrained = weights == "imagenet"
    if pretrained and offline_mode():
        announce(f"CNNVIZ_OFFLINE is set → using the kit's offline ShapesNet instead of ImageNet {name} (not an ImageNet model).")
        return _offline_model(dev)
    try:
        model, wenum = _build_imagenet(name, pretrained, progress)
    except Exception as err:  # no network, no cache, proxy errors, a damaged cache file …
        why = (
            str(err)
            if isinstance(err, WeightsFileError)
            else (f"ImageNet weights for {name} are not cached and could not be downloaded ({_reason(err)})")
        )
        announce(f"{why} → using the kit's offline ShapesNet instead (synthetic shapes, not an ImageNet model).")
        return _offline_model(dev)
    tf = wenum.transforms()
    label = "ImageNet-pretrained" if pretrained else "RANDOM (untrained) weights"
    path = cached_weights_path(wenum)
    if pretrained and _unverified(str(path), *_stamp(path)):  # loads, but is not torchvision's checked file
        label = "UNVERIFIED weights (not torchvision's pretrained file)"
        announce(
            f"{path} loads but does not match the SHA-256 in its name: these are not "
            f"torchvision's pretrained {name} weights (e.g. tools/imagenet_path.py's random test weights). "
            "Delete the file and run load_model online for the real ones."
        )
    spec = SPECS[name]
    classes = list(wenum.meta["categories"])
    return KitModel(
        model=_frozen(model.to(dev)),
        name=name,
        class_names=classes,
        mean=tuple(tf.mean),
        std=tuple(tf.std),
        input_size=int(tf.crop_size[0]),
        spec=spec,
        offline=False,
        description=f"{name}, {label} (torchvision {wenum}), {len(classes)} classes, {tf.crop_size[0]}px input",
    )

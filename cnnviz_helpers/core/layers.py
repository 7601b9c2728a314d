"""Layer lookup and the kit's one hook mechanism.

Every method in the kit that needs an intermediate activation, or that must change how a layer
behaves for a while, goes through :class:`Hooks` (or :func:`capture`, built on it). On exit — also
when the body raises — every hook is removed and each module's train/eval mode and each
parameter's ``requires_grad`` are restored, so the user's model is left exactly as it was.

Example:
    >>> with capture(model, ["features.3", "features.8"]) as acts:
    ...     acts.run(x)                 # stops after features.8: nothing deeper is computed
    >>> acts["features.3"].shape
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle


def layer_names(model: nn.Module, kind: type[nn.Module] | tuple[type[nn.Module], ...] | None = None) -> list[str]:
    """Dotted names of all sub-modules in forward-definition order (optionally only of type ``kind``)."""
    return [n for n, m in model.named_modules() if n and (kind is None or isinstance(m, kind))]


def get_layer(model: nn.Module, name: str) -> nn.Module:
    """The sub-module called ``name`` (e.g. ``"features.12"`` or ``"layer4.1.conv2"``).

    Raises:
        KeyError: with the closest valid names when ``name`` does not exist.
    """
    modules = dict(model.named_modules())
    if name in modules and name:
        return modules[name]
    names = [n for n in modules if n]
    close = difflib.get_close_matches(name, names, n=5, cutoff=0.5)
    if not close:
        prefix = name.split(".")[0]
        close = [n for n in names if n.startswith(prefix)][:5] or names[:5]
    raise KeyError(
        f"{type(model).__name__} has no layer {name!r}. Did you mean: {', '.join(close)}? "
        f"(layer_names(model) lists all {len(names)})"
    )


def module_device(module: nn.Module) -> torch.device:
    """The device of ``module``'s first parameter (CPU for a module without parameters)."""
    p = next(module.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def check_channel(output: torch.Tensor, channel: int, layer: str = "layer") -> None:
    """Raise a clear ``IndexError`` when ``channel`` is not a valid channel of ``output`` (``[N, C, ...]``)."""
    n = output.shape[1]
    if not -n <= channel < n:
        raise IndexError(f"{layer} has {n} channels: channel must be in 0..{n - 1}, got {channel}")


def first_conv(model: nn.Module) -> tuple[str, nn.Conv2d]:
    """Name and module of the first ``Conv2d`` in ``model`` (``features.0``, ``conv1``, ``Conv2d_1a_3x3.conv`` …)."""
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            return name, module
    raise ValueError(f"{type(model).__name__} has no Conv2d layer")


class _StopForward(Exception):
    """Raised inside a forward hook to end the forward pass early."""


class Hooks:
    """Context manager that owns temporary changes to a model and undoes all of them on exit.

    On entry it records every module's ``training`` flag and every parameter's ``requires_grad``,
    then (by default) puts the model in eval mode and freezes the parameters — the methods of the
    lecture differentiate with respect to the *input*, not the weights. Hooks registered through
    it are removed on exit, whatever happens inside the ``with`` block.

    Args:
        model: the network.
        eval_mode: put the model in eval mode inside the block.
        freeze: set ``requires_grad=False`` on every parameter inside the block.
    """

    def __init__(self, model: nn.Module, eval_mode: bool = True, freeze: bool = True) -> None:
        self.model = model
        self._eval, self._freeze = eval_mode, freeze
        self._handles: list[RemovableHandle] = []
        self._modes: list[tuple[nn.Module, bool]] = []
        self._grads: list[tuple[nn.Parameter, bool]] = []

    def __enter__(self) -> Hooks:
        self._modes = [(m, m.training) for m in self.model.modules()]
        self._grads = [(p, p.requires_grad) for p in self.model.parameters()]
        if self._eval:
            self.model.eval()
        if self._freeze:
            for p in self.model.parameters():
                p.requires_grad_(False)
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()
        for m, mode in self._modes:
            if m.training != mode:  # setting nn.Module attributes is slow: only where something changed
                m.training = mode
        for p, flag in self._grads:
            if p.requires_grad != flag:
                p.requires_grad_(flag)

    def remove(self) -> None:
        """Remove every hook registered so far (also done on exit)."""
        for h in self._handles:
            h.remove()
        self._handles.clear()

    def _module(self, layer: str | nn.Module) -> nn.Module:
        return get_layer(self.model, layer) if isinstance(layer, str) else layer

    def forward(self, layer: str | nn.Module, fn: Callable[[nn.Module, Any, Any], Any]) -> None:
        """Register ``fn(module, inputs, output)`` as a forward hook (its return value replaces the output)."""
        self._handles.append(self._module(layer).register_forward_hook(fn))

    def forward_pre(self, layer: str | nn.Module, fn: Callable[[nn.Module, Any], Any]) -> None:
        """Register ``fn(module, inputs)`` as a forward pre-hook."""
        self._handles.append(self._module(layer).register_forward_pre_hook(fn))

    def output_grad(self, layer: str | nn.Module, fn: Callable[[torch.Tensor], torch.Tensor | None]) -> None:
        """Call ``fn(grad)`` on the gradient flowing back into ``layer``'s output; its return value replaces it.

        Uses a tensor hook on the output (as Captum does), registered at forward time, so it is
        attached to the value the layer produced even when the layer is an in-place ReLU whose
        output tensor is modified again later. Works only for layers with a single tensor output.
        """

        def hook(_m: nn.Module, _inp: Any, out: Any) -> None:
            if isinstance(out, torch.Tensor) and out.requires_grad:
                out.register_hook(fn)

        self.forward(layer, hook)


class Activations(Hooks):
    """:class:`Hooks` that records named layers' outputs; see :func:`capture`."""

    def __init__(self, model: nn.Module, layers: Iterable[str], stop: bool = True, detach: bool = False, **kw: Any) -> None:
        super().__init__(model, **kw)
        self.layers = list(dict.fromkeys(layers))
        for name in self.layers:
            get_layer(model, name)  # fail early, with suggestions
        self.stop, self.detach = stop, detach
        self.outputs: dict[str, torch.Tensor] = {}

    def __enter__(self) -> Activations:
        super().__enter__()
        for name in self.layers:
            self.forward(name, self._recorder(name))
        return self

    def _recorder(self, name: str) -> Callable[[nn.Module, Any, Any], None]:
        def hook(_m: nn.Module, _inp: Any, out: Any) -> None:
            if name in self.outputs:  # a module reused in one forward (ResNet's relu): keep the first call
                return
            if not isinstance(out, torch.Tensor):
                raise TypeError(f"layer {name!r} returns {type(out).__name__}, not a tensor; pick a sub-layer")
            # clone: a following in-place ReLU must not overwrite what we recorded (clone keeps the graph)
            self.outputs[name] = out.detach().clone() if self.detach else out.clone()
            if self.stop and len(self.outputs) == len(self.layers):
                raise _StopForward

        return hook

    def run(self, x: torch.Tensor) -> torch.Tensor | None:
        """Forward ``x``; returns the model output, or ``None`` when the pass stopped early."""
        self.outputs.clear()
        try:
            return self.model(x)
        except _StopForward:
            return None

    def __getitem__(self, name: str) -> torch.Tensor:
        if name not in self.outputs:
            raise KeyError(f"{name!r} was not recorded; recorded: {list(self.outputs)} (did you call run()?)")
        return self.outputs[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.outputs)


def layer_input(model: nn.Module, layer: str | nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Run ``model`` on ``x`` only until ``layer`` is called, and return that call's first input.

    Nothing from ``layer`` on is computed. The returned tensor is part of the autograd graph (so
    gradients flow back to ``x``); the model's modes and flags are left as they are.

    Raises:
        ValueError: the forward pass never calls ``layer``.
    """
    got: list[torch.Tensor] = []

    def stop(_m: nn.Module, inputs: Any) -> None:
        got.append(inputs[0])
        raise _StopForward

    with Hooks(model, eval_mode=False, freeze=False) as hooks:
        hooks.forward_pre(layer, stop)
        try:
            model(x)
        except _StopForward:
            return got[0]
    raise ValueError(f"{type(model).__name__}'s forward pass never calls {layer!r}")


def capture(
    model: nn.Module,
    layers: str | Iterable[str],
    stop: bool = True,
    detach: bool = False,
    eval_mode: bool = True,
    freeze: bool = True,
) -> Activations:
    """Record the outputs of ``layers`` during :meth:`Activations.run`.

    Args:
        model: the network (left as it was on exit: no hooks, same modes, same ``requires_grad``).
        layers: one name or several, as listed by :func:`layer_names`.
        stop: end the forward pass as soon as every requested layer has produced its output —
            the deeper layers are never computed (``run`` then returns ``None``).
        detach: store detached copies (for plotting / statistics); otherwise the stored tensors are
            part of the autograd graph, so you can backpropagate from them to the input.
        eval_mode, freeze: see :class:`Hooks`.

    Example:
        >>> x.requires_grad_(True)
        >>> with capture(model, "features.8") as acts:
        ...     acts.run(x)
        ...     acts["features.8"][0, 5].mean().backward()   # gradient of one channel w.r.t. x
    """
    names = [layers] if isinstance(layers, str) else list(layers)
    return Activations(model, names, stop=stop, detach=detach, eval_mode=eval_mode, freeze=freeze)


def model_state(model: nn.Module) -> tuple[tuple[bool, ...], tuple[bool, ...], int]:
    """A snapshot to compare before/after a method: modes, ``requires_grad`` flags, number of hooks."""
    hooks = sum(
        len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks) + len(getattr(m, "_backward_pre_hooks", {}))
        for m in model.modules()
    )
    return (
        tuple(m.training for m in model.modules()),
        tuple(p.requires_grad for p in model.parameters()),
        hooks,
    )

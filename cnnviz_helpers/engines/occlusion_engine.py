"""The incremental occlusion engine behind :func:`cnnviz_helpers.occlusion.occlusion_map` (speed machinery).

An occluder changes only a small part of each early feature map, so only that part is recomputed:
the network is traced with ``torch.fx`` and every convolution / pooling / position-wise node is
evaluated on the rectangle of units whose receptive field meets the occluder, with the clean
image's values everywhere else; the last layer computes only the target class's output
(:func:`~cnnviz_helpers.engines.score_shortcut.target_rows`). The scores equal the plain
one-window-at-a-time computation (up to float rounding). A model that cannot be traced is scored
on whole occluded images.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import fx, nn

from .receptive_field import is_pointwise, spatial_op, trace_model
from .score_shortcut import score_layer, target_rows


@dataclass
class _Region:
    """A batch of feature maps equal to the clean image's map except inside one box per sample.

    ``t[b]`` holds the map of sample ``b`` for rows ``y[b] : y[b] + h`` and columns ``x[b] : x[b] + w``.
    """

    t: torch.Tensor  # [B, C, h, w]
    y: torch.Tensor  # [B] long
    x: torch.Tensor  # [B] long


def _window(
    base: torch.Tensor, region: _Region | None, y: torch.Tensor, x: torch.Tensor, h: int, w: int, fill: float = 0.0
) -> torch.Tensor:
    """Rows ``y:y+h``, columns ``x:x+w`` of every sample's map (``region`` inside its box, ``base`` elsewhere, ``fill`` off the map).

    ``base`` is the clean map in ``[H, W, C]`` layout: each window row is then one contiguous
    block, so slicing and stacking is fast, and the result ``[B, C, h, w]`` is channels-last,
    which is also what the CPU convolutions prefer.
    """
    if region is not None and region.t.shape[-2:] == (h, w) and torch.equal(region.y, y) and torch.equal(region.x, x):
        return region.t
    H, W = base.shape[:2]
    ys, xs = y.tolist(), x.tolist()
    top, left = max(0, -min(ys)), max(0, -min(xs))
    bottom, right = max(0, max(ys) + h - H), max(0, max(xs) + w - W)
    padded = F.pad(base, (0, 0, left, right, top, bottom), value=fill) if top + left + bottom + right else base
    out = torch.stack([padded[i + top : i + top + h, j + left : j + left + w] for i, j in zip(ys, xs)]).permute(0, 3, 1, 2)
    if region is not None:
        rh, rw = region.t.shape[-2:]
        for b, (i, j, ri, rj) in enumerate(zip(ys, xs, region.y.tolist(), region.x.tolist())):
            r0, r1, c0, c1 = max(i, ri), min(i + h, ri + rh), max(j, rj), min(j + w, rj + rw)
            if r0 < r1 and c0 < c1:
                out[b, :, r0 - i : r1 - i, c0 - j : c1 - j] = region.t[b, :, r0 - ri : r1 - ri, c0 - rj : c1 - rj]
    return out


class Occluder:
    """Scores batches of occluded copies of one image, recomputing only what each occluder changes."""

    def __init__(self, model: nn.Module, x: torch.Tensor, target: int, probability: bool) -> None:
        self.model, self.x, self.target, self.probability = model, x, target, probability
        self.head: fx.Node | None = None
        self._hwc_cache: dict[fx.Node, torch.Tensor] = {}
        try:
            self.graph: fx.Graph | None
            self.graph, _, self.modules = trace_model(model)
        except TypeError:  # not traceable: score whole occluded images
            self.graph = None
            out = model(x)
        else:
            m = self.modules.get(str(head.target)) if (head := score_layer(self.graph, self.modules)) else None
            classes = getattr(m, "out_features", getattr(m, "out_channels", 0))
            self.head = head if not probability and 0 <= target < classes else None
            self.base, out = self._run_clean()
            if self.head is not None and out.shape != (1, 1):  # the head was not one-to-one after all
                self.head = None
                self.base, out = self._run_clean()
        if self.head is None and isinstance(out, torch.Tensor) and out.ndim == 2 and not 0 <= target < out.shape[1]:
            raise IndexError(f"the model has {out.shape[1]} classes: target must be in 0..{out.shape[1] - 1}, got {target}")
        self.clean = float(self._score(out)[0])

    def _call(self, node: fx.Node, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if node.op == "get_attr":
            return _attr(self.model, str(node.target))
        if node.op == "call_function":
            return node.target(*args, **kwargs)  # type: ignore[operator]
        if node.op == "call_method":
            return getattr(args[0], str(node.target))(*args[1:], **kwargs)
        m = self.modules[str(node.target)]
        if node is self.head:  # only the target class's output
            return target_rows(m, args[0], torch.full(args[0].shape[:1], self.target, device=args[0].device))  # type: ignore[arg-type]
        return m(*args, **kwargs)

    def _run_clean(self) -> tuple[dict[fx.Node, Any], torch.Tensor]:
        env: dict[fx.Node, Any] = {}
        for node in self.graph.nodes:  # type: ignore[union-attr]
            if node.op == "placeholder":
                env[node] = self.x
            elif node.op == "output":
                return env, env[node.args[0]]
            else:
                env[node] = self._call(node, *fx.node.map_arg((node.args, node.kwargs), env.__getitem__))
        raise RuntimeError("graph without output")

    def _hwc(self, node: fx.Node) -> torch.Tensor:
        """The clean map of ``node`` as ``[H, W, C]`` (cached), the layout :func:`_window` reads."""
        if node not in self._hwc_cache:
            self._hwc_cache[node] = self.base[node][0].permute(1, 2, 0).contiguous()
        return self._hwc_cache[node]

    def _dense(self, node: fx.Node, value: Any) -> Any:
        if not isinstance(value, _Region):
            return value
        zero = torch.zeros_like(value.y)
        return _window(self._hwc(node), value, zero, zero, *self.base[node].shape[-2:])

    def _spatial(self, node: fx.Node, m: nn.Module, r: _Region) -> _Region | None:
        """Units of a conv / pool whose window meets the changed box, computed on just the input they need."""
        op = spatial_op(m)
        src = node.all_input_nodes[0]
        out_hw = self.base[node].shape[-2:]
        starts: list[torch.Tensor] = []
        sizes: list[int] = []
        win_starts: list[torch.Tensor] = []
        win_sizes: list[int] = []
        for a, pos in enumerate((r.y, r.x)):
            k, s, p = op.span[a], op.stride[a], op.padding[a]  # type: ignore[union-attr]
            n = min(out_hw[a], (r.t.shape[2 + a] + k - 2) // s + 1)
            o0 = (-((-(pos + p - k + 1)) // s)).clamp(0, out_hw[a] - n)
            starts.append(o0)
            sizes.append(n)
            win_starts.append(o0 * s - p)
            win_sizes.append((n - 1) * s + k)
        if tuple(sizes) == tuple(out_hw):
            return None  # the whole map changes: compute it densely
        pad_value = float("-inf") if isinstance(m, nn.MaxPool2d) else 0.0
        win = _window(self._hwc(src), r, win_starts[0], win_starts[1], win_sizes[0], win_sizes[1], fill=pad_value)
        if isinstance(m, nn.Conv2d):
            out = F.conv2d(win, m.weight, m.bias, m.stride, 0, m.dilation, m.groups)
        elif isinstance(m, nn.MaxPool2d):
            out = F.max_pool2d(win, m.kernel_size, m.stride or m.kernel_size, 0, m.dilation)
        else:
            pool = cast(nn.AvgPool2d, m)
            out = F.avg_pool2d(win, pool.kernel_size, pool.stride or pool.kernel_size, 0, divisor_override=pool.divisor_override)
        return _Region(out, starts[0], starts[1])

    def _pointwise(self, node: fx.Node, regions: dict[fx.Node, _Region]) -> _Region | None:
        """A position-wise node on the union of its inputs' changed boxes."""
        H, W = self.base[node].shape[-2:]
        y0 = torch.stack([r.y for r in regions.values()]).amin(0)
        x0 = torch.stack([r.x for r in regions.values()]).amin(0)
        h = int((torch.stack([r.y + r.t.shape[2] for r in regions.values()]).amax(0) - y0).max())
        w = int((torch.stack([r.x + r.t.shape[3] for r in regions.values()]).amax(0) - x0).max())
        if (h, w) == (H, W):
            return None
        y0, x0 = y0.clamp(max=H - h), x0.clamp(max=W - w)
        crops = {n: _window(self._hwc(n), r, y0, x0, h, w) for n, r in regions.items()}
        args, kwargs = fx.node.map_arg((node.args, node.kwargs), lambda n: crops.get(n, self.base[n]))
        return _Region(self._call(node, args, kwargs), y0, x0)

    def _windowable(self, m: nn.Module) -> bool:
        if isinstance(m, nn.Conv2d):
            return m.padding_mode == "zeros"
        if isinstance(m, nn.MaxPool2d):
            return not m.return_indices
        return isinstance(m, nn.AvgPool2d) and not m.ceil_mode and (m.count_include_pad or m.padding in (0, (0, 0)))

    def _is_map(self, node: fx.Node) -> bool:
        v = self.base.get(node)
        return isinstance(v, torch.Tensor) and v.ndim == 4

    def window_scores(self, wy: torch.Tensor, wx: torch.Tensor, window: tuple[int, int], fill: torch.Tensor) -> torch.Tensor:
        """Target scores of the copies of the image occluded by ``fill`` in the windows starting at ``(wy[i], wx[i])``.

        Each copy is described by its changed box: the window, shifted inside the image when the
        border cuts it, holding the occluded pixels (``fill`` where the window is, the image elsewhere).
        """
        size, device = self.x.shape[-2:], self.x.device
        by, bx = wy.clamp(max=size[0] - window[0]), wx.clamp(max=size[1] - window[1])
        img = _window(self.x[0].permute(1, 2, 0), None, by, bx, *window)
        occ = _window(fill[0].permute(1, 2, 0), None, by, bx, *window)
        rows = (by[:, None] + torch.arange(window[0], device=device)) - wy[:, None]
        cols = (bx[:, None] + torch.arange(window[1], device=device)) - wx[:, None]
        hidden = ((rows >= 0) & (rows < window[0]))[:, :, None] & ((cols >= 0) & (cols < window[1]))[:, None, :]
        return self.scores(_Region(torch.where(hidden[:, None], occ, img), by, bx))

    def scores(self, start: _Region) -> torch.Tensor:
        """Target scores of the occluded images described by ``start`` (changed boxes of the input)."""
        if self.graph is None:
            zero = torch.zeros_like(start.y)
            return self._score(self.model(_window(self.x[0].permute(1, 2, 0), start, zero, zero, *self.x.shape[-2:])))
        env: dict[fx.Node, Any] = {}
        for node in self.graph.nodes:
            if node.op == "placeholder":
                env[node] = start
                continue
            if node.op == "output":
                return self._score(self._dense(node.args[0], env[node.args[0]]))
            inputs = [n for n in node.all_input_nodes if n in env]
            if not inputs:  # does not depend on the image
                continue
            regions = {n: env[n] for n in inputs if isinstance(env[n], _Region)}
            m = self.modules.get(str(node.target)) if node.op == "call_module" else None
            value = None
            if node is not self.head and self._is_map(node) and len(regions) == len(inputs):
                if m is not None and spatial_op(m) is not None and self._windowable(m) and len(inputs) == 1:
                    value = self._spatial(node, m, regions[inputs[0]])
                elif is_pointwise(node, self.modules) and all(self._is_map(n) for n in inputs):
                    value = self._pointwise(node, regions)
            if value is None:  # anything else: on the whole (materialized) maps
                args, kwargs = fx.node.map_arg(
                    (node.args, node.kwargs), lambda n: self._dense(n, env[n]) if n in env else self.base[n]
                )
                out = self._call(node, args, kwargs)
                if isinstance(out, torch.Tensor) and out.ndim == 4 and self._is_map(node):
                    zero = torch.zeros(len(start.y), dtype=torch.long, device=start.y.device)
                    out = _Region(out, zero, zero)
                value = out
            env[node] = value
        raise RuntimeError("graph without output")

    def _score(self, out: Any) -> torch.Tensor:
        if not isinstance(out, torch.Tensor) or out.ndim != 2:
            raise TypeError(f"the model must return [N, classes] scores, got {type(out).__name__} {getattr(out, 'shape', '')}")
        if self.probability:
            out = out.softmax(-1)
        return out[:, 0] if self.head is not None else out[:, self.target]


def _attr(model: nn.Module, target: str) -> Any:
    obj: Any = model
    for part in target.split("."):
        obj = getattr(obj, part)
    return obj

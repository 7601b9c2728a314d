"""Batch norm folded into the convolution before it: a faster copy of a network for pure inference.

In eval mode a ``BatchNorm2d`` after a convolution is a fixed affine map per channel, so it can be
folded into the convolution's weights and bias (``torch.fx.experimental.optimization.fuse``): the
same outputs up to float rounding, about a third less time for ShapesNet on a CPU. The methods that
only run a network forward many times (the deletion / insertion curves) use it.
"""

from __future__ import annotations

from torch import nn
from torch.fx.experimental.optimization import fuse


def fold_batch_norm(net: nn.Module) -> nn.Module:
    """A copy of the eval-mode ``net`` with every convolution → batch norm pair fused into one convolution.

    ``net`` is never modified (the copy is a deep copy, a ``torch.fx.GraphModule``). Returns ``net``
    itself when there is nothing to fold (no batch norm, or ``net`` in training mode, where batch
    norm uses the batch's statistics) or when ``torch.fx`` cannot trace it (data-dependent control flow).
    """
    if net.training or not any(isinstance(m, nn.BatchNorm2d) for m in net.modules()):
        return net
    try:
        return fuse(net)
    except Exception:  # torch.fx raises many kinds of errors on untraceable code; the plain network still works
        return net

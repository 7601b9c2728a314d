"""Comparisons shared by the tests (imported as ``from compare import assert_same``)."""

from __future__ import annotations

import torch


def assert_same(ours: torch.Tensor, reference: torch.Tensor) -> None:
    """Equal up to float rounding (the kit runs CPU convolutions in channels-last layout, Captum does not)."""
    torch.testing.assert_close(ours, reference, rtol=1e-4, atol=1e-5 * float(reference.detach().abs().max()))

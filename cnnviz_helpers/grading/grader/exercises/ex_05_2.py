"""Exercise 05.2: ``guided_relu_backward`` — its cases, correct answer, classic mistakes and the kit functions it blocks."""

from __future__ import annotations

from .... import guided_backprop
from ._common import _m, _randn
from .spec import Case, Exercise


def ref_guided_relu_backward(grad_output, relu_input):
    return grad_output.clamp(min=0) * (relu_input > 0).to(grad_output.dtype)


def _guided_plain_relu(grad_output, relu_input):
    return grad_output * (relu_input > 0).to(grad_output.dtype)


def _guided_deconvnet(grad_output, relu_input):
    return grad_output.clamp(min=0)


EXERCISE = Exercise(
    "05.2",
    "guided_relu_backward",
    "keep the gradient where the ReLU input was > 0 AND the gradient is > 0.",
    lambda g: [
        Case("4x5", (_randn(g, 4, 5), _randn(g, 4, 5))),
        Case("2x3x6x6", (_randn(g, 2, 3, 6, 6), _randn(g, 2, 3, 6, 6)), hidden=True),
    ],
    ref_guided_relu_backward,
    kit=(guided_backprop.guided_backprop,),
    mistakes=(
        _m("plain ReLU backward", "Guided backprop also zeroes negative gradients: clamp(min=0).", _guided_plain_relu),
        _m(
            "deconvnet rule (forward mask ignored)",
            "Also zero the gradient where the ReLU's input was <= 0.",
            _guided_deconvnet,
        ),
    ),
)

r"""The one relative error every graded check reports (CS231n's ``rel_error``, made scale-aware).

CS231n's assignments compare an answer ``x`` with the expected ``y`` by

.. math::  \operatorname{rel\_error}(x, y) = \max_i \frac{|x_i - y_i|}{\max(10^{-8},\ |x_i| + |y_i|)} .

The kit uses the same formula with one change: the floor of the denominator is
``1e-2 · max|y|`` instead of ``1e-8``. Entries a hundred times smaller than the largest one are then
judged on the scale of the whole output, so float32 round-off on a value that should be exactly 0
(a saliency map is full of them) is not reported as a 100 % error. An answer passes when its
relative error is at most the exercise's tolerance (``1e-3`` unless the exercise says otherwise;
float32 round-off against the float64 references stays below ``1e-5``, a classic mistake is above ``1e-2``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..core.i18n import _

FLOOR = 1e-2  # fraction of max|expected| below which entries are compared on the output's scale


def as_array(value: Any) -> np.ndarray:
    """A tensor, array, number or nested list as a float64 NumPy array (detached, on the CPU)."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().to(torch.float64).numpy()
    return np.asarray(value, dtype=np.float64)


def rel_error(x: Any, y: Any) -> float:
    """Relative error of ``x`` against the expected ``y`` (see the module docstring); 0 for empty arrays.

    Example:
        >>> rel_error(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.002]))  # doctest: +ELLIPSIS
        0.000499...
    """
    a, b = as_array(x), as_array(y)
    if a.shape != b.shape:
        raise ValueError(f"cannot compare shapes {a.shape} and {b.shape}")
    if a.size == 0:
        return 0.0
    if not np.isfinite(a).all():
        return float("inf")
    floor = max(1e-8, FLOOR * float(np.abs(b).max()))
    return float((np.abs(a - b) / np.maximum(floor, np.abs(a) + np.abs(b))).max())


# --------------------------------------------------------------------------------------------
# whole outputs (tensors, arrays, numbers, tuples, dicts) and what to say when they differ
# --------------------------------------------------------------------------------------------


def _flatten(value: Any, path: str = "output") -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [item for k, v in value.items() for item in _flatten(v, f"{path}[{k!r}]")]
    if isinstance(value, (tuple, list)) and value and not all(isinstance(v, (int, float, bool)) for v in value):
        return [item for i, v in enumerate(value) for item in _flatten(v, f"{path}[{i}]")]
    return [(path, value)]


def _structure(value: Any) -> Any:
    if isinstance(value, dict):
        return ("dict", tuple(value))
    if isinstance(value, (tuple, list)) and value and not all(isinstance(v, (int, float, bool)) for v in value):
        return ("seq", len(value))
    return "leaf"


def describe(value: Any) -> str:
    """A value in a few words: ``"a tensor of shape (2, 3)"``."""
    if isinstance(value, torch.Tensor):
        return _("a tensor of shape {shape}").format(shape=tuple(value.shape))
    if isinstance(value, np.ndarray):
        return _("an array of shape {shape}").format(shape=value.shape)
    if isinstance(value, dict):
        return _("a dict with keys {keys}").format(keys=list(value))
    if isinstance(value, (list, tuple)):
        return _("a {kind} of {n}").format(kind=type(value).__name__, n=len(value))
    return f"{type(value).__name__} {value!r}"[:80]


def compare(got: Any, expected: Any, tol: float, exact: bool) -> tuple[float, str]:
    """``(error, where)``: the worst :func:`rel_error` over the output's parts and the part it is in
    (``"output[1]"``); ``inf`` and a sentence saying so when the structure or a shape differs."""
    if _structure(got) != _structure(expected):
        return float("inf"), _("returned {got}, expected {expected}").format(got=describe(got), expected=describe(expected))
    worst, where = 0.0, ""
    for (path, g), (_same_path, e) in zip(_flatten(got), _flatten(expected)):
        if isinstance(e, dict) or isinstance(g, dict):
            if list(g) != list(e):
                return float("inf"), _("{path} has keys {got}, expected {expected}").format(
                    path=path, got=list(g), expected=list(e)
                )
            continue
        try:
            ga, ea = as_array(g), as_array(e)
        except (TypeError, ValueError):
            return float("inf"), _("{path} is {got}, expected {expected}").format(
                path=path, got=describe(g), expected=describe(e)
            )
        if ga.shape != ea.shape:
            hint = shape_hint(ga.shape, ea.shape)
            message = _("{path} has shape {got}, expected {expected}{hint}")
            return float("inf"), message.format(path=path, got=tuple(ga.shape), expected=tuple(ea.shape), hint=hint)
        err = float(not np.array_equal(ga, ea)) if exact else rel_error(ga, ea)
        if err > worst:
            worst, where = err, path
    return worst, where


def shape_hint(got: tuple[int, ...], expected: tuple[int, ...]) -> str:
    """Which dimension is missing, extra, of another size or out of order (``""`` when nothing simple fits)."""
    got, expected = tuple(got), tuple(expected)
    for i in range(len(expected)):
        if len(got) + 1 == len(expected) and expected[:i] + expected[i + 1 :] == got:
            return _(": dimension {i} (size {size}) is missing (reduced or indexed away?)").format(i=i, size=expected[i])
    for i in range(len(got)):
        if len(got) == len(expected) + 1 and got[:i] + got[i + 1 :] == expected:
            return _(": an extra dimension {i} of size {size} (keepdim=True, or a batch dimension left in?)").format(
                i=i, size=got[i]
            )
    if len(got) == len(expected):
        if sorted(got) == sorted(expected):
            return _(": the same sizes in another order (a permute / transpose?)")
        dims = _("dimension {i} is {got}, expected {expected}")
        diff = [dims.format(i=i, got=g, expected=e) for i, (g, e) in enumerate(zip(got, expected)) if g != e]
        return _(": {differences}").format(differences=_(", ").join(diff))
    return ""


def _leaf(value: Any, where: str) -> Any:
    return next((v for p, v in _flatten(value) if p == where), None)


def explain(got: Any, expected: Any, err: float, where: str, tol: float, exact: bool) -> str:
    """What a student can act on when an output is wrong: where it differs, by how much, in which direction.

    Example: ``"output is wrong: 24 of 24 entries differ, the first at index (0, 0): yours 0.5,
    expected 0.125; your values are 4× the expected ones everywhere (a missing normalisation?)."``
    """
    g, e = _leaf(got, where), _leaf(expected, where)
    if g is None or e is None:
        return _("{sentence}.").format(sentence=where)  # a structure or shape mismatch: `where` is the sentence
    ga, ea = as_array(g), as_array(e)
    if not np.isfinite(ga).all():
        bad = np.argwhere(~np.isfinite(ga))[0]
        index = tuple(int(i) for i in bad)
        return _("{where} contains NaN or inf (first at index {index}): a division by zero or a log of 0?").format(
            where=where, index=index
        )
    floor = max(1e-8, FLOOR * float(np.abs(ea).max(initial=0.0)))
    wrong = (ga != ea) if exact else (np.abs(ga - ea) / np.maximum(floor, np.abs(ga) + np.abs(ea)) > tol)
    first = tuple(int(i) for i in np.argwhere(wrong)[0]) if wrong.any() else ()
    msg = _("{where} is wrong: {n} of {size} entries differ").format(where=where, n=int(wrong.sum()), size=wrong.size)
    if first or wrong.ndim == 0:
        msg += _(", the first at index {index}: yours {yours:.4g}, expected {expected:.4g}").format(
            index=first, yours=ga[first], expected=ea[first]
        )
    if not exact:
        msg += _(" (relative error {err:.1e}, tolerance {tol:.0e})").format(err=err, tol=tol)
    return _("{sentence}.").format(sentence=msg + _pattern(ga, ea, floor))


def _pattern(ga: np.ndarray, ea: np.ndarray, floor: float) -> str:
    """A simple relation between the two outputs: a constant factor, a flipped sign, a constant offset."""
    big = np.abs(ea) > floor
    if big.sum() >= 1:
        ratio = ga[big] / ea[big]
        r = float(np.median(ratio))
        if np.allclose(ratio, r, rtol=1e-3, atol=0) and abs(r) > 1e-6:
            if np.isclose(r, -1.0, rtol=1e-3):
                return _("; the sign is flipped everywhere (ascent instead of descent, or a - b instead of b - a?)")
            side = _("a missing normalisation?") if abs(r) > 1 else _("an extra division?")
            flip = _(", with the sign flipped") if r < 0 else ""
            return _("; your values are {factor:.4g}× the expected ones everywhere{flip} ({side})").format(
                factor=abs(r), flip=flip, side=side
            )
    offset = ga - ea
    if ga.size > 1 and np.allclose(offset, offset.flat[0], rtol=0, atol=1e-3 * floor / FLOOR):
        return _("; your values are the expected ones plus a constant {offset:.4g} everywhere").format(
            offset=float(offset.flat[0])
        )
    if ga.size > 1 and (np.sign(ga) == np.sign(ea)).mean() < 0.2 and (np.abs(ea) > floor).any():
        return _("; most entries have the opposite sign")
    return ""

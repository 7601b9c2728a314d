"""The grader: answers run in a fresh child process on inputs drawn now; the kit, other libraries and the
grader's files are out of reach; catalogued mistakes are named; the solution notebooks' answers pass.

(The whole nbgrader flow with every trick of issue #19: tests/test_nbgrader_flow.py.)
"""

from __future__ import annotations

import inspect
from pathlib import Path

import nbformat
import pytest
import torch

from cnnviz_helpers import texture_synthesis
from cnnviz_helpers.core import regularizers
from cnnviz_helpers.core.i18n import _, english
from cnnviz_helpers.grading.grader.autograde import tasks
from cnnviz_helpers.grading.grader.exercises import EXERCISES
from cnnviz_helpers.grading.grader.sandbox import Sandbox, draw, grade_answer, notebook_imports, verdict
from cnnviz_helpers.grading.grader.tamper import scan
from cnnviz_helpers.grading.runner import grade, kit_name, load_reference, loaded

ROOT = Path(__file__).resolve().parents[1]
KEYS = sorted(EXERCISES)
VALUE_MISTAKES = [(key, m) for key in KEYS for m in EXERCISES[key].mistakes if m.detector == "value"]
BEHAVIOUR_MISTAKES = [(key, m) for key in KEYS for m in EXERCISES[key].mistakes if m.detector != "value"]
SAYS = {"inplace": "modified its input in place", "model": "left the model changed", "nograd": "no gradient", "error": "✗"}
PREAMBLE = [
    "import torch",
    "from cnnviz_helpers.core.regularizers import tv_loss",
    "from cnnviz_helpers.style_transfer import style_loss",
]
HONEST_TV = """def my_tv(x, beta=2.0, eps=1e-8):
    dv = torch.zeros_like(x)
    dh = torch.zeros_like(x)
    dv[..., :-1, :] = x[..., 1:, :] - x[..., :-1, :]
    dh[..., :, :-1] = x[..., :, 1:] - x[..., :, :-1]
    squared = dv**2 + dh**2
    return squared.sum() if beta == 2 else (squared + eps).pow(beta / 2).sum()"""


@pytest.fixture(scope="module")
def box():
    with Sandbox() as sandbox:
        yield sandbox


def _fresh(args):
    if isinstance(args, torch.Tensor):
        return args.clone()
    if isinstance(args, (list, tuple)):
        return type(args)(_fresh(a) for a in args)
    return args


@pytest.mark.parametrize("key, mistake", VALUE_MISTAKES, ids=[f"{k}-{m.name}" for k, m in VALUE_MISTAKES])
def test_each_catalogued_mistake_is_named(key, mistake):
    """The grader's comparison, fed the mistake's float32 outputs as the child would return them."""
    ex = EXERCISES[key]
    d = draw(ex, seed=7)  # drawn afresh: a run of one mistake must not change the cases another is compared on
    got = [{"output": ex.run(mistake.answer, _fresh(args))} for args in d.inputs32]
    v = verdict(ex, d, got)
    assert not v.passed and v.mistake == mistake.name and mistake.name in v.message, v.message


@pytest.mark.parametrize("key, mistake", BEHAVIOUR_MISTAKES, ids=[f"{k}-{m.name}" for k, m in BEHAVIOUR_MISTAKES])
def test_each_catalogued_behaviour_mistake_fails_the_self_check(key, mistake):
    """A mistake seen in what the answer does (an input changed in place, a hook left on the model, a loss
    without gradient) fails on the stored cases, and the feedback says which."""
    result = grade(key, mistake.answer)
    assert not result.passed and SAYS[mistake.detector] in result.message, result.message


@pytest.mark.parametrize("key", KEYS)
def test_reference_passes_on_fresh_draws(key):
    ex = EXERCISES[key]
    for seed in (1, 2):
        d = draw(ex, seed)
        v = verdict(ex, d, [{"output": ex.run(ex.reference, _fresh(args))} for args in d.inputs32])
        assert v.passed, v.message


def test_honest_answer_passes_in_the_child(box):
    v = grade_answer(box, EXERCISES["09.1"], [HONEST_TV], PREAMBLE, seed=3)
    assert v.passed and v.score == 1.0 and not v.flags, v.message


def test_inputs_are_drawn_from_the_seed():
    ex = EXERCISES["09.1"]
    a, b, c = draw(ex, 1), draw(ex, 1), draw(ex, 2)
    assert all(torch.equal(x[0], y[0]) for x, y in zip(a.inputs32, b.inputs32))
    assert not torch.equal(a.inputs32[0][0], c.inputs32[0][0])


TRICKS = {
    "a call of the kit": ("def my_tv(x, beta=2.0, eps=1e-8):\n    return tv_loss(x, beta, eps)", "called the kit's"),
    "the kit through sys.modules": (
        "import sys\ndef my_tv(x, beta=2.0, eps=1e-8):\n"
        "    return sys.modules['cnnviz_helpers.core.regularizers'].tv_loss(x, beta, eps)",
        "called the kit's",
    ),
    "a reloaded kit": (
        "import importlib\nimport cnnviz_helpers.core.regularizers as r\nmy_tv = importlib.reload(r).tv_loss",
        "executed the kit's",
    ),
    "a copy of the kit's source": (
        "import ast, importlib.util\nimport torch.nn.functional as F\n"
        "path = importlib.util.find_spec('cnnviz_helpers.core.regularizers').origin\n"
        "tree = ast.parse(open(path).read())\n"
        "node = next(n for n in tree.body if getattr(n, 'name', '') == 'tv_loss')\n"
        "node.name = 'my_tv'\nexec(compile(ast.Module([node], []), 'copy', 'exec'))",
        "executed a copy of the kit's",
    ),
    "a restored __code__": (
        "import cnnviz_helpers.core.regularizers as r\nc = r.tv_loss.__code__\n"
        "def my_tv(x, beta=2.0, eps=1e-8):\n    pass\nmy_tv.__code__ = c",
        "__code__",
    ),
    "captum": ("def my_tv(x, beta=2.0, eps=1e-8):\n    from captum.attr import Saliency\n    return 0", "imported captum"),
    "the grading package": (
        "from cnnviz_helpers.grading.grader.exercises.ex_09_1 import ref_tv as my_tv",
        "imported cnnviz_helpers.grading",
    ),
    "the stored references": (
        "import os, torch, cnnviz_helpers\n"
        "p = os.path.join(os.path.dirname(cnnviz_helpers.__file__), 'grading', 'references', '09.1.pt')\n"
        "def my_tv(x, beta=2.0, eps=1e-8):\n    return torch.load(p)['cases'][0]['expected']",
        "read the grader's file",
    ),
    "a thread": (
        "import importlib, threading\nimport cnnviz_helpers.core.regularizers as r\nkit = importlib.reload(r).tv_loss\n"
        "def my_tv(x, beta=2.0, eps=1e-8):\n    out = []\n    t = threading.Thread(target=lambda: out.append(kit(x, beta, eps)))\n"
        "    t.start()\n    t.join()\n    return out[0]",
        "executed the kit's",
    ),
    "switching tracing off": (
        "import sys\ndef my_tv(x, beta=2.0, eps=1e-8):\n    sys.setprofile(None)\n    return 0",
        "sys.setprofile",
    ),
}


@pytest.mark.parametrize("trick", sorted(TRICKS))
def test_each_trick_scores_zero_with_its_reason(box, trick):
    source, reason = TRICKS[trick]
    v = grade_answer(box, EXERCISES["09.1"], [source], PREAMBLE, seed=5)
    assert v.score == 0.0 and any(reason in f for f in v.flags), (v.message, v.flags)


def test_the_kits_private_helper_is_blocked_code(box):
    """clip_small_norm is _zero_below_percentile of the colour norm: running that private helper is the kit's code."""
    source = (
        "from cnnviz_helpers.core.regularizers import _zero_below_percentile\n"
        "def my_clip_small_norm(x, percentile):\n    return _zero_below_percentile(x, x.norm(dim=1), percentile) if percentile else x"
    )
    v = grade_answer(box, EXERCISES["06.2"], [source], [], seed=5)
    assert v.score == 0.0 and any("executed the kit's cnnviz_helpers.core.regularizers:clip_small_norm" in f for f in v.flags), (
        v.flags
    )


def test_the_helper_the_blocked_function_is_built_on_is_blocked_too(box):
    """style_loss is the sum of texture_synthesis.gram_losses: calling that helper is not the student's code."""
    source = (
        "from cnnviz_helpers.texture_synthesis import gram_losses\n"
        "def my_style_loss(features, targets, weights):\n    return sum(gram_losses(features, targets, weights, True))"
    )
    v = grade_answer(box, EXERCISES["10.2"], [source], PREAMBLE, seed=5)
    assert v.score == 0.0 and any("cnnviz_helpers.texture_synthesis:gram_losses" in f for f in v.flags), v.flags


def test_a_runaway_that_swallows_interrupts_is_killed_and_the_next_exercise_graded(box, monkeypatch):
    import cnnviz_helpers.grading.grader.sandbox as sandbox

    monkeypatch.setattr(sandbox, "LIMIT_FLOOR_S", 2.0)
    loop = "def my_tv(x, beta=2.0, eps=1e-8):\n    while True:\n        try:\n            pass\n        except KeyboardInterrupt:\n            pass"
    v = grade_answer(box, EXERCISES["09.1"], [loop], PREAMBLE, seed=5)
    assert v.score == 0.0 and "stopped after 2 s" in v.message
    assert grade_answer(box, EXERCISES["09.1"], [HONEST_TV], PREAMBLE, seed=5).passed


@pytest.mark.parametrize(
    "source, detector",
    [
        ("def my_tv(x, beta=2.0, eps=1e-8):\n    x.mul_(1)\n    x[0, 0, 0, 0] = 7\n    return x.sum()", "in place"),
        (
            "def my_inversion_loss(features, target, image, tv_weight):\n    return float((features - target).pow(2).sum())",
            "no gradient",
        ),
    ],
)
def test_behavioural_mistakes_are_seen_in_the_child(box, source, detector):
    key = "09.1" if "my_tv" in source else "09.2"
    v = grade_answer(box, EXERCISES[key], [source], PREAMBLE, seed=5)
    assert not v.passed and detector in v.message, v.message


def test_wrong_answer_feedback_says_how_it_differs(box):
    source = "def my_tv(x, beta=2.0, eps=1e-8):\n    return 4 * ((x[..., 1:, :] - x[..., :-1, :])**2).sum() + 4 * ((x[..., :, 1:] - x[..., :, :-1])**2).sum()"
    v = grade_answer(box, EXERCISES["09.1"], [source], PREAMBLE, seed=5)
    assert not v.passed and "4× the expected ones everywhere" in v.message, v.message


@pytest.mark.parametrize(
    "source, reason",
    [
        ("import sys\nsys.stderr = sys.stdout", "replaced sys.stderr"),
        ("from cnnviz_helpers.grading import runner\nrunner.grade = lambda *a: None", "changed runner.grade"),
        ("check = lambda *a: print('ok')", "redefined the grading function check"),
        ("SAVED = tv_loss.__code__", "used a function's __code__"),
        ("import inspect\nexec(inspect.getsource(tv_loss))", "ran or read code at run time (exec)"),
    ],
)
def test_tampering_is_read_from_the_source(source, reason):
    assert reason in [english(r) for r in scan(source)]


def test_honest_answers_raise_no_flag():
    """Every answer cell of the solution notebooks reads as honest (the instructor's own cells are not scanned)."""
    for path in sorted((ROOT / "solutions").glob("[0-9]*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution"):
                assert scan(cell.source) == [], (path.name, cell.source[:200])


SOLUTIONS = sorted((ROOT / "solutions").glob("[0-9]*.ipynb"))


@pytest.mark.slow
def test_every_solution_notebook_answer_passes_the_grader(box):
    """The three copies of an answer (the exercise's reference, the kit, the solution notebook) cannot drift
    apart: each solution cell, run as a student's answer, passes the grader with no flag."""
    graded = set()
    for path in SOLUTIONS:
        nb = nbformat.read(path, as_version=4)
        by_id = {c.metadata["nbgrader"]["grade_id"]: c.source for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id")}
        preamble = notebook_imports([c.source for c in nb.cells if c.cell_type == "code" and "nbgrader" not in c.metadata])
        for task in tasks(nb):
            cells = [_without_markers(by_id[gid]) for gid in task.answer_ids]
            v = grade_answer(box, EXERCISES[task.key], cells, preamble, seed=11)
            assert v.score == 1.0, (path.name, v.message)
            graded.add(task.key)
    assert graded == set(EXERCISES)


@pytest.mark.parametrize("key, kit", [("10.1", texture_synthesis.gram_matrix), ("09.1", regularizers.tv_loss)])
def test_the_kits_own_source_written_in_the_answer_cell_passes(box, key, kit):
    """A student who types the kit's function (here: pasted, renamed) into the answer cell wrote code of their
    own as far as the grader can tell; it passes (a copy made at run time does not)."""
    source = inspect.getsource(kit).replace(f"def {kit.__name__}(", f"def {EXERCISES[key].function}(", 1)
    imports = (
        "import torch\nimport torch.nn.functional as F\nfrom typing import Literal, Union\nNormalization = Union[bool, str]\n"
    )
    v = grade_answer(box, EXERCISES[key], [imports + source], PREAMBLE, seed=13)
    assert v.score == 1.0, v.message


def _without_markers(source: str) -> str:
    return "\n".join(line for line in source.split("\n") if "### BEGIN SOLUTION" not in line and "### END SOLUTION" not in line)


@pytest.mark.parametrize("key", KEYS)
def test_the_self_check_finds_every_blocked_and_lent_function_by_its_stored_name(key):
    """The self-check knows the kit functions only by the ``"module:qualname"`` stored in its settings: each
    name must lead back to the very function of the exercise file, or the self-check would silently stop
    blocking it (a function defined under another name, a wrapper without ``functools.wraps``)."""
    ex = EXERCISES[key]
    stored = load_reference(key)["settings"]
    assert stored["kit"] == [kit_name(fn) for fn in ex.kit]
    for fn in (*ex.kit, *ex.lends.values()):
        assert loaded(kit_name(fn)) is inspect.unwrap(fn), f"exercise {key}: {kit_name(fn)} leads elsewhere"


STYLE_OBJECTIVE = """def my_style_objective(model, img, content_layer, content_target, style_layers, style_targets, weights):
    feats = layer_features(model, img, [content_layer, *style_layers])
    style = sum(w * (gram_matrix(f) - a).pow(2).sum() for f, a, w in zip(feats[1:], style_targets, weights[1]))
    return {"content": my_content_loss(feats[0], content_target, weights[0]), "style": style, "tv": weights[2] * tv_loss(img)}"""


def test_a_dict_of_loss_terms_needs_a_gradient_in_every_term(box):
    """11.3 returns its terms as a dict: the honest one passes in the child; one detached term is the no-gradient mistake."""
    preamble = PREAMBLE + ["from cnnviz_helpers.texture_synthesis import gram_matrix, layer_features"]
    assert grade_answer(box, EXERCISES["11.3"], [STYLE_OBJECTIVE], preamble, seed=5).passed
    detached = STYLE_OBJECTIVE.replace("weights[2] * tv_loss(img)}", "(weights[2] * tv_loss(img)).detach()}")
    v = grade_answer(box, EXERCISES["11.3"], [detached], preamble, seed=5)
    assert not v.passed and "no gradient" in v.message, v.message


#: English template words that must not be left in a Chinese verdict (identifiers, case labels and numbers may stay)
ENGLISH_WORDS = ("Exercise", "case", "points", "flagged", "Looks like", "not done", "called the kit", "your own code", "yours")


def _chinese(message: str) -> None:
    """``message`` is worded in Chinese: none of the English template's words are left in it."""
    assert "练习" in message and not [w for w in ENGLISH_WORDS if w in message], message


def test_a_catalogued_mistake_is_named_in_the_course_language(monkeypatch):
    """The graded verdict under CNNVIZ_LANG=zh: the comparison and the mistake's name and hint, translated."""
    ex = EXERCISES["04.1"]
    (mistake,) = [m for m in ex.mistakes if m.name == "softmax probability instead of the raw score"]
    d = draw(ex, seed=7)
    got = [{"output": ex.run(mistake.answer, _fresh(args))} for args in d.inputs32]
    english_message = verdict(ex, d, got).message
    monkeypatch.setenv("CNNVIZ_LANG", "zh")
    v = verdict(ex, d, got)
    looks = f"\n  看起来是：{_(mistake.name)}。{_(mistake.hint)}"
    assert v.mistake == mistake.name and v.message.endswith(looks) and _(mistake.hint) != mistake.hint, v.message
    assert english_message.endswith(f"\n  Looks like: {mistake.name}. {mistake.hint}"), english_message
    _chinese(v.message)


def test_an_unfinished_and_a_flagged_answer_are_graded_in_the_course_language(box, monkeypatch):
    monkeypatch.setenv("CNNVIZ_LANG", "zh")
    unfinished = grade_answer(
        box, EXERCISES["09.1"], ["def my_tv(x, beta=2.0, eps=1e-8):\n    raise NotImplementedError"], PREAMBLE, 5
    )
    assert unfinished.message.startswith("练习 09.1（my_tv） 尚未完成：") and unfinished.message.endswith("（0 分）")
    _chinese(unfinished.message)
    flagged = grade_answer(box, EXERCISES["09.1"], [TRICKS["a call of the kit"][0]], PREAMBLE, seed=5)
    kit = "cnnviz_helpers.core.regularizers:tv_loss"
    assert flagged.message == f"✗ 练习 09.1（my_tv）：0 分，已标记：调用了课程包的 {kit}。这个练习要求你自己写代码。", (
        flagged.message
    )
    assert flagged.flags == [f"called the kit's {kit}"]  # the instructor's report and CSV read the English
    _chinese(flagged.message)

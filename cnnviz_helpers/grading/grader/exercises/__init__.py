"""Every graded code exercise of the notebooks, one file each (the grader's, not shipped).

Each file holds one exercise: its cases (drawn from a seeded generator), its correct answer (the
``reference``, self-contained: it never calls the kit, so the kit can change without changing the
expected outputs), its catalogue of classic mistakes (real implementations, each named in the
feedback and tested) and, in ``kit=``, the kit functions it blocks (imported here like any other name).
"""

from . import (
    ex_00_1,
    ex_01_1,
    ex_01_2,
    ex_02_1,
    ex_02_2,
    ex_02_3,
    ex_03_1,
    ex_03_2,
    ex_03_3,
    ex_04_1,
    ex_04_2,
    ex_05_1,
    ex_05_2,
    ex_05_3,
    ex_05b_1,
    ex_05b_2,
    ex_05b_3,
    ex_06_1,
    ex_06_2,
    ex_07_1,
    ex_07_2,
    ex_07b_1,
    ex_08_1,
    ex_08_2,
    ex_09_1,
    ex_09_2,
    ex_10_1,
    ex_10_2,
    ex_11_1,
    ex_11_2,
    ex_12_1,
    ex_12_2,
)
from .spec import Exercise

EXERCISES: dict[str, Exercise] = {
    m.EXERCISE.key: m.EXERCISE
    for m in (
        ex_00_1,
        ex_01_1,
        ex_01_2,
        ex_02_1,
        ex_02_2,
        ex_02_3,
        ex_03_1,
        ex_03_2,
        ex_03_3,
        ex_04_1,
        ex_04_2,
        ex_05_1,
        ex_05_2,
        ex_05_3,
        ex_05b_1,
        ex_05b_2,
        ex_05b_3,
        ex_06_1,
        ex_06_2,
        ex_07_1,
        ex_07_2,
        ex_07b_1,
        ex_08_1,
        ex_08_2,
        ex_09_1,
        ex_09_2,
        ex_10_1,
        ex_10_2,
        ex_11_1,
        ex_11_2,
        ex_12_1,
        ex_12_2,
    )
}
"""Every graded exercise, by key (``"05.1"``), in notebook order."""

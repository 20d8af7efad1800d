from __future__ import annotations

import math

import pytest

from headstart.engine.schedule import lr_factor


def test_warmup_then_cosine() -> None:
    f = lr_factor("cosine", total_steps=12, warmup_steps=2)
    assert [f(0), f(1)] == pytest.approx([1 / 3, 2 / 3])
    assert f(2) == pytest.approx(1.0)
    assert f(7) == pytest.approx(0.5 * (1 + math.cos(math.pi * 5 / 10)))
    assert f(11) < 0.05


def test_linear_and_constant() -> None:
    lin = lr_factor("linear", total_steps=10, warmup_steps=0)
    assert [lin(0), lin(5)] == pytest.approx([1.0, 0.5])
    const = lr_factor("constant", total_steps=10, warmup_steps=0)
    assert {const(s) for s in range(10)} == {1.0}

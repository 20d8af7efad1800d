"""``grad_norm`` and ``clip_coefficient`` (engine/nonfinite.py) against torch's own clipping."""

from __future__ import annotations

import math

import pytest
import torch

from headstart.engine.nonfinite import clip_coefficient, grad_norm


def _params(scale: float, seed: int) -> list[torch.nn.Parameter]:
    g = torch.Generator().manual_seed(seed)
    params = [torch.nn.Parameter(torch.randn(shape, generator=g)) for shape in ((10, 32), (10,), (3, 4, 5))]
    for p in params:
        p.grad = torch.randn(p.shape, generator=g) * scale
    return params


@pytest.mark.parametrize("clip", [1.0, 0.3, 25.0])
@pytest.mark.parametrize("scale", [1e-4, 0.05, 1.0, 40.0])
def test_clipping_on_a_cpu_gives_torchs_gradients_to_the_bit(clip: float, scale: float) -> None:
    ours, theirs = _params(scale, 0), _params(scale, 0)
    norm = grad_norm(ours, clip)
    expected = torch.nn.utils.clip_grad_norm_(theirs, clip)
    assert torch.equal(norm, expected)
    for a, b in zip(ours, theirs, strict=True):
        assert a.grad is not None and b.grad is not None
        assert torch.equal(a.grad, b.grad)
    # the case split that the read coefficient allows: below the bound nothing is scaled
    assert (float(norm) + 1e-6 >= clip) == any(not torch.equal(a.grad, p.grad) for a, p in zip(ours, _params(scale, 0)))


def test_the_coefficient_is_torchs_float32_arithmetic_for_every_norm() -> None:
    g = torch.Generator().manual_seed(1)
    norms = torch.cat(
        [
            torch.rand(4000, generator=g) * 10,
            torch.rand(2000, generator=g) * 1e-3,
            torch.rand(2000, generator=g) * 1e6,
            torch.tensor([0.0, 1e-30, 3.4e38, math.inf, math.nan]),
        ]
    )
    for clip in (1.0, 0.3, 5.0, 1e-3, 123.456):
        for value in norms:
            expected = torch.clamp(clip / (value.clone() + 1e-6), max=1.0)  # a 0-dim tensor, as in a step
            got = clip_coefficient(float(value), clip)
            assert (math.isnan(got) and bool(expected.isnan())) or torch.tensor(got, dtype=torch.float32) == expected


def test_a_non_finite_norm_reaches_the_gradients_as_torch_leaves_them() -> None:
    for bad in (math.inf, math.nan):
        ours, theirs = _params(1.0, 2), _params(1.0, 2)
        for ps in (ours, theirs):
            assert ps[0].grad is not None
            ps[0].grad[0, 0] = bad
        grad_norm(ours, 1.0)
        torch.nn.utils.clip_grad_norm_(theirs, 1.0)
        for a, b in zip(ours, theirs, strict=True):
            assert a.grad is not None and b.grad is not None
            assert torch.equal(a.grad.nan_to_num(7.0), b.grad.nan_to_num(7.0))

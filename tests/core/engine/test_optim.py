"""The run's optimizer steps groups that share hyperparameters together, bit-identically to
stepping them one by one, and keeps the fixed group layout for checkpoints."""

from __future__ import annotations

import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_post_hook

from headstart.engine.optim import make_optimizer, merged_groups, step


def _groups(model: torch.nn.Module, lrs: list[float]) -> list[dict]:  # type: ignore[type-arg]
    params = list(model.parameters())
    return [
        {"name": f"g{i}", "params": [p], "lr": lr, "base_lr": lr, "weight_decay": 0.01 if p.ndim > 1 else 0.0}
        for i, (p, lr) in enumerate(zip(params, lrs, strict=True))
    ]


def _model(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))


@pytest.mark.parametrize("name", ["adamw", "sgd"])
def test_merged_step_is_bit_identical_to_group_by_group(name: str) -> None:
    lrs = [1e-2, 1e-2, 1e-2, 5e-3]  # three groups share a rate, the last differs
    ours_model, ref_model = _model(0), _model(0)
    ours = make_optimizer(_groups(ours_model, lrs), name, torch.device("cpu"))
    ref_cls = torch.optim.SGD if name == "sgd" else torch.optim.AdamW
    kwargs = {"momentum": 0.9} if name == "sgd" else {}
    ref = ref_cls(_groups(ref_model, lrs), lr=0.0, fused=True, **kwargs)  # type: ignore[arg-type]
    x = torch.randn(32, 8)
    for _ in range(3):
        for model, opt in ((ours_model, ours), (ref_model, ref)):
            model(x).square().mean().backward()
            opt.step()
            opt.zero_grad()
    for a, b in zip(ours_model.parameters(), ref_model.parameters(), strict=True):
        assert torch.equal(a, b)
    assert [g["name"] for g in ours.param_groups] == ["g0", "g1", "g2", "g3"]  # the layout is back
    saved = ours.state_dict()
    assert len(saved["param_groups"]) == 4 and sorted(saved["state"]) == [0, 1, 2, 3]
    ref_state = ref.state_dict()
    for i in range(4):
        for k, v in saved["state"][i].items():
            assert torch.equal(v, ref_state["state"][i][k]), (i, k)


def test_only_groups_with_equal_hyperparameters_merge() -> None:
    model = _model(0)
    groups = _groups(model, [1e-2, 1e-2, 1e-2, 5e-3])
    merged = merged_groups(groups)
    # parameters w0 b0 w1 b1: the weights share lr and decay; b0 and b1 differ in lr
    assert [len(g["params"]) for g in merged] == [2, 1, 1]
    assert merged[0]["params"] == [groups[0]["params"][0], groups[2]["params"][0]]
    assert all(len(g["params"]) == 1 for g in groups)  # the layout itself is untouched


def test_after_the_first_step_adamw_runs_the_fused_kernel_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    """Once every parameter has its state, a plain fused AdamW step never goes through
    ``torch.optim.AdamW.step`` (the kernel is called directly), and stays bit-identical to it."""
    lrs = [1e-2, 1e-2, 1e-2, 5e-3]
    ours_model, ref_model = _model(0), _model(0)
    ours = make_optimizer(_groups(ours_model, lrs), "adamw", torch.device("cpu"))
    ref = torch.optim.AdamW(_groups(ref_model, lrs), lr=0.0, fused=True)  # type: ignore[arg-type]
    x = torch.randn(32, 8)

    def train(model: torch.nn.Module, opt: torch.optim.Optimizer) -> None:
        model(x).square().mean().backward()
        opt.step()
        opt.zero_grad()

    train(ours_model, ours)  # the first step creates the state: torch's own path
    train(ref_model, ref)
    original = torch.optim.AdamW.step
    monkeypatch.setattr(torch.optim.AdamW, "step", lambda *a, **k: pytest.fail("torch's step ran"))
    for _ in range(4):
        train(ours_model, ours)
    monkeypatch.setattr(torch.optim.AdamW, "step", original)
    for _ in range(4):
        train(ref_model, ref)
    for a, b in zip(ours_model.parameters(), ref_model.parameters(), strict=True):
        assert torch.equal(a, b)


def test_stepping_only_looks_at_the_given_parameters() -> None:
    from headstart.engine.optim import stepping_only

    model = _model(0)
    opt = make_optimizer(_groups(model, [1e-2] * 4), "adamw", torch.device("cpu"))
    first, *rest = list(model.parameters())
    before = [p.detach().clone() for p in model.parameters()]
    for p in model.parameters():
        p.grad = torch.ones_like(p)
    with stepping_only(opt, rest):  # the first parameter is frozen: its stray gradient is not read
        opt.step()
    assert torch.equal(first, before[0]) and 0 not in opt.state_dict()["state"]
    assert all(not torch.equal(p, b) for p, b in zip(rest, before[1:], strict=True))
    assert opt._only is None  # the block's end restores the full walk
    opt.step()
    assert not torch.equal(first, before[0])


@pytest.mark.parametrize("name", ["adamw", "sgd"])
def test_step_leaves_out_torchs_wrapper_only_while_nothing_listens(name: str) -> None:
    lrs = [1e-2] * 4
    direct_model, wrapped_model = _model(0), _model(0)
    direct = make_optimizer(_groups(direct_model, lrs), name, torch.device("cpu"))
    wrapped = make_optimizer(_groups(wrapped_model, lrs), name, torch.device("cpu"))
    x = torch.randn(32, 8)
    for _ in range(3):
        for model, do in ((direct_model, lambda: step(direct)), (wrapped_model, wrapped.step)):
            model(x).square().mean().backward()
            do()
            model.zero_grad()
    for a, b in zip(direct_model.parameters(), wrapped_model.parameters(), strict=True):
        assert torch.equal(a, b)  # the same step either way

    heard: list[str] = []
    handles = [
        direct.register_step_pre_hook(lambda *_: heard.append("pre")),
        direct.register_step_post_hook(lambda *_: heard.append("post")),
        register_optimizer_step_post_hook(lambda *_: heard.append("global")),
    ]
    try:
        direct_model(x).square().mean().backward()
        step(direct)
    finally:
        for h in handles:
            h.remove()
    assert heard == ["pre", "post", "global"]  # hooks: the optimizer's own step, which calls them

    direct_model(x).square().mean().backward()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        step(direct)
    assert any(e.name.startswith("Optimizer.step#") for e in prof.events())  # a profiler sees the step

import pytest
import torch

from ddpg.fast.adam import FusedAdam


@pytest.mark.parametrize("weight_decay", [0.0, 1e-2])
@pytest.mark.parametrize("fused", [True, False])
def test_matches_torch_adam(weight_decay, fused):
    torch.manual_seed(0)
    ours = [torch.randn(5, 3, requires_grad=True), torch.randn(3, requires_grad=True)]
    ref = [p.detach().clone().requires_grad_(True) for p in ours]
    opt = FusedAdam(ours, lr=1e-2, weight_decay=weight_decay)
    opt._fused = fused
    ref_opt = torch.optim.Adam(ref, lr=1e-2, weight_decay=weight_decay)
    for i in range(10):
        for params, o in ((ours, opt), (ref, ref_opt)):
            o.zero_grad()
            loss = (params[0].sum(0) * params[1]).pow(2).sum() + i * params[1].sum()
            loss.backward()
            o.step()
    for a, b in zip(ours, ref):
        assert torch.allclose(a, b, atol=1e-6)


@pytest.mark.parametrize("strided", ["param", "grad"])
def test_strided_tensors_get_the_same_steps(strided):
    """torch's fused kernel walks each tensor's memory in storage order: a transposed parameter
    with a contiguous gradient, or a transposed gradient of a contiguous one, stepped by
    it ends about 6e-3 away after three steps. FusedAdam must step them as contiguous ones."""
    torch.manual_seed(0)
    base = torch.randn(30, 20)
    p_ref = base.t().contiguous()
    p = base.clone().t() if strided == "param" else base.t().contiguous()  # (20, 30) both
    assert p.is_contiguous() == (strided == "grad")
    grads = [torch.randn(30, 20) for _ in range(3)]
    ours, ref = FusedAdam([p], lr=1e-2), FusedAdam([p_ref], lr=1e-2)
    for g in grads:
        ours.step([g.t().contiguous() if strided == "param" else g.t()])
        ref.step([g.t().contiguous()])
    assert torch.allclose(p, p_ref, rtol=0, atol=2e-6)  # the two paths round differently


def test_state_round_trip_and_errors():
    p = [torch.randn(4, requires_grad=True)]
    opt = FusedAdam(p)
    with pytest.raises(RuntimeError, match="before backward"):
        opt.step()
    p[0].sum().backward()
    opt.step()
    other = FusedAdam([torch.randn(4, requires_grad=True)])
    other.load_state_dict(opt.state_dict())
    assert torch.equal(other.exp_avg[0], opt.exp_avg[0]) and other.steps[0].item() == 1
    with pytest.raises(ValueError, match="does not fit"):
        FusedAdam([torch.randn(5, requires_grad=True)]).load_state_dict(opt.state_dict())


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("lrs", [(1e-2, 1e-2, 1e-2), (1e-2, 3e-3, 1e-2)])
def test_a_stacked_adam_steps_each_member_as_its_own(fused, lrs):
    """FusedAdam.stacked over three members' stacked parameters (equal learning rates: one
    call; two groups: a call per group) leaves every member where its own FusedAdam does, and
    each member's optimizer holds its slice of the stacked state."""
    from ddpg.fast.mlp import stack_params

    torch.manual_seed(0)
    members = [[torch.randn(4, 3), torch.randn(3)] for _ in lrs]
    alone = [[p.clone() for p in ps] for ps in members]
    alone_opts = [FusedAdam(ps, lr=lr) for ps, lr in zip(alone, lrs)]
    opts = [FusedAdam(ps, lr=lr) for ps, lr in zip(members, lrs)]
    stacked = stack_params(members)
    together = FusedAdam.stacked(stacked, opts)
    together._fused = fused
    for i in range(5):
        grads = [torch.randn(len(lrs), 4, 3), torch.randn(len(lrs), 3)]
        together.step(grads)
        for m, o in enumerate(alone_opts):
            o.step([g[m] for g in grads])
    for m, o in enumerate(opts):
        assert all(torch.allclose(s[m], a, atol=1e-7) for s, a in zip(stacked, alone[m]))
        assert all(torch.equal(s[m], p) for s, p in zip(stacked, members[m]))
        assert o.state_dict()["steps"][0].item() == 5
        assert torch.allclose(o.state_dict()["exp_avg"][0], alone_opts[m].exp_avg[0])
    with pytest.raises(TypeError, match="save each member"):
        together.state_dict()

"""LIF neuron: threshold, hard reset, leak, multi-step == single step, surrogate gradient."""
import torch

from edgeformer.models.lif import LIF, Spike, spike


def _run(lif: LIF, xs):
    """Feed a 1-channel sequence one step at a time; return (spikes, membranes) as lists."""
    v = torch.zeros(1, 1)
    s = torch.zeros(1, 1)
    spikes, vs = [], []
    for x in xs:
        s, v = lif.step(torch.tensor([[x]]), v, s)
        spikes.append(s.item())
        vs.append(v.item())
    return spikes, vs


def test_no_spike_below_threshold():
    # Constant 0.4 with leak 0.5 converges to 0.8 < 1: never fires.
    spikes, vs = _run(LIF(1, threshold=1.0, leak=0.5), [0.4] * 20)
    assert spikes == [0.0] * 20
    for got, want in zip(vs, [0.4, 0.6, 0.7, 0.75]):
        assert abs(got - want) < 1e-6
    assert max(vs) < 0.8


def test_threshold_is_strict():
    spikes, _ = _run(LIF(1, threshold=1.0, leak=0.5), [1.0])
    assert spikes == [0.0]


def test_leak_decay():
    spikes, vs = _run(LIF(1, threshold=1.0, leak=0.75), [0.8, 0.0, 0.0, 0.0])
    assert spikes == [0.0] * 4
    for t, v in enumerate(vs):
        assert abs(v - 0.8 * 0.75 ** t) < 1e-6, f"at t={t}: got v={v}, want {0.8 * 0.75 ** t}"


def test_hard_reset_after_spike():
    spikes, vs = _run(LIF(1, threshold=1.0, leak=0.9), [1.5, 0.3, 0.0])
    assert spikes == [1.0, 0.0, 0.0]
    assert abs(vs[1] - 0.3) < 1e-7  # the 1.5 was wiped out by the reset, only the new input remains
    assert abs(vs[2] - 0.27) < 1e-6


def test_multi_step_equals_repeated_single_step():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 40, 5, generator=g) * 1.5
    lif = LIF(5, threshold=0.7, leak=0.6)
    multi = lif(x)
    v = torch.zeros(3, 5)
    s = torch.zeros(3, 5)
    for t in range(40):
        s, v = lif.step(x[:, t], v, s)
        assert torch.equal(multi[:, t], s), f"step {t} differs"
    assert 0 < multi.mean() < 1  # the comparison saw both spikes and silence


def test_surrogate_gradient_peaks_at_threshold():
    x = torch.tensor([0.0, 0.9, 1.0, 1.1, 3.0], requires_grad=True)
    s = spike(x, 1.0)
    assert s.tolist() == [0.0, 0.0, 0.0, 1.0, 1.0]
    s.sum().backward()
    g = x.grad
    assert g[2] == g.max() and g[2] > 0
    assert g[0] < g[1] and g[4] < g[3]


def test_stateless_spike_module():
    x = torch.linspace(-2, 2, 41)
    assert torch.equal(Spike(0.5)(x), (x > 0.5).float())


def test_lif_trains_through_time():
    torch.manual_seed(0)
    lin = torch.nn.Linear(4, 4)
    lif = LIF(4, threshold=1.0, leak=0.5)
    x = torch.randn(2, 10, 4)
    lif(lin(x) * 3).sum().backward()
    assert lin.weight.grad.abs().sum() > 0

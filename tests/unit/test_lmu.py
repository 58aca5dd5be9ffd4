"""LMU memory: state space, discretisation, delay decoding, parallel == streaming."""
import numpy as np
import pytest
import scipy.signal
import torch
from numpy.polynomial import legendre

from edgeformer.errors import UserError
from edgeformer.models.lmu import LMU, discretise_zoh, impulse_response, legendre_state_space

torch.set_num_threads(1)


def test_state_space_matches_hand_values():
    theta = 4.0
    a, b = legendre_state_space(2, theta)
    # A[i,j] = (2i+1)/theta * (-1 if i<j else (-1)^(i-j+1)); B[i] = (2i+1)(-1)^i/theta
    np.testing.assert_array_equal(a, np.array([[-1.0, -1.0], [3.0, -3.0]]) / theta)
    np.testing.assert_array_equal(b, np.array([1.0, -3.0]) / theta)


def test_zoh_matches_scipy_signal():
    a, b = legendre_state_space(6, 10.0)
    ad, bd = discretise_zoh(a, b)
    ad2, bd2, *_ = scipy.signal.cont2discrete((a, b[:, None], np.eye(6), np.zeros((6, 1))), 1.0, method="zoh")
    np.testing.assert_allclose(ad, ad2, atol=1e-12)
    np.testing.assert_allclose(bd, bd2[:, 0], atol=1e-12)


def test_impulse_response_is_powers_of_ad():
    ad, bd = discretise_zoh(*legendre_state_space(5, 8.0))
    h = impulse_response(ad, bd, 10)
    for k in (0, 1, 7):
        np.testing.assert_allclose(h[k], np.linalg.matrix_power(ad, k) @ bd, atol=1e-12)


def test_memory_holds_a_delayed_window():
    # The Legendre memory reconstructs u(t - r*theta) as sum_i P_i(2r - 1) m_i
    # (ZOH adds about half a step of lag, hence the 0.1 tolerance on a slow sine).
    order, theta, steps = 12, 32.0, 400
    ad, bd = discretise_zoh(*legendre_state_space(order, theta))
    u = np.sin(2 * np.pi * np.arange(steps) / 50)
    m, ms = np.zeros(order), []
    for x in u:
        m = ad @ m + bd * x
        ms.append(m)
    ms = np.array(ms)
    for r in (0.5, 1.0):
        decoded = ms @ legendre.legvander(np.array([2 * r - 1]), order - 1)[0]
        delay = int(r * theta)
        err = np.abs(decoded[100:] - u[100 - delay:steps - delay]).max()
        assert err < 0.1, f"delay {r}*theta: max error {err}"


def _lmu(hidden=24):
    torch.manual_seed(0)
    return LMU(dim=16, memory_inputs=3, order=10, theta=20.0, hidden=hidden, seq_len=48)


@pytest.mark.parametrize("hidden", [16, 24])
@pytest.mark.parametrize("steps", [48, 17])
def test_parallel_equals_streaming(hidden, steps):
    lmu = _lmu(hidden)
    x = torch.randn(3, steps, 16, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        par = lmu(x)
        m = lmu.init_state(3)
        for t in range(steps):
            y, m = lmu.step(x[:, t], m)
            diff = (y - par[:, t]).abs().max().item()
            assert diff < 1e-5, f"at step {t}: max |stream - parallel| = {diff}"
    assert par.shape == (3, steps, 16)


def test_too_long_sequence_is_rejected():
    with pytest.raises(UserError, match="seq_len"):
        _lmu()(torch.zeros(1, 49, 16))


def test_derived_matrices_stay_out_of_checkpoints():
    keys = set(_lmu().state_dict())
    assert not keys & {"ad_t", "bd", "kernel"}
    assert {"w_u.weight", "w_h.weight", "w_o.weight"} <= keys

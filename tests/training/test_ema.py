import torch

from hrgan.training.ema import ema_decay_at, update_ema


def test_ema_moves_towards_the_model():
    model, ema = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    before = ema.weight.detach().clone()
    update_ema(ema, model, 0.9)
    torch.testing.assert_close(ema.weight, 0.9 * before + 0.1 * model.weight.detach())
    assert not ema.weight.requires_grad or ema.weight.grad is None


def test_decay_warms_up_to_the_cap():
    assert ema_decay_at(0, 0.999) == 0.0  # the first update copies the model
    assert ema_decay_at(10**6, 0.999) == 0.999
    assert ema_decay_at(10, 0.999, power=3) < ema_decay_at(10, 0.999, power=1)


def test_power_one_weighs_updates_linearly():
    """Under power 1 the warm-up average of values v_1..v_T weighs v_t by (2t - 1) / T^2: the later
    half of a stage dominates, the first updates count little."""
    model, ema = torch.nn.Linear(1, 1, bias=False), torch.nn.Linear(1, 1, bias=False)
    values = torch.randn(50)
    for step, value in enumerate(values):
        model.weight.data.fill_(float(value))
        update_ema(ema, model, ema_decay_at(step, 0.999, power=1.0))
    t = torch.arange(1, 51, dtype=torch.float64)
    expected = float(((2 * t - 1) * values.double()).sum() / 50**2)
    assert abs(float(ema.weight) - expected) < 1e-5

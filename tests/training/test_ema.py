import torch

from hrgan.training.ema import ema_decay_at, update_ema


def test_ema_moves_towards_the_model():
    model, ema = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    before = ema.weight.detach().clone()
    update_ema(ema, model, 0.9)
    torch.testing.assert_close(ema.weight, 0.9 * before + 0.1 * model.weight.detach())
    assert not ema.weight.requires_grad or ema.weight.grad is None


def test_decay_warms_up():
    assert ema_decay_at(0, 0.999) == 0.1
    assert ema_decay_at(10**6, 0.999) == 0.999

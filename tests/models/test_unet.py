"""pix2pix's U-Net generator: the reference's sizes, dropout and batch norm, and its state dicts importing."""

import pytest
import torch
from torch import nn

from hrgan.models import UNetGenerator, convert_pix2pix_state_dict, run_generator
from tests.models import pix2pix_layout as reference


def count(module):
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("num_downs, expected", [(8, 54_413_955), (7, 41_828_995)], ids=["unet_256", "unet_128"])
def test_parameter_counts_and_shapes_match_pix2pix(num_downs, expected):
    size = 2**num_downs
    with torch.device("meta"):
        g = UNetGenerator(in_channels=3, num_downs=num_downs)
        out = g(torch.empty(1, 3, size, size))
    assert count(g) == expected
    assert tuple(out.shape) == (1, 3, size, size) and g.size_multiple() == size


def test_unet_256_output_is_an_image_in_minus_one_one():
    g = UNetGenerator(in_channels=3, ngf=4).eval()
    with torch.no_grad():
        out = run_generator(g, torch.randn(1, 3, 256, 256))
    assert out.shape == (1, 3, 256, 256) and out.abs().max() <= 1


def test_label_map_inputs():
    g = UNetGenerator(in_channels=13, out_channels=3, num_downs=5, ngf=4)
    assert g(torch.randn(2, 13, 64, 32)).shape == (2, 3, 64, 32)


def test_dropout_only_in_train_mode_and_only_where_pix2pix_has_it():
    g = UNetGenerator(in_channels=3, num_downs=7, ngf=4)
    assert [d for d, up in enumerate(g.up) if any(isinstance(m, nn.Dropout) for m in up)] == [4, 5]
    x = torch.randn(2, 3, 128, 128)
    with torch.no_grad():
        assert not torch.equal(g.train()(x), g(x))
        torch.testing.assert_close(g.eval()(x), g(x), rtol=0, atol=0)
        no_dropout = UNetGenerator(in_channels=3, num_downs=7, ngf=4, use_dropout=False).train()
        torch.testing.assert_close(no_dropout(x), no_dropout(x), rtol=0, atol=0)


def test_batch_norm_uses_batch_statistics_in_train_mode_and_running_ones_in_eval():
    g = UNetGenerator(in_channels=3, num_downs=5, ngf=4, use_dropout=False)
    bn = g.down[1][1]
    assert isinstance(bn, nn.BatchNorm2d) and g.down[1][0].bias is None
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        train_out = g.train()(x)
        assert bn.num_batches_tracked == 1 and bn.running_mean.abs().sum() > 0
        running = bn.running_mean.clone()
        eval_out = g.eval()(x)
    assert torch.equal(bn.running_mean, running) and bn.num_batches_tracked == 1
    assert not torch.allclose(train_out, eval_out)


def test_instance_norm_has_no_statistics_and_convs_have_biases():
    g = UNetGenerator(in_channels=3, num_downs=5, ngf=4, norm="instance")
    assert not any(isinstance(m, nn.BatchNorm2d) for m in g.modules())
    assert list(g.buffers()) == []
    assert all(m.bias is not None for m in g.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)))
    with pytest.raises(ValueError, match="batch"):
        UNetGenerator(in_channels=3, norm="group")
    with pytest.raises(ValueError, match=">= 5"):
        UNetGenerator(in_channels=3, num_downs=4)
    with pytest.raises(ValueError, match="no local enhancers"):
        g.size_multiple(1)


def test_pix2pix_init():
    g = UNetGenerator(in_channels=3, num_downs=6, ngf=16)
    convs = [m for m in g.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    norms = [m for m in g.modules() if isinstance(m, nn.BatchNorm2d)]
    weights = torch.cat([m.weight.flatten() for m in convs])
    assert abs(weights.std().item() - 0.02) < 0.002 and all(m.bias is None or not m.bias.any() for m in convs)
    bn_weights = torch.cat([m.weight for m in norms])
    assert abs(bn_weights.mean().item() - 1) < 0.01 and 0.01 < bn_weights.std().item() < 0.03
    assert not any(m.bias.any() for m in norms)


def test_rebuilds_from_its_init_args():
    g = UNetGenerator(in_channels=13, num_downs=6, ngf=4, norm="instance")
    assert g.init_args == dict(in_channels=13, out_channels=3, num_downs=6, ngf=4, norm="instance", use_dropout=True)
    rebuilt = type(g)(**g.init_args)
    rebuilt.load_state_dict(g.state_dict(), strict=True)
    x = torch.randn(1, 13, 64, 64)
    torch.testing.assert_close(rebuilt.eval()(x), g.eval()(x))


@pytest.mark.parametrize("num_downs", [5, 7])
def test_reference_state_dict_imports_and_computes_the_same(num_downs):
    theirs = reference.randomize_norms(reference.unet(3, 3, num_downs, 4, use_dropout=True))
    ours = UNetGenerator(in_channels=3, num_downs=num_downs, ngf=4)
    ours.load_state_dict(convert_pix2pix_state_dict(theirs.state_dict()), strict=True)
    x = torch.randn(2, 3, 2**num_downs, 2**num_downs)
    for train in (False, True):  # train: the same seed gives the same dropout masks
        outputs = []
        for net in (theirs, ours):
            torch.manual_seed(1)
            with torch.no_grad():
                outputs.append(net.train(train)(x.clone()))
        torch.testing.assert_close(outputs[1], outputs[0], rtol=0, atol=0)


def test_converter_rejects_other_keys():
    with pytest.raises(ValueError, match="not a pix2pix"):
        convert_pix2pix_state_dict({"down.0.0.weight": torch.zeros(1)})
    with pytest.raises(ValueError, match="not a pix2pix UnetGenerator key"):
        convert_pix2pix_state_dict({"model.model.2.model.1.weight": torch.zeros(1)})

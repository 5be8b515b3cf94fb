"""SPADE's networks against NVlabs/SPADE's own figures (../shared/reference/spade/: parameter counts, every
state-dict key and shape, the discriminator's feature shapes)."""

import json
from pathlib import Path

import pytest
import torch

from hrgan.models import MultiscaleDiscriminator, SPADEGenerator, SPADEStyleEncoder

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference" / "spade"
needs_reference = pytest.mark.skipif(not REFERENCE.is_dir(), reason="../shared/reference/spade is absent")


def parameters(network):
    return sum(p.numel() for p in network.parameters())


def reference_keys(name):
    """{key: shape} of a reference state-dict listing."""
    rows = (line.split("\t") for line in (REFERENCE / f"state_dict_{name}.txt").read_text().splitlines() if line)
    return {key: json.loads(shape) for key, shape, _ in rows}


def keys_and_shapes(network):
    return {k: list(v.shape) for k, v in network.state_dict().items()}


@needs_reference
@pytest.mark.parametrize("name, network", [
    ("G_cityscapes", lambda: SPADEGenerator(in_channels=36)),
    ("G_ade20k", lambda: SPADEGenerator(in_channels=151)),
    ("G_cityscapes_vae", lambda: SPADEGenerator(in_channels=36, z_dim=256, latent_size=(16, 8))),
    ("E_vae", lambda: SPADEStyleEncoder()),
])
def test_spade_networks_have_the_reference_keys_shapes_and_counts(name, network):
    counts = json.loads((REFERENCE / "parity.json").read_text())["params"]
    net = network()
    assert keys_and_shapes(net) == reference_keys(name)  # official checkpoints load as they are
    assert parameters(net) == counts.get(name, counts.get(f"{name}_151"))


def test_parameter_counts_without_the_reference_folder():
    assert parameters(SPADEGenerator(in_channels=36)) == 93_048_003
    assert parameters(SPADEGenerator(in_channels=151)) == 96_492_483
    assert parameters(SPADEGenerator(in_channels=36, z_dim=256)) == 126_400_707
    assert parameters(SPADEStyleEncoder()) == 10_463_424
    assert parameters(MultiscaleDiscriminator(in_channels=39, num_D=2, spectral=True)) == 5_601_410


@needs_reference
def test_spade_discriminator_matches_the_reference_counts_and_feature_shapes():
    reference = json.loads((REFERENCE / "parity.json").read_text())
    d = MultiscaleDiscriminator(in_channels=39, num_D=2, spectral=True)
    assert parameters(d) == reference["params"]["D_cityscapes_numD2_nlayers4"]
    ours = sorted(keys_and_shapes(d).values())
    assert ours == sorted(reference_keys("D_cityscapes").values())  # same tensors; SPADE names them discriminator_k.modelN
    with torch.no_grad():
        features = d(torch.zeros(1, 39, 256, 512))
    assert [[list(f.shape) for f in scale] for scale in features] == reference["D_feature_shapes_at_256x512"]


def test_the_generator_follows_the_label_map_at_any_multiple_of_32():
    torch.manual_seed(0)
    g = SPADEGenerator(in_channels=5, ngf=4).eval()
    assert g.size_multiple() == 32
    segmap = torch.zeros(1, 5, 64, 96)
    segmap[:, 0] = 1
    other = segmap.clone()
    other[:, :, :, 48:] = 0
    other[:, 3, :, 48:] = 1
    with torch.no_grad():
        out, changed = g(segmap), g(other)
    assert out.shape == (1, 3, 64, 96) and out.abs().max() <= 1
    assert not torch.equal(out[..., 48:], changed[..., 48:])  # the right half's labels changed it


def test_the_vae_generator_is_deterministic_for_a_given_z_and_varies_with_it():
    torch.manual_seed(0)
    g = SPADEGenerator(in_channels=5, ngf=4, z_dim=8, latent_size=(2, 1)).eval()
    encoder = SPADEStyleEncoder(ngf=4, z_dim=8).eval()
    segmap = torch.zeros(2, 5, 32, 64)
    segmap[:, 1] = 1
    with torch.no_grad():
        mu, logvar = encoder(torch.rand(2, 3, 100, 80) * 2 - 1)
        assert mu.shape == logvar.shape == (2, 8)
        z = torch.randn(2, 8)
        assert torch.equal(g(segmap, z), g(segmap, z)) and not torch.equal(g(segmap, z), g(segmap, z + 1))
        # at another size than the latent map's the map is resized: the photo has the label map's size
        assert g(torch.zeros(2, 5, 64, 96), z).shape == (2, 3, 64, 96)


def test_the_generator_traces_for_torchscript_in_eval_mode():
    torch.manual_seed(0)
    g = SPADEGenerator(in_channels=5, ngf=4).eval()
    segmap = torch.rand(1, 5, 64, 64)
    with torch.no_grad():
        traced = torch.jit.trace(g, segmap)
        other = torch.rand(2, 5, 32, 96)  # another batch and size: no shape was baked in
        torch.testing.assert_close(traced(other), g(other))


def test_a_traced_vae_generator_resizes_its_latent_map_at_every_size():
    torch.manual_seed(0)
    g = SPADEGenerator(in_channels=5, ngf=4, z_dim=8, latent_size=(2, 2)).eval()
    z = torch.randn(1, 8)
    with torch.no_grad():
        traced = torch.jit.trace(g, (torch.rand(1, 5, 64, 64), z))  # traced at the latent map's own size
        other = torch.rand(1, 5, 128, 192)
        assert traced(other, z).shape == (1, 3, 128, 192)
        torch.testing.assert_close(traced(other, z), g(other, z))

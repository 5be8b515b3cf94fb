"""A small random model with instance styles for the studio's tests (no training: the studio only needs a forward)."""

import pytest
import torch

from hrgan.artifacts import make_export
from hrgan.data.classes import load_classes
from hrgan.inference.styles import StyleBank
from hrgan.inference.synthesizer import Synthesizer
from hrgan.models import GlobalGenerator, InstanceFeatureEncoder, Pix2PixHDGenerator, SPADEGenerator, SPADEStyleEncoder

LABEL_NC, FEAT_NUM = 8, 3


@pytest.fixture(scope="session")
def synth():
    torch.manual_seed(0)
    generator = GlobalGenerator(in_channels=LABEL_NC + 1 + FEAT_NUM, ngf=4, n_downsample=2, n_blocks=1)
    centres = torch.randn(LABEL_NC, 4, FEAT_NUM) * 3  # 4 distinct styles per class
    bank = StyleBank(centres, torch.full((LABEL_NC,), 4), torch.full((LABEL_NC,), 10))
    export = make_export(generator=generator, encoder=InstanceFeatureEncoder(feat_num=FEAT_NUM, nef=4), label_nc=LABEL_NC,
                         ignore_index=None, use_instance_edges=True, feat_num=FEAT_NUM, n_active_enhancers=0,
                         classes=load_classes("synthetic", LABEL_NC), styles=bank.to_export(), resolution=(64, 32))
    return Synthesizer(export)


@pytest.fixture(scope="session")
def vae_synth():
    """A small random SPADE generator with a VAE (z_dim 8) and its style encoder, at 64x32."""
    torch.manual_seed(0)
    generator = SPADEGenerator(in_channels=LABEL_NC + 1, ngf=4, z_dim=8, latent_size=(2, 1))
    export = make_export(generator=generator, encoder=None, style_encoder=SPADEStyleEncoder(ngf=4, z_dim=8), label_nc=LABEL_NC,
                         ignore_index=None, use_instance_edges=True, feat_num=0, n_active_enhancers=0,
                         classes=load_classes("synthetic", LABEL_NC), resolution=(64, 32))
    return Synthesizer(export)


@pytest.fixture(scope="session")
def demo_sized_synth():
    """configs/demo.yaml's generator (ngf 16, one local enhancer) at its 256x128, random, with instance features and
    4 styles per class added (the demo trains none), so a style change can be tried on an object."""
    torch.manual_seed(0)
    generator = Pix2PixHDGenerator(in_channels=LABEL_NC + 1 + FEAT_NUM, ngf=16, n_downsample_global=3, n_blocks_global=3,
                                   n_local_enhancers=1, n_blocks_local=2, keep_coarse_heads=True)
    bank = StyleBank(torch.randn(LABEL_NC, 4, FEAT_NUM) * 3, torch.full((LABEL_NC,), 4), torch.full((LABEL_NC,), 10))
    export = make_export(generator=generator, encoder=InstanceFeatureEncoder(feat_num=FEAT_NUM, nef=4), label_nc=LABEL_NC,
                         ignore_index=None, use_instance_edges=True, feat_num=FEAT_NUM, n_active_enhancers=1,
                         classes=load_classes("synthetic", LABEL_NC), styles=bank.to_export(), resolution=(256, 128))
    return Synthesizer(export)

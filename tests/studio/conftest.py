"""A small random model with instance styles for the studio's tests (no training: the studio only needs a forward)."""

import pytest
import torch

from hrgan.artifacts import make_export
from hrgan.data.classes import load_classes
from hrgan.inference.styles import StyleBank
from hrgan.inference.synthesizer import Synthesizer
from hrgan.models import GlobalGenerator, InstanceFeatureEncoder

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

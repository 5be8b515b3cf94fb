"""Networks of the pix2pixHD and pix2pix families: pure ``nn.Module``s with keyword-only constructors."""

from hrgan.models.discriminator import MultiscaleDiscriminator, PatchDiscriminator
from hrgan.models.encoder import InstanceFeatureEncoder, instance_average_pool
from hrgan.models.family import (Conditioning, GeneratorFamily, InstanceStyle, Style, StyleChoice, StyleSource,
                                 VAEStyle)
from hrgan.models.generator import GlobalGenerator, LocalEnhancer, Pix2PixHDGenerator, run_generator
from hrgan.models.layers import GeneratorNetwork, set_activation_checkpointing
from hrgan.models.spade import SPADEGenerator, SPADEStyleEncoder
from hrgan.models.official import build_from_pix2pixhd, convert_pix2pixhd_state_dict, detect_pix2pixhd_network
from hrgan.models.pix2pix import convert_pix2pix_state_dict
from hrgan.models.unet import UNetGenerator
from hrgan.models.vgg import VGG19Features

__all__ = [
    "Conditioning",
    "GeneratorFamily",
    "GeneratorNetwork",
    "InstanceStyle",
    "Style",
    "StyleChoice",
    "StyleSource",
    "VAEStyle",
    "GlobalGenerator",
    "InstanceFeatureEncoder",
    "LocalEnhancer",
    "MultiscaleDiscriminator",
    "PatchDiscriminator",
    "SPADEGenerator",
    "SPADEStyleEncoder",
    "Pix2PixHDGenerator",
    "UNetGenerator",
    "VGG19Features",
    "build_from_pix2pixhd",
    "convert_pix2pix_state_dict",
    "convert_pix2pixhd_state_dict",
    "detect_pix2pixhd_network",
    "instance_average_pool",
    "run_generator",
    "set_activation_checkpointing",
]

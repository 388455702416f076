"""Networks: blocks, ResNet generators, PatchGAN discriminators and the CycleGAN container."""

from unpaired_i2i.models.blocks import ConvNormAct, ResidualBlock, make_activation, make_norm
from unpaired_i2i.models.cyclegan import CYCLEGAN_PRESETS, CycleGAN
from unpaired_i2i.models.discriminators import DISCRIMINATOR_PRESETS, ConvDiscriminator
from unpaired_i2i.models.generators import GENERATOR_PRESETS, ResnetGenerator
from unpaired_i2i.models.init import init_weights

__all__ = [
    "CYCLEGAN_PRESETS",
    "DISCRIMINATOR_PRESETS",
    "GENERATOR_PRESETS",
    "ConvDiscriminator",
    "ConvNormAct",
    "CycleGAN",
    "ResidualBlock",
    "ResnetGenerator",
    "init_weights",
    "make_activation",
    "make_norm",
]

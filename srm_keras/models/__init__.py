"""ResNet builders, the zoo's named constructors, and profiling."""

from srm_keras.models.profile import count_macs, count_params
from srm_keras.models.resnet import resnet
from srm_keras.models.shortcut import PaddedIdentity
from srm_keras.models.spec import PAPER_IMAGENET, RESNETS, ResNetSpec
from srm_keras.models.zoo import CONSTRUCTORS, create_model, list_models

globals().update(CONSTRUCTORS)

__all__ = [
    "PAPER_IMAGENET",
    "RESNETS",
    "PaddedIdentity",
    "ResNetSpec",
    "count_macs",
    "count_params",
    "create_model",
    "list_models",
    "resnet",
    *CONSTRUCTORS,
]

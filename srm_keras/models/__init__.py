"""ResNet and DenseNet builders, the zoo's named constructors, and profiling."""

from srm_keras.models.densenet import DENSENETS, DenseNetSpec, densenet
from srm_keras.models.profile import count_macs, count_params
from srm_keras.models.resnet import resnet
from srm_keras.models.shortcut import PaddedIdentity
from srm_keras.models.spec import PAPER_IMAGENET, RESNETS, ResNetSpec
from srm_keras.models.zoo import CONSTRUCTORS, create_model, list_models, parse_model_name

globals().update(CONSTRUCTORS)

__all__ = [
    "DENSENETS",
    "PAPER_IMAGENET",
    "RESNETS",
    "DenseNetSpec",
    "PaddedIdentity",
    "ResNetSpec",
    "count_macs",
    "count_params",
    "create_model",
    "densenet",
    "list_models",
    "parse_model_name",
    "resnet",
    *CONSTRUCTORS,
]

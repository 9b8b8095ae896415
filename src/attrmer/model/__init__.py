"""The networks and losses of the method: 3D-ResNets, the two-stream video network, the BERT
attribute branch, and the paper's losses. No data loading and no training loop here.

Importing this package does not import transformers: the text branch loads it only when a
`TextEncoder` is built, so the video-only inference path never pays for it.
"""

from attrmer.model.inputs import RGB_MEAN, RGB_STD, prepare_flow, prepare_rgb
from attrmer.model.losses import CrossModalContrastiveLoss, JointLoss, LossTerms
from attrmer.model.resnet3d import RESNET3D_LAYERS, ResNet3D, count_parameters, resnet3d
from attrmer.model.text import AttributeNet, TextEncoder
from attrmer.model.video import VideoNet

__all__ = [
    "RESNET3D_LAYERS",
    "RGB_MEAN",
    "RGB_STD",
    "AttributeNet",
    "CrossModalContrastiveLoss",
    "JointLoss",
    "LossTerms",
    "ResNet3D",
    "TextEncoder",
    "VideoNet",
    "count_parameters",
    "prepare_flow",
    "prepare_rgb",
    "resnet3d",
]

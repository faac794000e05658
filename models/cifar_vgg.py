"""`cifar_vgg_{11,13,16,19}`: VGG networks (Simonyan & Zisserman 2015, "Very Deep Convolutional Networks for
Large-Scale Image Recognition", configurations A, B, D, E) adapted to CIFAR-10 with BatchNorm and a single linear
output layer, as in Frankle & Carbin 2019.

Input (N, 3, 32, 32) float32; output (N, outputs) logits. State keys follow the original OpenLTH:
`layers.<i>.conv.{weight,bias}`, `layers.<i>.bn.*` (max-pools occupy indices too), `fc`.
"""

import torch.nn as nn
import torch.nn.functional as F

from models import base, families

# Conv widths per configuration; 'M' is a 2x2 max-pool with stride 2.
PLANS = {
    11: [64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512],
    13: [64, 64, 'M', 128, 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512],
    16: [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512],
    19: [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 256, 'M', 512, 512, 512, 512, 'M', 512, 512, 512, 512],
}


class ConvModule(nn.Module):
    """relu(bn(conv(x))) with a 3x3, padding-1 convolution (with bias): (N, in, H, W) -> (N, out, H, W)."""

    def __init__(self, in_filters: int, out_filters: int):
        super().__init__()
        self.conv = nn.Conv2d(in_filters, out_filters, kernel_size=3, padding=1)
        self.bn = nn.BatchNorm2d(out_filters)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class Model(families.CifarVgg, base.Model):
    """CIFAR VGG (Simonyan & Zisserman 2015): ConvModules and max-pools in `layers`, 2x2 average pool, `fc`.

    plan: one of `PLANS` (conv widths and 'M' pools). outputs: number of classes (default 10).
    """

    name_grammar = 'cifar_vgg_<D> with D in {11, 13, 16, 19}'
    ConvModule = ConvModule  # The original nests the module class here (`cifar_vgg.Model.ConvModule`).

    def __init__(self, plan, initializer, outputs=None):
        super().__init__()
        layers = []
        filters = 3
        for spec in plan:
            if spec == 'M':
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                layers.append(ConvModule(filters, spec))
                filters = spec
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(512, outputs or 10)
        self.apply(initializer)

    def forward(self, x):
        x = self.layers(x)           # (N, 512, 2, 2) for a 32 x 32 input.
        x = F.avg_pool2d(x, 2)       # (N, 512, 1, 1).
        return self.fc(base.flatten_batch(x))

    @property
    def output_layer_names(self):
        return ['fc.weight', 'fc.bias']

    @staticmethod
    def get_model_from_name(model_name, initializer, outputs=None):
        """Build `cifar_vgg_D`; raises ValueError for an invalid name."""
        if not Model.is_valid_model_name(model_name):
            raise ValueError(f'Invalid model name: {model_name}')
        return Model(PLANS[int(model_name.split('_')[2])], initializer, outputs)

"""`imagenet_resnet_<D>[_<W>]`: the ImageNet ResNets of He et al. 2016 ("Deep Residual Learning for Image
Recognition", Table 1), D in {18, 34, 50, 101, 152, 200}, with base width W (default 64).

A torchvision ResNet (its BasicBlock/Bottleneck and `_make_layer`) with every width scaled by W / 64, held as
`self.model`, so state keys are torchvision's prefixed with `model.` (as in the original OpenLTH).
Input (N, 3, H, W) float32 (224 x 224 for ImageNet); output (N, outputs) logits.
"""

import functools

import torch.nn as nn

from models import base, families

# Depth -> (block type, blocks per stage). D = 200 takes its block counts from He et al. 2016b ("Identity Mappings in
# Deep Residual Networks") but, like the original OpenLTH, keeps torchvision's post-activation Bottleneck. Block
# types are torchvision's BasicBlock / Bottleneck, named here so that this module loads without torchvision.
PLANS = {
    18: ('BasicBlock', [2, 2, 2, 2]),
    34: ('BasicBlock', [3, 4, 6, 3]),
    50: ('Bottleneck', [3, 4, 6, 3]),
    101: ('Bottleneck', [3, 4, 23, 3]),
    152: ('Bottleneck', [3, 8, 36, 3]),
    200: ('Bottleneck', [3, 24, 36, 3]),
}


def block_class(name: str) -> type:
    """torchvision's residual block class `name` ('BasicBlock' or 'Bottleneck')."""
    from torchvision.models import resnet as tv_resnet
    return getattr(tv_resnet, name)


@functools.cache
def resnet_class() -> type:
    """The ResNet class below, a subclass of torchvision's, built on first use (importing torchvision takes a
    second, which no other model needs)."""
    from torchvision.models import resnet as tv_resnet

    class ResNet(tv_resnet.ResNet):
        """torchvision's ResNet with stage widths W, 2W, 4W, 8W instead of 64, 128, 256, 512.

        Module construction order and the construction-time init (kaiming_normal fan_out/relu on convolutions,
        BatchNorm 1/0) are torchvision's, so the global RNG is consumed exactly as in the original.
        """

        def __init__(self, block, layers, num_classes: int = 1000, width: int = 64):
            nn.Module.__init__(self)
            self._norm_layer = nn.BatchNorm2d
            self.inplanes = width
            self.dilation = 1
            self.groups = 1
            self.base_width = 64
            self.conv1 = nn.Conv2d(3, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
            self.bn1 = nn.BatchNorm2d(self.inplanes)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
            self.layer1 = self._make_layer(block, width, layers[0])
            self.layer2 = self._make_layer(block, 2 * width, layers[1], stride=2)
            self.layer3 = self._make_layer(block, 4 * width, layers[2], stride=2)
            self.layer4 = self._make_layer(block, 8 * width, layers[3], stride=2)
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(8 * width * block.expansion, num_classes)

            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)

    ResNet.__qualname__ = 'ResNet'  # Pickled by reference as `models.imagenet_resnet.ResNet` (see __getattr__).
    return ResNet


def __getattr__(name: str):
    """`imagenet_resnet.ResNet` still names the class (built on first access)."""
    if name == 'ResNet':
        return resnet_class()
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


class Model(families.ImagenetResnet, base.Model):
    """ImageNet ResNet (He et al. 2016) wrapped as `self.model`.

    plan: (block type, blocks per stage, width W), e.g. (Bottleneck, [3, 4, 6, 3], 64) for imagenet_resnet_50;
      the block type is torchvision's class or its name ('BasicBlock', 'Bottleneck').
    outputs: number of classes (default 1000).
    """

    def __init__(self, plan, initializer, outputs=None):
        super().__init__()
        block, layers, width = plan
        if isinstance(block, str):
            block = block_class(block)
        self.model = resnet_class()(block, layers, outputs or 1000, width)
        self.apply(initializer)

    def forward(self, x):
        return self.model(x)

    @property
    def output_layer_names(self):
        return ['model.fc.weight', 'model.fc.bias']

    @staticmethod
    def get_model_from_name(model_name, initializer, outputs=None):
        """Build `imagenet_resnet_D[_W]`; raises ValueError for an invalid name."""
        parsed = Model.parse(model_name)
        if parsed is None:
            raise ValueError(f'Invalid model name: {model_name}')
        depth, width = parsed
        block, layers = PLANS[depth]
        return Model((block, layers, width), initializer, outputs)

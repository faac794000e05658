"""`cifar_resnet_<D>[_<W>]`: the CIFAR-10 ResNets of He et al. 2016 ("Deep Residual Learning for Image
Recognition", Sec. 4.2), with depth D = 6n + 2 and stem width W (default 16).

Three segments of n basic blocks each, with widths W, 2W and 4W; the first block of segments 2 and 3 halves the
spatial size, and its shortcut is a 1x1 convolution + BatchNorm (the paper's option B, not its zero-padding option A).
Input (N, 3, H, W) float32 (32 x 32 for CIFAR-10); output (N, outputs) logits.
State keys follow the original OpenLTH: `conv`, `bn`, `blocks.<i>.{conv1,bn1,conv2,bn2,shortcut.0,shortcut.1}`, `fc`.
"""

import torch.nn as nn
import torch.nn.functional as F

from models import base, families
from models.families import CIFAR_TRAINING  # noqa: F401 (its old home, for code that imports it from here)


class Block(nn.Module):
    """A basic residual block: relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)).

    f_in, f_out: input and output channels. downsample: conv1 and the shortcut use stride 2, halving H and W.
    The shortcut is a 1x1 stride-2 convolution + BatchNorm when downsampling or f_in != f_out, else the identity.
    """

    def __init__(self, f_in: int, f_out: int, downsample: bool = False):
        super().__init__()
        stride = 2 if downsample else 1
        self.conv1 = nn.Conv2d(f_in, f_out, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(f_out)
        self.conv2 = nn.Conv2d(f_out, f_out, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(f_out)
        if downsample or f_in != f_out:
            self.shortcut = nn.Sequential(nn.Conv2d(f_in, f_out, kernel_size=1, stride=2, bias=False),
                                          nn.BatchNorm2d(f_out))
        else:
            self.shortcut = nn.Sequential()

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class Model(families.CifarResnet, base.Model):
    """CIFAR ResNet (He et al. 2016): 3x3 stem conv, 3 segments of basic blocks, global average pool, `fc`.

    plan: [(width, number of blocks)] per segment, e.g. [(16, 3), (32, 3), (64, 3)] for cifar_resnet_20.
    outputs: number of classes (default 10).
    """

    name_grammar = 'cifar_resnet_<D>[_<W>] with D = 6n+2 (20, 32, 44, 56, 110, ...) and width W > 0 (default 16)'
    Block = Block  # The original nests the block class here (`cifar_resnet.Model.Block`).

    def __init__(self, plan, initializer, outputs=None):
        super().__init__()
        current_filters = plan[0][0]
        self.conv = nn.Conv2d(3, current_filters, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(current_filters)

        blocks = []
        for segment_index, (filters, num_blocks) in enumerate(plan):
            for block_index in range(num_blocks):
                downsample = segment_index > 0 and block_index == 0
                blocks.append(Block(current_filters, filters, downsample))
                current_filters = filters
        self.blocks = nn.Sequential(*blocks)

        self.fc = nn.Linear(plan[-1][0], outputs or 10)
        self.apply(initializer)

    def forward(self, x):
        out = F.relu(self.bn(self.conv(x)))
        out = self.blocks(out)
        out = F.avg_pool2d(out, out.size(3))  # Global average pool (kernel = spatial width, 8 for CIFAR).
        return self.fc(base.flatten_batch(out))

    @property
    def output_layer_names(self):
        return ['fc.weight', 'fc.bias']

    @staticmethod
    def get_model_from_name(model_name, initializer, outputs=None):
        """Build `cifar_resnet_D[_W]`; raises ValueError for an invalid name."""
        parsed = Model.parse(model_name)
        if parsed is None:
            raise ValueError(f'Invalid model name: {model_name}')
        depth, width = parsed
        n = (depth - 2) // 6
        plan = [(width, n), (2 * width, n), (4 * width, n)]
        return Model(plan, initializer, outputs)

"""`mnist_lenet_<W1>[_<W2>...]`: a fully-connected ReLU network for MNIST with hidden widths W1, W2, ...

LeCun et al. 1998; the LeNet-300-100 of Frankle & Carbin 2019 is `mnist_lenet_300_100`. Input (N, 1, 28, 28) is
flattened to 784 features; hidden layers live in `fc_layers`, the output layer is `fc`.
"""

import torch.nn as nn
import torch.nn.functional as F

from models import base, families


class Model(families.MnistLenet, base.Model):
    """Fully-connected network: 784 -> W1 -> ... -> outputs (ReLU after every hidden layer)."""

    def __init__(self, plan, initializer, outputs=None):
        super().__init__()
        layers = []
        current_size = 784
        for size in plan:
            layers.append(nn.Linear(current_size, size))
            current_size = size
        self.fc_layers = nn.ModuleList(layers)
        self.fc = nn.Linear(current_size, outputs or 10)
        self.apply(initializer)

    def forward(self, x):
        x = base.flatten_batch(x)
        for layer in self.fc_layers:
            x = F.relu(layer(x))
        return self.fc(x)

    @property
    def output_layer_names(self):
        return ['fc.weight', 'fc.bias']

    @staticmethod
    def get_model_from_name(model_name, initializer, outputs=None):
        if not Model.is_valid_model_name(model_name):
            raise ValueError(f'Invalid model name: {model_name}')
        plan = [int(part) for part in model_name.split('_')[2:]]
        return Model(plan, initializer, outputs)

"""LeNet-300-100 on MNIST trained the way the original OpenLTH runs it: the baseline of benchmarks/run_cost.py.

Self-contained (imports nothing from this repository) and written from a description of the original's behaviour,
not from its code: torch and torchvision are imported at the start; the four raw MNIST files are read with
`torchvision.datasets.MNIST` (`<dataset_root>/mnist/MNIST/raw/`, the same files open_lth reads); every example is
turned into a PIL image and transformed on its own (ToTensor, Normalize) inside a `torch.utils.data.DataLoader`
(num_workers=0; the training loader shuffles); batch 128, SGD lr 0.1; the whole test set is evaluated through a
DataLoader at the start and at the first iteration of every epoch (and at the end step when it is not an epoch
boundary); `torch.save` writes the initial model, a checkpoint (model and optimizer state, step, logger) at every
epoch boundary and the final model; a CSV logger of `name,iteration,value` lines is written at the end.

    python benchmarks/original_style_run.py --dataset_root ~/open_lth_datasets --output /tmp/run --iterations 1
    python benchmarks/original_style_run.py --dataset_root ~/open_lth_datasets --output /tmp/run --epochs 2

The MNIST raw files must be there already (any open_lth command on MNIST installs them). Prints one line per
evaluation and the total wall time.
"""

import argparse
import csv
import io
import os
import time

import torch
import torchvision
import torchvision.transforms as T

MEAN, STD = (0.1307,), (0.3081,)
BATCH_SIZE = 128


class LeNet(torch.nn.Module):
    """Fully connected 784-300-100-10 with ReLU; weights kaiming-normal, biases zero (the preset's init)."""

    def __init__(self, widths=(300, 100), inputs=784, outputs=10):
        super().__init__()
        layers, current = [], inputs
        for width in widths:
            layers.append(torch.nn.Linear(current, width))
            current = width
        self.fc_layers = torch.nn.ModuleList(layers)
        self.fc = torch.nn.Linear(current, outputs)
        for module in self.modules():
            if isinstance(module, torch.nn.Linear):
                torch.nn.init.kaiming_normal_(module.weight)
                torch.nn.init.zeros_(module.bias)
        self.criterion = torch.nn.CrossEntropyLoss()

    def forward(self, x):
        x = x.view(x.size(0), -1)
        for layer in self.fc_layers:
            x = torch.nn.functional.relu(layer(x))
        return self.fc(x)


class Logger:
    """(name, iteration, value) rows, written as CSV lines."""

    def __init__(self):
        self.rows = []

    def add(self, name, iteration, value):
        self.rows.append((name, iteration, value))

    def text(self) -> str:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator='\n').writerows(self.rows)
        return buffer.getvalue()

    def save(self, folder):
        with open(os.path.join(folder, 'logger'), 'w') as f:
            f.write(self.text())


def evaluate(model, loader, logger, iteration):
    """Test loss, accuracy and example count over the whole loader, logged and printed."""
    model.eval()
    loss_sum, correct, count = torch.tensor(0.0), torch.tensor(0), 0
    with torch.no_grad():
        for examples, labels in loader:
            output = model(examples)
            loss_sum += model.criterion(output, labels) * labels.shape[0]
            correct += (output.argmax(dim=1) == labels).sum()
            count += labels.shape[0]
    loss, accuracy = loss_sum.item() / count, correct.item() / count
    logger.add('test_loss', iteration, loss)
    logger.add('test_accuracy', iteration, accuracy)
    logger.add('test_examples', iteration, count)
    print(f'test\tit {iteration}\tloss {loss:.3f}\tacc {100 * accuracy:.2f}%\tex {count}', flush=True)


def run(dataset_root: str, output: str, iterations: int = None, epochs: int = None, seed: int = 0) -> None:
    """Train for `iterations` iterations or `epochs` epochs (exactly one given), writing into `output`."""
    torch.manual_seed(seed)
    os.makedirs(output, exist_ok=True)
    transform = T.Compose([T.ToTensor(), T.Normalize(MEAN, STD)])
    root = os.path.join(dataset_root, 'mnist')
    train_set = torchvision.datasets.MNIST(root=root, train=True, transform=transform, download=False)
    test_set = torchvision.datasets.MNIST(root=root, train=False, transform=transform, download=False)
    train_loader = torch.utils.data.DataLoader(train_set, batch_size=BATCH_SIZE, shuffle=True, num_workers=0)
    test_loader = torch.utils.data.DataLoader(test_set, batch_size=BATCH_SIZE, shuffle=False, num_workers=0)
    per_epoch = len(train_loader)
    end = iterations if iterations is not None else epochs * per_epoch

    model = LeNet()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    logger = Logger()
    torch.save(model.state_dict(), os.path.join(output, 'model_ep0_it0.pth'))

    def step_callbacks(iteration):
        if iteration % per_epoch == 0 or iteration == end:
            evaluate(model, test_loader, logger, iteration)
        if iteration % per_epoch == 0:
            torch.save({'ep': iteration // per_epoch, 'it': 0, 'model_state_dict': model.state_dict(),
                        'optimizer_state_dict': optimizer.state_dict(), 'logger': logger.text()},
                       os.path.join(output, 'checkpoint.pth'))

    iteration = 0
    while iteration < end:
        for examples, labels in train_loader:
            step_callbacks(iteration)
            model.train()
            optimizer.zero_grad()
            model.criterion(model(examples), labels).backward()
            optimizer.step()
            iteration += 1
            if iteration == end:
                break
    step_callbacks(end)
    torch.save(model.state_dict(), os.path.join(output, f'model_ep{end // per_epoch}_it{end % per_epoch}.pth'))
    logger.save(output)


def main() -> None:
    started = time.perf_counter()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--dataset_root', default=os.environ.get('OPEN_LTH_DATASET_ROOT',
                                                                 os.path.expanduser('~/open_lth_datasets')))
    parser.add_argument('--output', required=True, help='the run folder (created)')
    length = parser.add_mutually_exclusive_group(required=True)
    length.add_argument('--iterations', type=int)
    length.add_argument('--epochs', type=int)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    run(args.dataset_root, args.output, args.iterations, args.epochs, args.seed)
    print(f'done in {time.perf_counter() - started:.2f} s (after the imports)')


if __name__ == '__main__':
    main()

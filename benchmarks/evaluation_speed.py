"""Test-set evaluation time: `training.standard_callbacks.evaluate` (inference mode, large batches) against the way
it ran before (no_grad, the loader's own batches of 128). Run by hand:

    python benchmarks/evaluation_speed.py [--repeats 5] [--device cpu] [--skip_resnet]

Evaluates LeNet-300-100 on MNIST's real test set (10,000 images, from `$OPEN_LTH_DATASET_ROOT` or
~/open_lth_datasets; installed from the embedded copy if missing) and ResNet-20 (channels_last, as trained) on a fake
CIFAR-10-sized test set (10,000 random 32x32x3 images), both at --batch_size 128. Before and after alternate, and
each prints the median seconds of `--repeats` evaluations, their ratio, and checks that both give the same correct
count and losses within 1e-6 relative.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402

from datasets import base, cifar10  # noqa: E402
from datasets import registry as datasets_registry  # noqa: E402
from foundations.hparams import DatasetHparams, ModelHparams  # noqa: E402
from models import base as models_base  # noqa: E402
from models import registry as models_registry  # noqa: E402
from platforms.local import Platform  # noqa: E402
from training.standard_callbacks import evaluate  # noqa: E402


def batch_by_batch(model, loader, device):
    """The evaluation as it was: no_grad, the loader's batches; (mean loss, accuracy, count)."""
    totals = torch.zeros(3, dtype=torch.float64, device=device)
    model.eval()
    with torch.no_grad():
        for x, y in loader:
            output = model(models_base.to_memory_format(x, model.memory_format))
            totals[0] += model.loss_criterion(output, y).double() * y.shape[0]
            totals[1] += (output.argmax(dim=1) == y).sum()
            totals[2] += y.shape[0]
    loss_sum, correct, count = totals.tolist()
    return loss_sum / count, correct / count, int(count)


def compare(name, model, loader, platform, repeats):
    device = platform.torch_device
    model.to(device, memory_format=model.memory_format)
    ways = {'before': lambda: batch_by_batch(model, loader, device), 'after': lambda: evaluate(model, loader, platform)}
    results = {way: run() for way, run in ways.items()}  # warm-up, and the values
    times = {way: [] for way in ways}
    for _ in range(repeats):
        for way, run in ways.items():
            if device.type == 'cuda':
                torch.cuda.synchronize()
            start = time.perf_counter()
            run()
            if device.type == 'cuda':
                torch.cuda.synchronize()
            times[way].append(time.perf_counter() - start)
    before, after = (statistics.median(times[w]) for w in ('before', 'after'))
    (loss_b, acc_b, n_b), (loss_a, acc_a, n_a) = results['before'], results['after']
    same = round(acc_b * n_b) == round(acc_a * n_a) and n_a == n_b and abs(loss_a - loss_b) <= 1e-6 * abs(loss_b)
    sizes = sorted({y.shape[0] for _, y in base.evaluation_batches(loader)}, reverse=True)
    print(f'{name:<34} before {before:7.3f} s  after {after:7.3f} s  before/after {before / after:5.2f}x  '
          f'(after: batches of {sizes[0]}; correct {round(acc_a * n_a)}/{n_a}, loss rel. diff '
          f'{abs(loss_a - loss_b) / abs(loss_b):.1e}: {"same" if same else "DIFFERENT"})', flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--skip_resnet', action='store_true')
    args = parser.parse_args()
    print(f'== device {args.device}, {torch.get_num_threads()} threads, load average '
          f'{" ".join(f"{v:.2f}" for v in os.getloadavg())}; median of {args.repeats}', flush=True)
    with tempfile.TemporaryDirectory() as folder:
        dataset_root = os.environ.get('OPEN_LTH_DATASET_ROOT', os.path.expanduser('~/open_lth_datasets'))
        platform = Platform(_root=folder, _dataset_root=dataset_root, _device=args.device, _allow_download=False)
        loader = datasets_registry.get(DatasetHparams('mnist', 128), train=False, platform=platform)
        lenet = models_registry.get(ModelHparams('mnist_lenet_300_100', 'kaiming_normal', 'uniform'), seed=0)
        compare('LeNet-300-100, MNIST test (10,000)', lenet, loader, platform, args.repeats)
        if not args.skip_resnet:
            generator = torch.Generator().manual_seed(1)
            images = torch.randint(0, 256, (10000, 32, 32, 3), dtype=torch.uint8, generator=generator)
            labels = torch.randint(0, 10, (10000,), generator=generator)
            dataset = base.InMemoryDataset(images, labels, 10, cifar10.MEAN, cifar10.STD)
            resnet = models_registry.get(ModelHparams('cifar_resnet_20', 'kaiming_normal', 'uniform'), seed=0)
            compare('ResNet-20, fake CIFAR-10 test (10,000)', resnet,
                    base.Loader(dataset, 128, train=False, device=args.device), platform, args.repeats)
    print(f'== load average after: {" ".join(f"{v:.2f}" for v in os.getloadavg())}')


if __name__ == '__main__':
    main()

"""Speed on one device: our training loop against one written the way the original OpenLTH works, and concurrent
replicates. Run by hand (scripts/gpu_check.sh runs it on a GPU machine):

    python benchmarks/gpu_speed.py                      # the default device (a GPU when there is one)
    python benchmarks/gpu_speed.py --device cpu --quick # tiny sizes, to check that it works

Prints, for cifar_resnet_20 at batch 128 on fake CIFAR-10-shaped data (50,000 random images, so the numbers do not
depend on a download):
  * iterations per second of `training.train.train` (the real loop: in-memory data augmented on the device,
    channels_last, fused optimizer on a GPU) in fp32, `--apex_fp16` (float16), bf16, each with and without
    `--compile`; and the projected time of the full recipe (160 epochs of 391 iterations, plus a test-set
    evaluation per epoch);
  * the same for a baseline loop written the way the original works: a Dataset of uint8 images turned into PIL
    images and transformed per sample (RandomCrop(32, padding=4), RandomHorizontalFlip, ToTensor, Normalize) in a
    DataLoader (num_workers=0, the original's default), copied to the device per batch, fp32, the model in
    DataParallel; every figure is also given as a ratio against it;
  * LeNet-300-100 replicates per hour (40 epochs of MNIST's 469 iterations plus an evaluation per epoch) with 1
    replicate (an ordinary run) and 8 and 32 replicates trained concurrently (training/concurrent.py).
Iterations are timed after warm-up iterations (which include compilation), with the device synchronised.
"""

import argparse
import contextlib
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from datasets import base, cifar10  # noqa: E402
from foundations.hparams import DatasetHparams, ModelHparams, TrainingHparams  # noqa: E402
from foundations.step import Step  # noqa: E402
from models import registry as models_registry  # noqa: E402
from platforms.local import Platform  # noqa: E402
from training import concurrent, train  # noqa: E402
from training.standard_callbacks import evaluate  # noqa: E402

RESNET = ModelHparams('cifar_resnet_20', 'kaiming_normal', 'uniform')
LENET = ModelHparams('mnist_lenet_300_100', 'kaiming_normal', 'uniform')
RESNET_RECIPE = dict(epochs=160, iterations_per_epoch=391)
LENET_RECIPE = dict(epochs=40, iterations_per_epoch=469)
BATCH = 128


def synchronize(device: str) -> None:
    if device.startswith('cuda'):
        torch.cuda.synchronize()


class Timer:
    """A training callback: the times of iterations `warmup` and `end` (the device synchronised at those two only,
    so the loop runs ahead of the GPU as it does in a real run)."""

    def __init__(self, device: str, warmup: int, end: int):
        self.device, self.warmup, self.end = device, warmup, end
        self.times = {}

    def __call__(self, output_location, step, model, optimizer, logger):
        if step.iteration in (self.warmup, self.end):
            synchronize(self.device)
            self.times[step.iteration] = time.perf_counter()

    @property
    def per_second(self) -> float:
        return (self.end - self.warmup) / (self.times[self.end] - self.times[self.warmup])


def fake_cifar(num_examples: int, train_set: bool) -> base.InMemoryDataset:
    generator = torch.Generator().manual_seed(0 if train_set else 1)
    examples = torch.randint(0, 256, (num_examples, 32, 32, 3), dtype=torch.uint8, generator=generator)
    labels = torch.randint(0, 10, (num_examples,), generator=generator)
    return base.InMemoryDataset(examples, labels, 10, cifar10.MEAN, cifar10.STD, augment=train_set)


def platform_for(folder: str, device: str, compile_: bool = False) -> Platform:
    return Platform(_root=folder, _dataset_root=os.path.join(folder, 'datasets'), _device=device,
                    _allow_download=False, compile=compile_)


def evaluation_seconds(model, loader, platform) -> float:
    evaluate(model, loader, platform)  # Warm up.
    synchronize(platform.device_str)
    start = time.perf_counter()
    evaluate(model, loader, platform)
    synchronize(platform.device_str)
    return time.perf_counter() - start


def ours(folder, device, train_set, test_loader, precision: str, compile_: bool, warmup: int, iterations: int):
    """(it/s, seconds per evaluation) of the real loop for one precision ('fp32', 'fp16', 'bf16')."""
    torch._dynamo.reset()
    platform = platform_for(folder, device, compile_)
    loader = base.Loader(train_set, BATCH, train=True, device=device)
    hparams = TrainingHparams('sgd', 0.1, '160ep', momentum=0.9, weight_decay=1e-4, milestone_steps='80ep,120ep',
                              gamma=0.1, data_order_seed=0, apex_fp16=precision != 'fp32',
                              amp_dtype='bfloat16' if precision == 'bf16' else None)
    model = models_registry.get(RESNET, seed=0)
    timer = Timer(device, warmup, warmup + iterations)
    location = os.path.join(folder, f'ours_{precision}_{compile_}')
    train.train(hparams, model, loader, location, platform=platform, callbacks=[timer],
                end_step=Step.from_iteration(warmup + iterations, loader.iterations_per_epoch))
    return timer.per_second, evaluation_seconds(model, test_loader, platform)


class PILDataset(torch.utils.data.Dataset):
    """uint8 images (N, 32, 32, 3) served as the original serves CIFAR-10: a PIL image per sample, transformed."""

    def __init__(self, examples: np.ndarray, labels: np.ndarray, transform):
        self.examples, self.labels, self.transform = examples, labels, transform

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        from PIL import Image
        return self.transform(Image.fromarray(self.examples[index])), int(self.labels[index])


def baseline(device: str, train_set: base.InMemoryDataset, warmup: int, iterations: int) -> float:
    """It/s of the original-style loop (see the module docstring)."""
    import torchvision.transforms as T
    transform = T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.ToTensor(),
                           T.Normalize(cifar10.MEAN, cifar10.STD)])
    examples = train_set.examples.permute(0, 2, 3, 1).cpu().numpy()
    dataset = PILDataset(examples, train_set.labels.cpu().numpy(), transform)
    loader = torch.utils.data.DataLoader(dataset, batch_size=BATCH, shuffle=True, num_workers=0, drop_last=True)
    model = models_registry.get(RESNET, seed=0).to(device)
    if device.startswith('cuda'):
        model = torch.nn.DataParallel(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    criterion = torch.nn.CrossEntropyLoss()
    model.train()
    done, start = 0, None
    while done < warmup + iterations:
        for x, y in loader:
            if done == warmup:
                synchronize(device)
                start = time.perf_counter()
            if done == warmup + iterations:
                break
            x, y = x.to(device), y.to(device)
            optimizer.zero_grad()
            criterion(model(x), y).backward()
            optimizer.step()
            done += 1
    synchronize(device)
    return iterations / (time.perf_counter() - start)


def projected_minutes(per_second: float, evaluation: float, recipe: dict) -> float:
    """Minutes for the recipe: its iterations at `per_second` plus one evaluation per epoch and one at the start."""
    return (recipe['epochs'] * recipe['iterations_per_epoch'] / per_second + (recipe['epochs'] + 1) * evaluation) / 60


def lenet_replicates_per_hour(folder, device, replicates: int, warmup: int, iterations: int):
    """(LeNet replicates per hour, seconds per step of all replicates) of the recipe with `replicates` trained
    together (1: an ordinary run); each replicate draws its own data order, as runs without --data_order_seed do.
    A step's time is the difference between runs of warmup + iterations and of warmup steps, over iterations."""
    from datasets import registry as datasets_registry
    platform = platform_for(folder, device)
    dataset_hparams = DatasetHparams('mnist', BATCH)
    loader = datasets_registry.get(dataset_hparams, train=True, platform=platform)
    test_loader = datasets_registry.get(dataset_hparams, train=False, platform=platform)
    hparams = TrainingHparams('sgd', 0.1, '40ep')
    seconds = []
    for steps in (warmup, warmup + iterations):
        models = [models_registry.get(LENET, seed=r) for r in range(replicates)]
        end = Step.from_iteration(steps, loader.iterations_per_epoch)
        locations = [os.path.join(folder, f'lenet_{replicates}_{steps}', f'replicate_{r}') for r in range(replicates)]
        synchronize(device)
        start = time.perf_counter()
        if replicates == 1:
            train.train(hparams, models[0], loader, locations[0], platform=platform, end_step=end)
        else:
            concurrent.train_concurrently(hparams, models, loader, locations, platform=platform, end_step=end)
        synchronize(device)
        seconds.append(time.perf_counter() - start)
    step_seconds = (seconds[1] - seconds[0]) / iterations
    evaluation = evaluation_seconds(models[0], test_loader, platform)
    hours = projected_minutes(1 / step_seconds, evaluation * replicates, LENET_RECIPE) / 60
    return replicates / hours, step_seconds


def resnet_rows(folder, device, quick: bool, skip_compile: bool) -> None:
    """The cifar_resnet_20 table: the baseline, then our loop in each precision, without and with --compile."""
    cuda = device.startswith('cuda')
    batch_note = '' if not quick else ' (quick: 2 batches of data, a few iterations)'
    warmup, iterations = (2, 3) if quick else (30, 300)
    num_examples, num_test = (2 * BATCH, BATCH) if quick else (50000, 10000)
    train_set = fake_cifar(num_examples, True)
    test_loader = base.Loader(fake_cifar(num_test, False), BATCH, train=False, device=device)

    print(f'== cifar_resnet_20, batch {BATCH}{batch_note}: iterations per second after warm-up; projected '
          '160-epoch recipe')
    reference = baseline(device, train_set, 2 if quick else 10, iterations if not quick else 3)
    _, evaluation = ours(folder, device, train_set, test_loader, 'fp32', False, 1, 1)
    print(f'{"loop":<34} {"it/s":>8} {"vs baseline":>12} {"160 epochs":>12}')
    print(f'{"baseline (PIL, DataLoader, DP)":<34} {reference:8.1f} {1.0:11.2f}x '
          f'{projected_minutes(reference, evaluation, RESNET_RECIPE):9.1f} min')
    precisions = ['fp32', 'fp16', 'bf16'] if cuda else ['fp32', 'bf16']
    for compile_ in [False] if skip_compile else [False, True]:
        for precision in precisions:
            label = precision + (' --compile' if compile_ else '')
            started = time.perf_counter()
            try:
                per_second, evaluation = ours(folder, device, train_set, test_loader, precision, compile_,
                                              warmup + (3 if compile_ else 0), iterations)
            except Exception as error:  # noqa: BLE001 - report and go on to the next row.
                print(f'{"ours " + label:<34} failed: {type(error).__name__}: {str(error).splitlines()[0][:100]}')
                continue
            print(f'{"ours " + label:<34} {per_second:8.1f} {per_second / reference:11.2f}x '
                  f'{projected_minutes(per_second, evaluation, RESNET_RECIPE):9.1f} min'
                  f'   (row took {time.perf_counter() - started:.0f} s)')
    if not cuda:
        print('(float16 needs a GPU: no fp16 row on this device)')


def lenet_rows(folder, device, counts, warmup: int, iterations: int) -> None:
    """The LeNet table: replicates per hour for each number of replicates trained together."""
    print('== LeNet-300-100 on MNIST: replicates per hour (40 epochs + an evaluation per epoch), trained together')
    print(f'{"replicates together":<22} {"ms/step":>9} {"replicates/hour":>16} {"vs 1":>8}')
    single = None
    for replicates in counts:
        per_hour, step_seconds = lenet_replicates_per_hour(folder, device, replicates, warmup, iterations)
        single = single or (per_hour if replicates == 1 else None)
        ratio = f'{per_hour / single:7.1f}x' if single else f'{"-":>8}'
        print(f'{replicates:<22} {1000 * step_seconds:9.2f} {per_hour:16.1f} {ratio}', flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--quick', action='store_true', help='tiny sizes: checks that the script works')
    parser.add_argument('--skip_compile', action='store_true', help='omit the --compile rows')
    parser.add_argument('--skip_resnet', action='store_true', help='only the LeNet replicates')
    parser.add_argument('--replicates', default='1,8,32', help='LeNet replicates trained together, e.g. 1,8,32')
    parser.add_argument('--lenet_iterations', type=int, default=None, help='timed LeNet steps (default 300)')
    args = parser.parse_args()
    device = args.device
    name = (f'{torch.cuda.get_device_name(0)}, {torch.cuda.device_count()} visible' if device.startswith('cuda')
            else f'{torch.get_num_threads()} threads')
    print(f'== device: {device} ({name}), torch {torch.__version__}', flush=True)
    with tempfile.TemporaryDirectory() as folder:
        if not args.skip_resnet:
            resnet_rows(folder, device, args.quick, args.skip_compile)
        lenet_rows(folder, device, [int(r) for r in args.replicates.split(',')], 2 if args.quick else 30,
                   args.lenet_iterations or (20 if args.quick else 300))


if __name__ == '__main__':
    with contextlib.suppress(KeyboardInterrupt):
        main()

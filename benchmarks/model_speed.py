"""Forward + backward time per training batch, with the channels_last memory format off and on (run by hand).

    .venv/bin/python benchmarks/model_speed.py [--model_name cifar_resnet_20] [--batch_size 128] [--rounds 10]

Builds the model in train mode, feeds random (N, 3, 32, 32) float32 batches (or (N, 3, 224, 224) for imagenet
models), and times loss.backward() after the forward pass. The two memory formats alternate round by round, so a
change in machine load hits both alike; each round times `--iterations` batches. Prints the median and minimum
seconds per batch of each format and their ratio (channels_last / contiguous: below 1 means channels_last is
faster).
"""

import argparse
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from foundations.hparams import ModelHparams  # noqa: E402
from models import registry  # noqa: E402

FORMATS = {'contiguous': torch.contiguous_format, 'channels_last': torch.channels_last}


def seconds_per_batch(model, x, y, iterations: int) -> float:
    """Mean wall-clock seconds of one forward + backward pass over `iterations` passes."""
    start = time.perf_counter()
    for _ in range(iterations):
        model.zero_grad(set_to_none=True)
        model.loss_criterion(model(x), y).backward()
    return (time.perf_counter() - start) / iterations


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--model_name', default='cifar_resnet_20')
    parser.add_argument('--batch_size', type=int, default=128)
    parser.add_argument('--rounds', type=int, default=10, help='Alternating timing rounds per memory format.')
    parser.add_argument('--iterations', type=int, default=3, help='Batches per round.')
    parser.add_argument('--warmup', type=int, default=3, help='Untimed batches per format first.')
    parser.add_argument('--threads', type=int, default=None, help='torch.set_num_threads (default: torch\'s).')
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    side = 224 if args.model_name.startswith('imagenet') else 32
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(args.batch_size, 3, side, side, generator=generator)
    model = registry.get(ModelHparams(args.model_name, 'kaiming_normal', 'uniform'), seed=0).train()
    y = torch.randint(0, model.state_dict()[model.output_layer_names[0]].shape[0], (args.batch_size,),
                      generator=generator)

    inputs = {name: x.contiguous(memory_format=memory_format) for name, memory_format in FORMATS.items()}
    for name, memory_format in FORMATS.items():
        model.to(memory_format=memory_format)  # In place: converts the 4-d weights.
        seconds_per_batch(model, inputs[name], y, args.warmup)

    times = {name: [] for name in FORMATS}
    for _ in range(args.rounds):
        for name, memory_format in FORMATS.items():
            model.to(memory_format=memory_format)
            times[name].append(seconds_per_batch(model, inputs[name], y, args.iterations))

    print(f'{args.model_name}, batch {args.batch_size}, forward+backward, {torch.get_num_threads()} threads, '
          f'torch {torch.__version__}, {args.rounds} rounds x {args.iterations} batches per format')
    print(f'{"":>8} {"contiguous (s/batch)":>22} {"channels_last (s/batch)":>25} {"ratio cl/contig":>17}')
    for label, stat in (('median', statistics.median), ('min', min)):
        contiguous, channels_last = stat(times['contiguous']), stat(times['channels_last'])
        print(f'{label:>8} {contiguous:>22.4f} {channels_last:>25.4f} {channels_last / contiguous:>17.3f}')


if __name__ == '__main__':
    main()

"""Seconds to read a dataset's training and test sets in a fresh process: from the decoded cache (datasets/cache.py)
against reading them with torchvision's dataset classes, as before the cache.

Run by hand (not a test): `python benchmarks/dataset_load.py [--repeats 5] [--datasets mnist,cifar10,cifar10_full]`.

Every measurement is a new Python process that has already imported torch (its import time is printed apart, as
the reference every run pays anyway) and then times, until both splits are InMemoryDatasets:
  * reference: `import torchvision` + torchvision's MNIST / CIFAR10 reader + InMemoryDataset (no cache);
  * cold: our reader with no cache yet (decodes with torchvision, hashes the sources, writes the cache);
  * rehash: the cache is there but every source file was touched (stat changed): sources hashed again, then mapped;
  * warm: the cache is fresh: the sources are stat'ed and the cached arrays memory-mapped, no torchvision.
Data: the embedded MNIST, the fake CIFAR-10 of tests/conftest.py (50,000 + 500 random images) and a full-size fake
CIFAR-10 (50,000 + 10,000), in a temporary dataset folder. Prints medians and the ratio reference / warm.
Measured on the 2-core development VM (medians of 5, after `import torch` ~1.2-1.4 s): MNIST reference 1.40 s, cold
1.66 s, rehash 0.17 s, warm 0.040 s (35x); fake CIFAR-10 (50,000 + 500) 1.34 / 1.97 / 0.15 / 0.041 s (32x);
full-size fake CIFAR-10 1.51 / 2.04 / 0.16 / 0.038 s (39x). Warm is mostly importing our own modules: mapping the
arrays takes about 2 ms.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CHILD = r'''
import json, os, sys, time
t0 = time.perf_counter()
import torch
t1 = time.perf_counter()
sys.path.insert(0, sys.argv[1])
mode, name, root = sys.argv[2:5]
if mode == 'reference':
    import numpy as np
    import torchvision
    from datasets import base, cifar10, mnist
    if name == 'mnist':
        splits = [torchvision.datasets.MNIST(os.path.join(root, 'mnist'), train=t, download=False) for t in (1, 0)]
        sets = [base.InMemoryDataset(s.data, s.targets, 10, mnist.MEAN, mnist.STD) for s in splits]
    else:
        splits = [cifar10.reader_class()(os.path.join(root, 'cifar10'), train=t, download=False) for t in (1, 0)]
        sets = [base.InMemoryDataset(torch.from_numpy(s.data), np.array(s.targets), 10, cifar10.MEAN, cifar10.STD)
                for s in splits]
else:
    from platforms.local import Platform
    from datasets import cifar10, mnist
    platform = Platform(_root=os.path.join(root, 'results'), _dataset_root=root, _device='cpu',
                        _allow_download=False)
    module = mnist if name == 'mnist' else cifar10
    sets = [module.get_train_set(platform, False), module.get_test_set(platform)]
t2 = time.perf_counter()
print(json.dumps({'torch': t1 - t0, 'load': t2 - t1, 'sizes': [len(s) for s in sets],
                  'torchvision': 'torchvision' in sys.modules}))
'''


def measure(mode: str, name: str, root: str) -> dict:
    result = subprocess.run([sys.executable, '-c', CHILD, REPO, mode, name, root], capture_output=True, text=True,
                            check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def sources(root: str, name: str):
    folder = os.path.join(root, 'mnist', 'MNIST', 'raw') if name == 'mnist' else \
        os.path.join(root, 'cifar10', 'cifar-10-batches-py')
    return [os.path.join(folder, f) for f in os.listdir(folder) if not f.startswith('.')]


def prepare(root: str, dataset: str) -> str:
    sys.path.insert(0, REPO)
    if dataset == 'mnist':
        from datasets import mnist
        mnist.install_embedded_copy(root)
        return 'mnist'
    from tests.conftest import write_cifar10
    write_cifar10(os.path.join(root, 'cifar10'), num_test=10000 if dataset == 'cifar10_full' else 500)
    return 'cifar10'


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--datasets', default='mnist,cifar10,cifar10_full')
    args = parser.parse_args()
    print(f'{"dataset":14s} {"mode":10s} {"load s (median)":>16s} {"import torch s":>15s}  torchvision imported')
    for dataset in args.datasets.split(','):
        root = tempfile.mkdtemp(prefix='open_lth_dataset_load_')
        try:
            name = prepare(root, dataset)
            cache_folder = os.path.join(root, name, 'open_lth_cache')
            rows = {}
            rows['reference'] = [measure('reference', name, root) for _ in range(args.repeats)]
            cold = []
            for _ in range(args.repeats):
                shutil.rmtree(cache_folder, ignore_errors=True)
                cold.append(measure('ours', name, root))
            rows['cold'] = cold
            rehash = []
            for _ in range(args.repeats):
                for path in sources(root, name):
                    os.utime(path)
                rehash.append(measure('ours', name, root))
            rows['rehash'] = rehash
            import time
            time.sleep(2.1)  # Past the racy window: the next load trusts the stats it records.
            measure('ours', name, root)
            rows['warm'] = [measure('ours', name, root) for _ in range(args.repeats)]
            medians = {}
            for mode, results in rows.items():
                medians[mode] = statistics.median(r['load'] for r in results)
                torch_s = statistics.median(r['torch'] for r in results)
                print(f'{dataset:14s} {mode:10s} {medians[mode]:16.3f} {torch_s:15.3f}  '
                      f'{any(r["torchvision"] for r in results)}  (sizes {results[0]["sizes"]})')
            print(f'{dataset:14s} reference / warm = {medians["reference"] / medians["warm"]:.0f}x, '
                  f'cold - reference = {medians["cold"] - medians["reference"]:+.3f} s')
        finally:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == '__main__':
    main()

#!/usr/bin/env bash
# GPU checks for a CUDA machine, in one command (well under 8 minutes on one modern GPU):
#   1. the test suite's CUDA-marked tests;
#   2. LeNet-300-100 on MNIST for 2 epochs, with and without --apex_fp16 (final accuracy and wall time);
#   3. cifar_resnet_20 for 200 iterations on fake CIFAR-10-shaped data, with and without fp16 (iterations/second).
# Usage: scripts/gpu_check.sh   (uses .venv/bin/python if present, else python3; needs no network)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=python3
[ -x .venv/bin/python ] && PY=.venv/bin/python
WORK=$(mktemp -d)
export OPEN_LTH_ROOT="$WORK/results" OPEN_LTH_DATASET_ROOT="$WORK/datasets" OPEN_LTH_OFFLINE=1 PYTHONUNBUFFERED=1

echo "== device"
$PY -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.__version__, torch.cuda.get_device_name(0), torch.cuda.device_count(), 'GPU(s)')"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true

echo "== CUDA-marked tests"
$PY -m pytest -q -m cuda tests

echo "== LeNet-300-100, MNIST, 2 epochs"
for fp16 in "" "--apex_fp16"; do
  start=$(date +%s.%N)
  $PY open_lth.py train --default_hparams=mnist_lenet_300_100 --training_steps=2ep --data_order_seed=0 --quiet $fp16
  end=$(date +%s.%N)
  location=$($PY open_lth.py train --default_hparams=mnist_lenet_300_100 --training_steps=2ep --data_order_seed=0 $fp16 --display_output_location)
  accuracy=$(grep '^test_accuracy,938,' "$location/logger" | cut -d, -f3)
  printf 'lenet %-12s wall %6.1f s   final test accuracy %s\n' "${fp16:-fp32}" "$(echo "$end - $start" | bc)" "$accuracy"
done

echo "== cifar_resnet_20, 200 iterations on fake CIFAR-10-shaped data"
$PY benchmarks/train_speed.py --model cifar_resnet_20 --iterations 200 --device cuda
$PY benchmarks/train_speed.py --model cifar_resnet_20 --iterations 200 --device cuda --fp16
rm -rf "$WORK"

#!/usr/bin/env bash
# GPU checks for a CUDA machine, in one command (under 8 minutes on one H200; the timings are printed as it goes):
#   1. the test suite's CUDA-marked tests (training, fp16, fused optimizers without host synchronisation,
#      concurrent replicates and --compile on the GPU);
#   2. LeNet-300-100 on MNIST for 2 epochs, with and without --apex_fp16 (final accuracy and wall time);
#   3. benchmarks/gpu_speed.py: cifar_resnet_20 at batch 128, our loop in fp32 / --apex_fp16 / bf16 with and without
#      --compile against an original-style baseline (PIL transforms in a DataLoader, DataParallel), the projected
#      160-epoch time, and LeNet replicates per hour with 1, 8 and 32 concurrent replicates;
#   4. benchmarks/evaluation_speed.py: test-set evaluation in large batches against batch by batch.
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

echo "== CUDA-marked tests ($(date +%T))"
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

echo "== benchmarks/gpu_speed.py ($(date +%T))"
timeout 420 $PY benchmarks/gpu_speed.py --device cuda
echo "== benchmarks/evaluation_speed.py ($(date +%T))"
timeout 60 $PY benchmarks/evaluation_speed.py --device cuda || echo "evaluation_speed.py did not finish"
echo "== done ($(date +%T))"
rm -rf "$WORK"

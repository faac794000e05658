"""Bad input: one line naming the flag (and the valid values), exit status 2, no traceback, no folder created."""

import os

import pytest

from tests.conftest import run_cli

MNIST = ['--default_hparams=mnist_lenet_300_100']

BAD_RUNS = [
    (['train'] + MNIST + ['--trainig_steps=1ep'], 'unrecognized arguments: --trainig_steps=1ep'),
    (['train'] + MNIST + ['--model_name=mnist_resnet_20'],
     "argument --model_name: no such model 'mnist_resnet_20'; valid names: mnist_lenet_<W>"),
    (['train', '--default_hparams=cifar_resnet_18'], "argument --default_hparams: no such model 'cifar_resnet_18'"),
    (['train'] + MNIST + ['--dataset_name=svhn'], "argument --dataset_name: unknown dataset 'svhn'; choose from: "),
    (['train'] + MNIST + ['--training_steps=abc'], "argument --training_steps: invalid step string 'abc'"),
    (['train'] + MNIST + ['--training_steps=040ep'], "argument --training_steps: invalid step string '040ep'"),
    (['train'] + MNIST + ['--warmup_steps=5 ep'], "argument --warmup_steps: invalid step string '5 ep'"),
    (['train'] + MNIST + ['--lr=-1'], 'argument --lr: must be a finite number > 0, got -1.0'),
    (['train'] + MNIST + ['--lr=nan'], 'argument --lr: must be a finite number > 0, got nan'),
    (['train'] + MNIST + ['--batch_size=0'], 'argument --batch_size: must be an integer >= 1, got 0'),
    (['train'] + MNIST + ['--replicate=0'], 'argument --replicate: must be an integer >= 1, got 0'),
    (['train'] + MNIST + ['--optimizer_name=rmsprop'], "argument --optimizer_name: no such optimizer 'rmsprop'"),
    (['train'] + MNIST + ['--model_init=xavier'], "argument --model_init: no initializer 'xavier'"),
    (['train'] + MNIST + ['--gamma=0.1'], 'milestones and gamma hyperparameters must both be set'),
    (['train'] + MNIST + ['--subsample_fraction=1.5'], 'argument --subsample_fraction: must be a fraction in (0, 1]'),
    (['train'] + MNIST + ['--unsupervised_labels=bogus'], "argument --unsupervised_labels: unknown unsupervised"),
    (['train'] + MNIST + ['--others_frozen_exceptions=fc.wieght'], "argument --others_frozen_exceptions: 'fc.wieght'"),
    (['train'] + MNIST + ['--apex_fp16'], 'argument --apex_fp16: float16 mixed precision needs a CUDA device'),
    (['train'] + MNIST + ['--num_workers=-1'], 'argument --num_workers: must be an integer >= 0'),
    (['lottery'] + MNIST + ['--levels=2', '--pruning_strategy=magnitude'],
     "argument --pruning_strategy: no pruning strategy 'magnitude'; choose from: sparse_global"),
    (['lottery'] + MNIST + ['--levels=2', '--pruning_layers_to_ignore=fc.wieght'],
     "argument --pruning_layers_to_ignore: 'fc.wieght' is not a prunable tensor"),
    (['lottery'] + MNIST + ['--levels=2', '--pruning_fraction=1'], 'argument --pruning_fraction: must be a fraction'),
    (['lottery'] + MNIST + ['--levels=-1'], 'argument --levels: must be an integer >= 0, got -1'),
    (['lottery'] + MNIST + ['--levels=1', '--rewinding_steps=00it'], "argument --rewinding_steps: invalid step"),
    (['lottery'] + MNIST + ['--levels=1', '--rewinding_steps=40ep'],
     'the rewind point (40ep) must come before the end of training (--training_steps=40ep)'),
    (['lottery'] + MNIST + ['--levels=1', '--rewinding_steps=1ep', '--pretrain'],
     'argument --rewinding_steps: not allowed with --pretrain'),
    (['lottery'] + MNIST + ['--levels=1', '--pretrain', '--pretrain_training_steps=1ep', '--pretrain_lr=0'],
     'argument --pretrain_lr: must be a finite number > 0'),
    (['lottery'] + MNIST + ['--levels=1', '--pretrain', '--pretrain_training_steps=1ep',
                            '--pretrain_dataset_name=svhn'], "argument --pretrain_dataset_name: unknown dataset"),
    (['lottery_branch', 'randomly_prune'] + MNIST + ['--levels=1-2-3', '--seed=1'],
     "argument --levels: invalid level '1-2-3'"),
    (['lottery_branch', 'randomly_prune'] + MNIST + ['--levels=1', '--seed=1', '--strategy=bogus'],
     "argument --strategy: invalid strategy 'bogus'; choose from: layerwise, global, even, identity"),
    (['lottery_branch', 'randomly_prune'] + MNIST + ['--levels=1', '--seed=1', '--start_at=middle'],
     "argument --start_at: invalid starting point 'middle'"),
    (['lottery_branch', 'randomly_reinitialize'] + MNIST + ['--levels=0'],
     'argument --levels: level 0 of the lottery experiment in'),
    (['lottery_branch', 'retrain'] + MNIST + ['--levels=0', '--retrain_d_dataset_name=mnist',
                                              '--retrain_d_batch_size=0', '--retrain_t_optimizer_name=sgd',
                                              '--retrain_t_lr=0.1', '--retrain_t_training_steps=1ep'],
     'argument --retrain_d_batch_size: must be an integer >= 1, got 0'),
    (['lottery_branch', 'retrain'] + MNIST + ['--levels=0', '--retrain_d_dataset_name=mnist',
                                              '--retrain_d_batch_size=128', '--retrain_t_optimizer_name=sgd',
                                              '--retrain_t_lr=0.1', '--retrain_t_training_steps=1ep',
                                              '--retrain_t_milestone_steps=1ep,x'],
     "argument --retrain_t_milestone_steps: invalid step string 'x'"),
]


@pytest.mark.parametrize('argv, message', BAD_RUNS, ids=[' '.join(a[2:] if len(a) > 2 else a) for a, _ in BAD_RUNS])
def test_bad_input(argv, message, capsys, results_root):
    status, out, err = run_cli(argv, capsys)
    assert status == 2, (out, err)
    assert 'Traceback' not in err
    last_line = err.splitlines()[-1]
    assert last_line.startswith('open_lth.py: error: ')
    assert message in last_line
    if 'unrecognized' not in message:
        assert err.count('\n') == 1  # Exactly one line: no usage banner, no traceback.
    assert not os.path.exists(results_root)
    assert out == ''  # Nothing was started: not even the banner.

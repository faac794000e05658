"""`--tensorboard`: event files beside the logger with one scalar per logged metric; not part of any hash."""

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO, run_cli

TINY = ['--default_hparams=mnist_lenet_300_100', '--model_name=mnist_lenet_20_10', '--subsample_fraction=0.01',
        '--batch_size=60', '--data_order_seed=0', '--training_steps=2ep', '--quiet']


def test_tensorboard_events_match_the_logger_and_the_folder_is_unchanged(capsys):
    pytest.importorskip('tensorboard')
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    status, plain, _ = run_cli(['train'] + TINY + ['--display_output_location'], capsys)
    status, flagged, _ = run_cli(['train'] + TINY + ['--tensorboard', '--display_output_location'], capsys)
    assert status == 0 and plain == flagged  # Not part of the hash.
    location = flagged.strip()
    status, _, err = run_cli(['train'] + TINY + ['--tensorboard'], capsys)
    assert status == 0, err
    assert any(name.startswith('events.out.tfevents.') for name in os.listdir(location))

    events = EventAccumulator(location)
    events.Reload()
    assert sorted(events.Tags()['scalars']) == ['test_accuracy', 'test_examples', 'test_loss']
    logger = [line.split(',') for line in open(os.path.join(location, 'logger')).read().splitlines()]
    for tag in ('test_accuracy', 'test_loss'):
        expected = [(int(it), float(v)) for name, it, v in logger if name == tag]
        assert [(e.step, pytest.approx(e.value, rel=1e-6)) for e in events.Scalars(tag)] == expected
        assert [it for it, _ in expected] == [0, 10, 20]


def test_starting_open_lth_imports_no_pandas_matplotlib_or_tensorboard():
    code = ('import sys; import cli.main; '
            'print(sorted(m for m in ("pandas", "matplotlib", "tensorboard", "torch.utils.tensorboard") '
            'if m in sys.modules))')
    out = subprocess.run([sys.executable, '-c', code], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert out.strip() == '[]'

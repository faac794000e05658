"""`--compile` (training/compilation.py): compiled training equals eager training; failures fall back to eager."""

import torch

from datasets import registry as datasets_registry
from foundations.hparams import DatasetHparams, ModelHparams, TrainingHparams
from models import registry as models_registry
from platforms.local import Platform
from tests.conftest import run_cli
from training import compilation, train

DATASET = DatasetHparams('mnist', 64, do_not_augment=True, subsample_fraction=0.01)  # 600 examples, 10 it/ep
MODEL = ModelHparams('mnist_lenet_32_16', 'kaiming_normal', 'uniform')
TRAINING = TrainingHparams('sgd', 0.1, '2ep', data_order_seed=0, momentum=0.9)


def trained(platform, location):
    model = models_registry.get(MODEL, seed=3)
    train.train(TRAINING, model, datasets_registry.get(DATASET, train=True, platform=platform), location, platform=platform)
    return model


def compiling(platform):
    return Platform(_root=platform.root, _dataset_root=platform.dataset_root, _device='cpu', _allow_download=False,
                    compile=True)


def test_compiled_training_equals_eager(platform, tmp_path, monkeypatch, capsys):
    # aot_eager traces forward and backward as inductor does, without generating C++ (which takes minutes here).
    monkeypatch.setenv(compilation.BACKEND_VARIABLE, 'aot_eager')
    torch._dynamo.reset()
    eager = trained(platform, str(tmp_path / 'eager'))
    compiled = trained(compiling(platform), str(tmp_path / 'compiled'))
    differences = [(a - b).abs().max().item() for a, b in zip(eager.parameters(), compiled.parameters())]
    assert max(differences) < 1e-5
    assert max((a - b).abs().max().item() for a, b in
               zip(eager.parameters(), models_registry.get(MODEL, seed=3).parameters())) > 0.01
    assert 'warning' not in capsys.readouterr().err


def test_compile_failure_falls_back_to_eager_with_one_line(platform, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(compilation.BACKEND_VARIABLE, 'no_such_backend')
    eager = trained(platform, str(tmp_path / 'eager'))
    fallback = trained(compiling(platform), str(tmp_path / 'compiled'))
    assert all(torch.equal(a, b) for a, b in zip(eager.parameters(), fallback.parameters()))
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and err.startswith('open_lth.py: warning: --compile: torch.compile failed (')
    assert err.endswith('training in eager mode\n')


def test_compile_is_a_job_flag(capsys):
    argv = ['train', '--default_hparams=mnist_lenet_300_100', '--display_output_location']
    plain = run_cli(argv, capsys)
    assert run_cli(argv + ['--compile'], capsys) == plain and plain[0] == 0


def test_compiled_concurrent_replicates_equal_eager_ones(platform, tmp_path, monkeypatch, capsys):
    from training import concurrent
    monkeypatch.setenv(compilation.BACKEND_VARIABLE, 'aot_eager')
    torch._dynamo.reset()
    loader = datasets_registry.get(DATASET, train=True, platform=platform)
    results = []
    for name, job_platform in (('eager', platform), ('compiled', compiling(platform))):
        models = [models_registry.get(MODEL, seed=r) for r in (1, 2)]
        concurrent.train_concurrently(TRAINING, models, loader, [str(tmp_path / name / str(r)) for r in (1, 2)],
                                      platform=job_platform)
        results.append(models)
    for a, b in zip(*results):
        assert max((p - q).abs().max().item() for p, q in zip(a.parameters(), b.parameters())) < 1e-5
    assert 'warning' not in capsys.readouterr().err

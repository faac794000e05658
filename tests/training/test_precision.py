"""Mixed precision choices that work without a GPU: bfloat16 autocast on the CPU, and hash-neutral defaults."""

import pytest
import torch

from datasets import registry as datasets_registry
from foundations.hparams import DatasetHparams, HparamsError, ModelHparams, TrainingHparams
from foundations.step import Step
from models import registry as models_registry
from training import precision, train


def test_amp_dtype_is_hash_neutral():
    plain = TrainingHparams('sgd', 0.1, '1ep', apex_fp16=True)
    assert str(TrainingHparams('sgd', 0.1, '1ep', apex_fp16=True, amp_dtype='float16')) == str(plain)
    assert str(plain) == "Hparams(apex_fp16=True, lr=0.1, optimizer_name='sgd', training_steps='1ep')"
    assert 'amp_dtype' not in plain.display
    assert "amp_dtype='bfloat16'" in str(TrainingHparams('sgd', 0.1, '1ep', apex_fp16=True, amp_dtype='bfloat16'))


def test_validation():
    cpu = torch.device('cpu')
    precision.validate(TrainingHparams('sgd', 0.1, '1ep', apex_fp16=True, amp_dtype='bfloat16'), cpu)
    with pytest.raises(HparamsError, match='argument --apex_fp16: float16 mixed precision needs a CUDA device'):
        precision.validate(TrainingHparams('sgd', 0.1, '1ep', apex_fp16=True), cpu)
    with pytest.raises(HparamsError, match="argument --pretrain_amp_dtype: unknown dtype 'float8'"):
        precision.validate(TrainingHparams('sgd', 0.1, '1ep', amp_dtype='float8'), cpu, 'pretrain')


def test_bfloat16_training_on_the_cpu(platform, tmp_path):
    loader = datasets_registry.get(DatasetHparams('mnist', 60, subsample_fraction=0.01), platform=platform)
    model = models_registry.get(ModelHparams('mnist_lenet_20_10', 'kaiming_normal', 'uniform'), seed=0)
    before = model.fc.weight.clone()
    hparams = TrainingHparams('sgd', 0.1, '1ep', apex_fp16=True, amp_dtype='bfloat16', data_order_seed=0)
    amp = precision.Precision(hparams, torch.device('cpu'))
    assert amp.dtype == torch.bfloat16 and not amp.scaler.is_enabled()
    with amp.autocast():
        assert model(next(iter(loader))[0]).dtype == torch.bfloat16
    train.train(hparams, model, loader, str(tmp_path), end_step=Step(5, 10), platform=platform)
    assert model.fc.weight.dtype == torch.float32 and not torch.equal(model.fc.weight, before)
    assert torch.isfinite(model.fc.weight).all()

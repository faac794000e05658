"""Evaluation (training/standard_callbacks.evaluate) in large batches without autograd: the same correct counts and,
to float rounding, the same loss as evaluating batch by batch at the loader's batch size; no graph is built; the
large batches cover exactly the examples (and augmentation) of a pass, also per process when sharded."""

import numpy as np
import pytest
import torch

from datasets import base, cifar10
from datasets import registry as datasets_registry
from foundations.hparams import DatasetHparams, ModelHparams
from models import base as models_base
from models import registry as models_registry
from pruning.mask import Mask
from pruning.pruned_model import PrunedModel
from training.standard_callbacks import evaluate


def batch_by_batch(model, loader):
    """The reference: (mean loss, accuracy, count) over the loader's own batches, as evaluation ran before."""
    model.eval()
    loss_sum, correct, count = 0.0, 0, 0
    with torch.no_grad():
        for x, y in loader:
            output = model(models_base.to_memory_format(x, model.memory_format))
            loss_sum += model.loss_criterion(output, y).double().item() * y.shape[0]
            correct += int((output.argmax(dim=1) == y).sum())
            count += y.shape[0]
    return loss_sum / count, correct / count, count


def fake_cifar(n, augment=False, seed=0):
    rng = np.random.default_rng(seed)
    images = torch.from_numpy(rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8))
    return base.InMemoryDataset(images, rng.integers(0, 10, size=n), 10, cifar10.MEAN, cifar10.STD, augment=augment)


def test_mnist_lenet_large_batches_equal_batch_128(platform):
    loader = datasets_registry.get(DatasetHparams('mnist', 128), train=False, platform=platform)
    sizes = [y.shape[0] for _, y in loader.evaluation_batches()]
    assert sizes == [640] * 15 + [400]  # 2 MiB of float32 MNIST images: 5 loader batches; 10,000 in all
    model = models_registry.get(ModelHparams('mnist_lenet_300_100', 'kaiming_normal', 'uniform'), seed=3)
    loss, accuracy, count = evaluate(model, loader, platform)
    reference_loss, reference_accuracy, reference_count = batch_by_batch(model, loader)
    assert count == reference_count == 10000
    assert round(accuracy * count) == round(reference_accuracy * count)  # the exact number of correct answers
    assert 0.05 < accuracy < 0.3  # untrained: about chance
    assert loss == pytest.approx(reference_loss, rel=1e-6)


def test_resnet_with_batchnorm_equals_batch_by_batch(platform):
    """Eval-mode BatchNorm uses running statistics: batch size does not change a single output."""
    model = models_registry.get(ModelHparams('cifar_resnet_8', 'kaiming_normal', 'uniform'), seed=1)
    model.train()
    with torch.no_grad():  # non-trivial running statistics
        model(torch.randn(64, 3, 32, 32))
    loader = base.Loader(fake_cifar(300), batch_size=16, train=False)
    assert [y.shape[0] for _, y in loader.evaluation_batches(batch_bytes=16 * 12288 * 7)] == [112, 112, 76]
    loss, accuracy, count = evaluate(model, loader, platform)
    reference = batch_by_batch(model, loader)
    assert (count, round(accuracy * count)) == (reference[2], round(reference[1] * reference[2]))
    assert loss == pytest.approx(reference[0], rel=1e-6)


def test_no_autograd_graph_and_training_still_works(platform):
    dense = models_registry.get(ModelHparams('mnist_lenet_300_100', 'kaiming_normal', 'uniform'), seed=0)
    model = PrunedModel(dense, Mask.ones_like(dense))
    seen = []
    model.model.register_forward_hook(
        lambda module, inputs, output: seen.append((output.requires_grad, output.is_inference())))
    loader = datasets_registry.get(DatasetHparams('mnist', 128), train=False, platform=platform)
    evaluate(model, loader, platform)
    assert len(seen) == 16 and set(seen) == {(False, True)}
    assert not any(p.is_inference() for p in model.parameters())
    model.train()
    x, y = next(iter(loader))
    model.loss_criterion(model(x), y).backward()  # parameters and masks are still usable for training
    assert all(p.grad is not None for p in model.parameters())


def test_evaluation_batches_cover_an_augmented_shuffled_pass_exactly():
    """Train-set evaluation: the large batches are the pass's batches glued together, augmentation included."""
    loader = base.Loader(fake_cifar(250, augment=True), batch_size=32, train=True)
    loader.shuffle(7)
    x_small = torch.cat([x for x, _ in loader])
    y_small = torch.cat([y for _, y in loader])
    batches = list(loader.evaluation_batches(batch_bytes=3 * 32 * 12288))
    assert [y.shape[0] for _, y in batches] == [96, 96, 58]
    assert torch.equal(torch.cat([x for x, _ in batches]), x_small)
    assert torch.equal(torch.cat([y for _, y in batches]), y_small)


@pytest.mark.parametrize('loader_class', ['images', 'tensors'])
def test_sharded_evaluation_batches_are_each_process_share(loader_class):
    n, batch, world = 101, 10, 3  # a batch size that the world size does not divide, a partial last batch
    dataset = fake_cifar(n)
    for rank in range(world):
        if loader_class == 'images':
            loader = base.Loader(dataset, batch, train=False, rank=rank, world_size=world)
        else:
            loader = base.TensorLoader(torch.arange(n * 4, dtype=torch.float32).view(n, 4), torch.arange(n), batch,
                                       train=False, rank=rank, world_size=world)
        loader.shuffle(3)
        expected = torch.cat([y for _, y in loader])
        got = [y for _, y in loader.evaluation_batches(batch_bytes=1)]  # at least one loader batch each
        assert len(got) == loader.iterations_per_epoch
        got = [y for _, y in loader.evaluation_batches(batch_bytes=4 * batch * 12288)]
        assert torch.equal(torch.cat(got), expected)

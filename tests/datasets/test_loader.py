"""The in-memory pipeline (datasets/base.py): storage, order, determinism, resuming, exactness against torchvision's
per-sample transforms, sharding and augmentation statistics. Synthetic data only, so these run in seconds."""

import numpy as np
import pytest
import torch
import torchvision.transforms as T
import torchvision.transforms.functional as TF
from PIL import Image

from datasets import base, cifar10

CIFAR_MEAN, CIFAR_STD = cifar10.MEAN, cifar10.STD


def random_images(n, h=32, w=32, c=3, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).integers(0, 256, size=(n, h, w, c), dtype=np.uint8))


def make_dataset(n=300, augment=True, seed=0, labels=None):
    """n random 32x32 RGB images; labels default to 0..n-1 so that a batch's labels name its examples."""
    labels = np.arange(n) if labels is None else labels
    return base.InMemoryDataset(random_images(n, seed=seed), labels, n, CIFAR_MEAN, CIFAR_STD, augment=augment)


def coordinate_dataset(n):
    """Images whose pixels say where they come from: channel 0 = row + 1, channel 1 = column + 1, channel 2 = 200
    (zero padding reads as 0). Normalisation is the identity up to /255."""
    rows = torch.arange(1, 33, dtype=torch.uint8).view(32, 1).expand(32, 32)
    columns = torch.arange(1, 33, dtype=torch.uint8).view(1, 32).expand(32, 32)
    image = torch.stack([rows, columns, torch.full((32, 32), 200, dtype=torch.uint8)], dim=-1)
    return base.InMemoryDataset(image.expand(n, 32, 32, 3).contiguous(), np.zeros(n), 10, (0, 0, 0), (1, 1, 1),
                        augment=True)


def decode_augmentation(x):
    """(row offset, column offset, flipped) of each image of a batch of `coordinate_dataset`, offsets in [0, 8]
    (into the padded image). x: (B, 3, 32, 32) with values pixel / 255."""
    pixels = torch.round(x * 255).long()
    row_offset = pixels[:, 0, 8, 16] - 1 - 4  # output row 8 always reads a real row: source row offset - 4 + 8
    flipped = pixels[:, 1, 16, 9] < pixels[:, 1, 16, 8]
    source_column_8 = pixels[:, 1, 16, 8] - 1  # = offset - 4 + (8, or 31 - 8 when flipped)
    column_offset = torch.where(flipped, source_column_8 + 4 - 23, source_column_8 + 4 - 8)
    return row_offset, column_offset, flipped


def torchvision_reference(image_hwc, mean, std, offset=None, flip=False):
    """The original's per-sample pipeline on one uint8 (H, W, C) image: PIL, [pad 4 + crop + hflip], ToTensor,
    Normalize."""
    array = image_hwc.numpy()
    image = Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array)
    if offset is not None:
        image = TF.crop(TF.pad(image, 4, fill=0), offset[0], offset[1], array.shape[0], array.shape[1])
        if flip:
            image = TF.hflip(image)
    return T.Normalize(mean, std)(T.ToTensor()(image))


def all_batches(loader, start=0):
    return [(it, x.clone(), y.clone()) for it, (x, y) in loader.batches(start)]


# Storage and order ------------------------------------------------------------------------------------------------

def test_dataset_is_one_uint8_tensor_on_the_device():
    dataset = make_dataset(50)
    loader = base.Loader(dataset, 16, train=True, device='cpu')
    assert loader.dataset.examples.dtype == torch.uint8
    assert loader.dataset.examples.shape == (50, 3, 32, 32)
    assert loader.dataset.examples.is_contiguous()
    assert loader.dataset.examples.device == torch.device('cpu')
    x, y = next(iter(loader))
    assert x.dtype == torch.float32 and x.shape == (16, 3, 32, 32) and x.is_contiguous()
    assert y.dtype == torch.int64 and y.shape == (16,)


def test_greyscale_examples_get_a_channel_dimension():
    dataset = base.InMemoryDataset(random_images(10, 28, 28, 1)[..., 0], np.zeros(10), 10, (0.5,), (0.25,))
    assert dataset.examples.shape == (10, 1, 28, 28)
    x, _ = next(iter(base.Loader(dataset, 4, train=False)))
    assert x.shape == (4, 1, 28, 28)


def test_dataset_rejects_mismatched_counts_and_non_uint8():
    with pytest.raises(ValueError, match='Different number of examples'):
        base.InMemoryDataset(random_images(10), np.zeros(9), 10, CIFAR_MEAN, CIFAR_STD)
    with pytest.raises(ValueError, match='uint8'):
        base.InMemoryDataset(random_images(10).float(), np.zeros(10), 10, CIFAR_MEAN, CIFAR_STD)


def test_unshuffled_order_is_the_dataset_order_and_last_batch_is_partial():
    loader = base.Loader(make_dataset(100, augment=False), 32, train=True)
    batches = all_batches(loader)
    assert len(loader) == loader.iterations_per_epoch == 4 == len(batches)
    assert [it for it, _, _ in batches] == [0, 1, 2, 3]
    assert [len(y) for _, _, y in batches] == [32, 32, 32, 4]
    assert torch.equal(torch.cat([y for _, _, y in batches]), torch.arange(100))


@pytest.mark.parametrize('seed', [0, 1, 7])
def test_shuffle_is_the_seeded_randperm(seed):
    loader = base.Loader(make_dataset(300), 64, train=True)
    loader.shuffle(seed)
    order = torch.cat([y for _, _, y in all_batches(loader)])
    assert torch.equal(order, torch.randperm(300, generator=torch.Generator().manual_seed(seed)))


def test_shuffle_none_is_unrepeatable():
    loader = base.Loader(make_dataset(300), 300, train=True)
    loader.shuffle(None)
    first = next(iter(loader))[1].clone()
    loader.shuffle(None)
    second = next(iter(loader))[1]
    assert not torch.equal(first, second)
    assert torch.equal(first.sort().values, second.sort().values)


def test_labels_travel_with_their_images():
    dataset = make_dataset(200, augment=False)
    loader = base.Loader(dataset, 64, train=True)
    loader.shuffle(3)
    for x, y in loader:
        expected = torch.stack([torchvision_reference(dataset.examples[i].permute(1, 2, 0), CIFAR_MEAN, CIFAR_STD)
                                for i in y.tolist()])
        assert torch.equal(x, expected)


# Determinism and resuming -----------------------------------------------------------------------------------------

def test_two_loaders_give_bit_identical_epochs_under_a_seed():
    loaders = [base.Loader(make_dataset(250), 64, train=True) for _ in range(2)]
    epochs = []
    for loader in loaders:
        passes = []
        for ep in range(2):
            loader.shuffle(10 + ep)
            passes.append(all_batches(loader))
        epochs.append(passes)
    for ep in range(2):
        for (it_a, x_a, y_a), (it_b, x_b, y_b) in zip(epochs[0][ep], epochs[1][ep]):
            assert it_a == it_b and torch.equal(x_a, x_b) and torch.equal(y_a, y_b)
    # Different epochs (seeds) differ in order and augmentation.
    assert not torch.equal(epochs[0][0][0][2], epochs[0][1][0][2])


def test_every_pass_until_the_next_shuffle_is_identical():
    loader = base.Loader(make_dataset(130), 64, train=True)
    loader.shuffle(5)
    first, second = all_batches(loader), all_batches(loader)
    for (_, x_a, y_a), (_, x_b, y_b) in zip(first, second):
        assert torch.equal(x_a, x_b) and torch.equal(y_a, y_b)


def test_an_interleaved_pass_does_not_disturb_the_running_one():
    """Evaluating on the training loader in the middle of an epoch (eval_on_train) must not change the epoch."""
    loader = base.Loader(make_dataset(200), 50, train=True)
    loader.shuffle(2)
    reference = all_batches(loader)
    seen = []
    for it, (x, y) in loader.batches():
        if it == 1:
            all_batches(loader)
        seen.append((x.clone(), y.clone()))
    for (_, x_a, y_a), (x_b, y_b) in zip(reference, seen):
        assert torch.equal(x_a, x_b) and torch.equal(y_a, y_b)


@pytest.mark.parametrize('start', [0, 1, 3, 4, 5])
def test_batches_from_start_are_the_tail_of_a_full_pass(start):
    loader = base.Loader(make_dataset(300), 64, train=True)  # 5 batches
    loader.shuffle(4)
    full = all_batches(loader)
    resumed = all_batches(loader, start=start)
    assert [it for it, _, _ in resumed] == list(range(start, 5))
    for (it_a, x_a, y_a), (it_b, x_b, y_b) in zip(full[start:], resumed):
        assert it_a == it_b and torch.equal(x_a, x_b) and torch.equal(y_a, y_b)


# Exactness against torchvision ------------------------------------------------------------------------------------

def test_unaugmented_batch_equals_torchvision_to_tensor_and_normalize_exactly():
    dataset = make_dataset(64, augment=False)
    x, y = next(iter(base.Loader(dataset, 64, train=True)))
    images = random_images(64)
    expected = torch.stack([torchvision_reference(images[i], CIFAR_MEAN, CIFAR_STD) for i in range(64)])
    assert torch.equal(x, expected)


def test_test_loader_never_augments():
    dataset = make_dataset(64, augment=True)
    x, _ = next(iter(base.Loader(dataset, 64, train=False)))
    images = random_images(64)
    assert torch.equal(x, torch.stack([torchvision_reference(images[i], CIFAR_MEAN, CIFAR_STD) for i in range(64)]))


def test_greyscale_normalisation_equals_torchvision_exactly():
    images = random_images(32, 28, 28, 1)
    dataset = base.InMemoryDataset(images[..., 0], np.zeros(32), 10, (0.1307,), (0.3081,))
    x, _ = next(iter(base.Loader(dataset, 32, train=False)))
    expected = torch.stack([torchvision_reference(images[i], (0.1307,), (0.3081,)) for i in range(32)])
    assert torch.equal(x, expected)


def test_crop_and_flip_equals_torchvision_pad_crop_hflip_for_every_offset():
    offsets = torch.tensor([(r, c) for r in range(9) for c in range(9)] * 2)  # (162, 2)
    flips = torch.arange(162) >= 81
    images = random_images(162, seed=3)
    dataset = base.InMemoryDataset(images, np.zeros(162), 10, CIFAR_MEAN, CIFAR_STD, augment=True)
    loader = base.Loader(dataset, 162, train=True)
    x, _ = loader.make_batch(torch.arange(162), offsets, flips)
    for i in range(162):
        expected = torchvision_reference(images[i], CIFAR_MEAN, CIFAR_STD, offsets[i].tolist(), bool(flips[i]))
        assert torch.equal(x[i], expected), (offsets[i].tolist(), bool(flips[i]))


def test_loader_augmentation_equals_torchvision_for_the_offsets_it_drew():
    """Black box: recover each example's crop and flip from coordinate images; the whole augmented image must then
    be torchvision's pad(4) + crop + hflip at those offsets, and the offsets must lie in [0, 8]."""
    dataset = coordinate_dataset(256)
    loader = base.Loader(dataset, 128, train=True)
    loader.shuffle(0)
    source = dataset.examples[0].permute(1, 2, 0).cpu()
    for x, _ in loader:
        rows, columns, flips = decode_augmentation(x)
        assert rows.min() >= 0 and rows.max() <= 8 and columns.min() >= 0 and columns.max() <= 8
        for i in range(len(x)):
            expected = torchvision_reference(source, (0, 0, 0), (1, 1, 1), (int(rows[i]), int(columns[i])),
                                             bool(flips[i]))
            assert torch.equal(x[i], expected)


def test_augmentation_statistics():
    """Crop offsets uniform over [-4, 4] on each axis ([0, 8] of the padded image) and flips at rate 0.5."""
    loader = base.Loader(coordinate_dataset(4000), 1000, train=True)
    draws = []
    for seed in range(3):
        loader.shuffle(seed)
        draws += [decode_augmentation(x) for x, _ in loader]
    rows = torch.cat([d[0] for d in draws])
    columns = torch.cat([d[1] for d in draws])
    flips = torch.cat([d[2] for d in draws])
    n = len(rows)  # 12,000: the standard error of a frequency of 1/9 is 0.0029
    for offsets in (rows, columns):
        frequencies = torch.bincount(offsets, minlength=9).double() / n
        assert len(frequencies) == 9
        assert torch.all((frequencies - 1 / 9).abs() < 0.015), frequencies
    assert abs(flips.double().mean().item() - 0.5) < 0.02
    # Rows, columns and flips are drawn independently: no correlation to speak of.
    assert abs(np.corrcoef(rows.numpy(), columns.numpy())[0, 1]) < 0.05
    assert abs(np.corrcoef(rows.numpy(), flips.numpy())[0, 1]) < 0.05


# Sharding ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('world_size', [2, 3])
def test_shards_cover_the_epoch_once_and_rebuild_each_global_batch(world_size):
    n, batch_size = 301, 64  # the last global batch has 45 examples
    single = base.Loader(make_dataset(n), batch_size, train=True)
    single.shuffle(9)
    reference = all_batches(single)
    shards = []
    for rank in range(world_size):
        loader = base.Loader(make_dataset(n), batch_size, train=True, rank=rank, world_size=world_size)
        assert len(loader) == len(single)
        loader.shuffle(9)
        shards.append(all_batches(loader))
        assert loader.num_examples == sum(len(y) for _, _, y in shards[-1])
    seen = torch.cat([y for shard in shards for _, _, y in shard])
    assert torch.equal(seen.sort().values, torch.arange(n))
    for it, x, y in reference:
        rebuilt_x = torch.empty_like(x)
        rebuilt_y = torch.empty_like(y)
        for rank in range(world_size):
            shard_it, shard_x, shard_y = shards[rank][it]
            assert shard_it == it
            rebuilt_x[rank::world_size] = shard_x
            rebuilt_y[rank::world_size] = shard_y
        assert torch.equal(rebuilt_x, x) and torch.equal(rebuilt_y, y)


def test_loader_rejects_bad_arguments():
    with pytest.raises(ValueError, match='batch_size'):
        base.Loader(make_dataset(10), 0, train=True)
    with pytest.raises(ValueError, match='rank'):
        base.Loader(make_dataset(10), 4, train=True, rank=2, world_size=2)


def test_normalised_copy_gives_the_per_batch_values_bit_for_bit(monkeypatch):
    """Without augmentation a small dataset is normalised once; batches equal the per-batch normalisation exactly
    (torchvision's ToTensor + Normalize, tested above), also after the dataset's examples are replaced."""
    dataset = base.InMemoryDataset(random_images(300, 28, 28, 1)[..., 0], np.arange(300), 300, (0.1307,),
                                   (0.3081,))
    loader = base.Loader(dataset, 64, train=True)
    loader.shuffle(5)
    copied = all_batches(loader)
    assert loader._normalised_examples is not None and loader._normalised_examples.shape == (300, 1, 28, 28)
    monkeypatch.setattr(base, 'NORMALISED_COPY_BYTES', 0)  # too large: normalised batch by batch
    fresh = base.Loader(dataset, 64, train=True)
    fresh.shuffle(5)
    per_batch = all_batches(fresh)
    assert fresh._normalised_examples is None
    assert len(copied) == len(per_batch) == 5
    for (it_a, x_a, y_a), (it_b, x_b, y_b) in zip(copied, per_batch):
        assert it_a == it_b and torch.equal(x_a, x_b) and torch.equal(y_a, y_b)
    monkeypatch.setattr(base, 'NORMALISED_COPY_BYTES', 256 * 2 ** 20)
    dataset.examples = dataset.examples.flip(2).contiguous()  # a transformation replaces the tensor
    x, _ = loader.make_batch(torch.arange(3))
    assert torch.equal(x, loader.normalise(dataset.examples[:3]))

"""datasets/imagenet.py on a tiny fake ImageFolder tree of JPEGs: scanning and labels, preprocessing shapes and
values, the loader interface (order, determinism, resuming, workers, sharding), transformations, missing data."""

import os

import numpy as np
import pytest
import torch
import torchvision.transforms as T
from PIL import Image

from datasets import base, imagenet, registry
from datasets.errors import DatasetUnavailable
from foundations.hparams import DatasetHparams
from tests.datasets.conftest import imagenet_colour

MEAN = torch.tensor(imagenet.MEAN).view(1, 3, 1, 1)
STD = torch.tensor(imagenet.STD).view(1, 3, 1, 1)


def pixels(x):
    """Normalised batch (B, 3, H, W) -> pixel values 0..255 (float)."""
    return (x * STD + MEAN) * 255


def image_ids(x, expected_rows):
    """The fake image each solid-colour example of a batch came from (nearest colour), as a list."""
    colours = pixels(x).mean(dim=(2, 3))  # (B, 3)
    ids = sorted(image_id for _, _, image_id in expected_rows)
    palette = torch.tensor([imagenet_colour(i) for i in ids], dtype=torch.float32)
    nearest = torch.cdist(colours, palette).argmin(dim=1)
    assert torch.cdist(colours, palette).min(dim=1).values.max() < 6  # JPEG keeps flat colours to a few levels
    return [ids[i] for i in nearest.tolist()]


def loader_for(platform, train=True, batch_size=5, augment=True, num_workers=0, rank=0, world_size=1):
    dataset = imagenet.get_train_set(platform, augment) if train else imagenet.get_test_set(platform)
    return imagenet.Loader(dataset, batch_size, train=train, device='cpu', rank=rank, world_size=world_size,
                           num_workers=num_workers)


def collect(loader, start=0):
    return [(it, x, y) for it, (x, y) in loader.batches(start)]


# Scanning ---------------------------------------------------------------------------------------------------------

def test_scan_sorts_classes_and_files_and_skips_non_images(imagenet_tree):
    root, expected = imagenet_tree
    classes, files, labels = imagenet.scan(os.path.join(root, 'train'))
    assert classes == ['n001', 'n002', 'n003']
    assert [f.decode() for f in files] == [path for path, _, _ in expected['train']]
    assert labels.tolist() == [label for _, label, _ in expected['train']] == [0] * 4 + [1] * 4 + [2] * 4


def test_train_and_test_sets(imagenet_platform, imagenet_tree):
    _, expected = imagenet_tree
    train = imagenet.get_train_set(imagenet_platform, use_augmentation=True)
    test = imagenet.get_test_set(imagenet_platform)
    assert (len(train), len(test)) == (12, 6)
    assert train.augment and not test.augment
    assert train.labels.tolist() == [label for _, label, _ in expected['train']]
    assert test.labels.tolist() == [label for _, label, _ in expected['val']] == [0, 0, 1, 1, 2, 2]
    assert (imagenet.NUM_TRAIN_EXAMPLES, imagenet.NUM_TEST_EXAMPLES, imagenet.NUM_CLASSES) == (1281167, 50000, 1000)


# Preprocessing ----------------------------------------------------------------------------------------------------

def test_test_loader_is_sequential_and_resizes_and_centre_crops(imagenet_platform, imagenet_tree):
    _, expected = imagenet_tree
    loader = loader_for(imagenet_platform, train=False, batch_size=4)
    batches = collect(loader)
    assert len(loader) == 2 and [len(y) for _, _, y in batches] == [4, 2]
    x = torch.cat([x for _, x, _ in batches])
    y = torch.cat([y for _, _, y in batches])
    assert x.shape == (6, 3, 224, 224) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert y.tolist() == [label for _, label, _ in expected['val']]
    assert image_ids(x, expected['val']) == [image_id for _, _, image_id in expected['val']]


def textured_image(folder, width=400, height=300):
    path = os.path.join(folder, 'image.png')
    Image.fromarray(np.random.default_rng(0).integers(0, 256, size=(height, width, 3), dtype=np.uint8)).save(path)
    return path


@pytest.mark.parametrize('size', [(400, 300), (200, 500)])
def test_eval_preprocessing_is_the_originals_exactly(tmp_path, size):
    """Resize(256) + CenterCrop(224) + ToTensor + Normalize, as the original's torchvision pipeline."""
    path = textured_image(str(tmp_path), *size)
    dataset = imagenet.ImageFolderDataset(str(tmp_path), np.array([b'image.png']), [0], 1000, augment=False)
    x, label = dataset[(0, 123)]  # not augmenting: the seed is ignored
    reference = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(), T.Normalize(imagenet.MEAN, imagenet.STD)])
    assert x.shape == (3, 224, 224) and label == 0
    assert torch.equal(x, reference(Image.open(path).convert('RGB')))


def test_augmentation_is_the_originals_exactly_for_the_same_random_stream(tmp_path):
    """Our per-image generator draws what RandomResizedCrop + RandomHorizontalFlip draw from the global RNG."""
    path = textured_image(str(tmp_path))
    dataset = imagenet.ImageFolderDataset(str(tmp_path), np.array([b'image.png']), [0], 1000, augment=True)
    reference = T.Compose([T.RandomResizedCrop(224, scale=(0.1, 1.0), ratio=(0.8, 1.25)), T.RandomHorizontalFlip(),
                           T.ToTensor(), T.Normalize(imagenet.MEAN, imagenet.STD)])
    outputs = []
    for seed in range(8):
        x, _ = dataset[(0, seed)]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            expected = reference(Image.open(path).convert('RGB'))
        assert torch.equal(x, expected)
        assert torch.equal(dataset[(0, seed)][0], x)  # the seed fixes the crop and the flip
        outputs.append(x)
    assert not torch.equal(outputs[0], outputs[1])
    assert torch.equal(dataset[(0, None)][0], T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(), T.Normalize(
        imagenet.MEAN, imagenet.STD)])(Image.open(path).convert('RGB')))  # seed None: no augmentation


def test_random_resized_crop_box_equals_torchvision_get_params():
    for seed in range(100):
        for height, width in ((300, 260), (100, 400), (500, 375)):
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                expected = T.RandomResizedCrop.get_params(torch.empty(3, height, width), [0.1, 1.0], [0.8, 1.25])
            assert imagenet.random_resized_crop_box(height, width, torch.Generator().manual_seed(seed)) == \
                tuple(expected)


# Loader interface -------------------------------------------------------------------------------------------------

def test_shuffled_training_batches_keep_labels_with_images(imagenet_platform, imagenet_tree):
    _, expected = imagenet_tree
    label_of = {image_id: label for _, label, image_id in expected['train']}
    loader = loader_for(imagenet_platform)
    loader.shuffle(0)
    batches = collect(loader)
    assert [len(y) for _, _, y in batches] == [5, 5, 2] and len(loader) == 3
    ids = [i for _, x, _ in batches for i in image_ids(x, expected['train'])]
    labels = [label for _, _, y in batches for label in y.tolist()]
    assert sorted(ids) == list(range(12))
    assert labels == [label_of[i] for i in ids]
    order = torch.randperm(12, generator=torch.Generator().manual_seed(0)).tolist()
    assert ids == [expected['train'][i][2] for i in order]


def test_same_seed_same_batches_across_loaders_and_worker_counts(imagenet_platform):
    runs = []
    for num_workers in (0, 2):
        loader = loader_for(imagenet_platform, num_workers=num_workers)
        loader.shuffle(7)
        runs.append(collect(loader))
    for (it_a, x_a, y_a), (it_b, x_b, y_b) in zip(*runs):
        assert it_a == it_b and torch.equal(x_a, x_b) and torch.equal(y_a, y_b)
    other = loader_for(imagenet_platform)
    other.shuffle(8)
    assert not all(torch.equal(y_a, y_b) for (_, _, y_a), (_, _, y_b) in zip(runs[0], collect(other)))


def test_shuffle_none_and_resuming(imagenet_platform):
    loader = loader_for(imagenet_platform, batch_size=4)
    loader.shuffle(None)
    full = collect(loader)
    resumed = collect(loader, start=1)
    assert [it for it, _, _ in resumed] == [1, 2]
    for (_, x_a, y_a), (_, x_b, y_b) in zip(full[1:], resumed):
        assert torch.equal(x_a, x_b) and torch.equal(y_a, y_b)
    orders = set()
    for _ in range(3):
        loader.shuffle(None)
        orders.add(tuple(torch.cat([y for _, y in loader]).tolist()))
    assert len(orders) > 1


@pytest.mark.parametrize('world_size', [2, 3])
def test_sharding(imagenet_platform, imagenet_tree, world_size):
    _, expected = imagenet_tree
    single = loader_for(imagenet_platform, batch_size=5)
    single.shuffle(3)
    reference = collect(single)
    shards = []
    for rank in range(world_size):
        loader = loader_for(imagenet_platform, batch_size=5, rank=rank, world_size=world_size)
        loader.shuffle(3)
        shards.append(collect(loader))
        assert len(loader) == 3 == len(shards[-1])
    for it, x, y in reference:
        for rank in range(world_size):
            _, shard_x, shard_y = shards[rank][it]
            assert torch.equal(shard_x, x[rank::world_size]) and torch.equal(shard_y, y[rank::world_size])
    # The last global batch has 2 examples: with 3 processes the third gets an empty batch.
    if world_size == 3:
        assert shards[2][2][1].shape == (0, 3, 224, 224) and shards[2][2][2].shape == (0,)


# Transformations --------------------------------------------------------------------------------------------------

def test_subsample_and_random_labels_use_the_shared_streams(imagenet_platform, imagenet_tree):
    _, expected = imagenet_tree
    dataset = imagenet.get_train_set(imagenet_platform, True)
    dataset.randomize_labels(seed=1, fraction=0.5)
    positions, labels = base.random_labels(12, 1000, seed=1, fraction=0.5)
    assert dataset.labels[torch.from_numpy(positions)].tolist() == labels.tolist()
    dataset.subsample(seed=1, fraction=0.5)
    keep = base.subsample_indices(12, seed=1, fraction=0.5)
    assert [f.decode() for f in dataset.files] == [expected['train'][i][0] for i in keep]
    with pytest.raises(ValueError, match='Cannot subsample more than once.'):
        dataset.subsample(seed=1, fraction=0.5)


def two_colour_tree(folder):
    """val/c0/top_red.png: a 256x256 image, top half red, bottom half blue."""
    os.makedirs(os.path.join(folder, 'val', 'c0'))
    array = np.zeros((256, 256, 3), dtype=np.uint8)
    array[:128, :, 0] = 255
    array[128:, :, 2] = 255
    Image.fromarray(array).save(os.path.join(folder, 'val', 'c0', 'top_red.png'))
    for i in range(7):
        Image.fromarray(array).save(os.path.join(folder, 'val', 'c0', f'top_red_{i}.png'))


def test_rotation_turns_each_image_by_its_label(tmp_path, results_root):
    from platforms.local import Platform
    two_colour_tree(str(tmp_path))
    platform = Platform(_root=results_root, _imagenet_root=str(tmp_path), _device='cpu', _allow_download=False)
    dataset = registry.get_dataset(DatasetHparams('imagenet', 8, unsupervised_labels='rotation'), platform,
                                   train=False)
    assert dataset.labels.tolist() == np.random.RandomState(0).randint(4, size=8).tolist()
    assert dataset.num_classes == 4
    red = pixels(torch.stack([dataset[(i, None)][0] for i in range(8)]))[:, 0]  # (8, 224, 224)
    top, bottom = red[:, :100].mean(dim=(1, 2)), red[:, 124:].mean(dim=(1, 2))
    left, right = red[:, :, :100].mean(dim=(1, 2)), red[:, :, 124:].mean(dim=(1, 2))
    red_side = {0: top, 1: left, 2: bottom, 3: right}  # counter-clockwise quarter turns of the red top
    for i, k in enumerate(dataset.labels.tolist()):
        assert red_side[k][i] > 250 and red[i].mean() == pytest.approx(127.5, abs=3)


def test_blur_smooths_the_crop(tmp_path):
    two_colour_tree(str(tmp_path))
    files = np.array([b'c0/top_red.png'])
    sharp = imagenet.ImageFolderDataset(str(tmp_path / 'val'), files, [0], 1000, augment=False)
    blurred = imagenet.ImageFolderDataset(str(tmp_path / 'val'), files, [0], 1000, augment=False)
    blurred.blur(8)
    x_sharp, x_blurred = pixels(sharp[(0, None)][0][None])[0, 0], pixels(blurred[(0, None)][0][None])[0, 0]
    assert x_blurred.shape == (224, 224)
    assert x_sharp[100:124].sub(127.5).abs().min() > 100  # a hard edge: only 0 or 255
    assert x_blurred[100:124].sub(127.5).abs().min() < 100  # a ramp
    assert torch.allclose(x_blurred[:80], x_sharp[:80], atol=3)
    with pytest.raises(ValueError, match='too large'):
        blurred.blur(225)


# Registry and missing data ----------------------------------------------------------------------------------------

def test_registry_builds_an_imagenet_loader(imagenet_platform):
    dataset_hparams = DatasetHparams('imagenet', 4, subsample_fraction=0.5, transformation_seed=2)
    loader = registry.get(dataset_hparams, platform=imagenet_platform)
    assert isinstance(loader, imagenet.Loader) and loader.augment
    assert len(loader.dataset) == 6 and len(loader) == 2
    assert registry.iterations_per_epoch(dataset_hparams) == 160146  # the official count, whatever is on disk
    x, y = next(iter(loader))
    assert x.shape == (4, 3, 224, 224) and y.shape == (4,)
    test_loader = registry.get(dataset_hparams, train=False, platform=imagenet_platform)
    assert not test_loader.augment and len(test_loader.dataset) == 6


def test_missing_imagenet(results_root, tmp_path, monkeypatch):
    from platforms.local import Platform
    platform = Platform(_root=results_root, _imagenet_root=str(tmp_path / 'nowhere'), _device='cpu')
    for split in (imagenet.get_test_set, lambda p: imagenet.get_train_set(p, True)):
        with pytest.raises(DatasetUnavailable) as error:
            split(platform)
        message = str(error.value)
        assert 'train/' in message and 'val/' in message and 'OPEN_LTH_IMAGENET_ROOT' in message
        assert str(tmp_path / 'nowhere') in message
    (tmp_path / 'empty' / 'train').mkdir(parents=True)
    platform = Platform(_root=results_root, _imagenet_root=str(tmp_path / 'empty'), _device='cpu')
    with pytest.raises(DatasetUnavailable, match='no class folders'):
        imagenet.get_train_set(platform, True)

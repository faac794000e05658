"""The training loop (the original's): callbacks before every step and once more at the end step; resumes itself."""

import os
import warnings
from typing import Optional, Sequence

import torch
from tqdm import tqdm

from datasets import registry as datasets_registry
from foundations import paths
from foundations.hparams import DatasetHparams, TrainingHparams
from foundations.io import DamagedFile, is_being_written, torch_load
from foundations.step import Step
from models import base
from platforms import platform as current_platform
from pruning.mask import Mask
from training import checkpointing, compilation, optimizers, precision
from training.metric_logger import MetricLogger
from training.standard_callbacks import standard_callbacks


def train(training_hparams: TrainingHparams, model: torch.nn.Module, train_loader, output_location: str,
          callbacks: Sequence = (), start_step: Optional[Step] = None, end_step: Optional[Step] = None, *,
          platform=None, verbose: bool = False) -> None:
    """Train `model` on `train_loader` from `start_step` to `end_step` (default: `training_steps`).

    The original's signature; `platform` (default: the running job's, `get_platform()`) is keyword
    only, and `get_platform()` returns it inside the call, so callbacks written for the original see it.
    If `checkpoint.pth` exists in `output_location`, training resumes from it (model, optimizer, logger and step)
    instead of `start_step`. The lr schedule is replayed up to the start step. Each epoch `ep` is shuffled with
    `data_order_seed + ep` (unrepeatable when the seed is None), so a resumed run sees the same batches as an
    uninterrupted one. Callbacks run before each step and once more at the end step, then training returns.
    Steps are counted in iterations (`Step`); a progress bar over iterations shows when verbose on a terminal.
    `train_loader` is one of ours (datasets/registry.py) or any loader with `iterations_per_epoch` and
    `shuffle(seed)` that yields (examples, labels) batches (e.g. the original's `datasets.base.DataLoader`).
    """
    platform = current_platform.resolve(platform)
    with current_platform.running(platform):
        _train(training_hparams, model, train_loader, output_location, callbacks, start_step, end_step, platform,
               verbose)


def _train(training_hparams, model, train_loader, output_location, callbacks, start_step, end_step, platform,
           verbose) -> None:
    if platform.is_primary_process:
        os.makedirs(output_location, exist_ok=True)

    memory_format = model.memory_format
    model.to(platform.torch_device, memory_format=memory_format)
    inner = model
    optimizer = optimizers.get_optimizer(training_hparams, model)
    ipe = train_loader.iterations_per_epoch
    lr_schedule = optimizers.get_lr_schedule(training_hparams, optimizer, ipe)
    amp = precision.Precision(training_hparams, platform.torch_device)

    if platform.is_distributed:
        model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[platform.torch_device] if platform.torch_device.type == 'cuda' else None)
    elif platform.is_parallel:
        model = base.DataParallel(model)

    forward = compilation.training_forward(model, platform)  # The model itself unless --compile.
    restored_step, logger = checkpointing.restore_checkpoint(output_location, model, optimizer, ipe, amp.scaler)
    start = restored_step or start_step or Step.zero(ipe)
    logger = logger or MetricLogger()
    end = end_step or Step.from_str(training_hparams.training_steps, ipe)

    with warnings.catch_warnings():  # LambdaLR warns when stepped without an optimizer step.
        warnings.simplefilter('ignore')
        for _ in range(start.iteration):
            lr_schedule.step()

    if end <= start:
        if restored_step is not None and restored_step == end:
            # A finished run whose logger or final model was deleted (what a damaged one's advice says): its
            # checkpoint is at the end step, so the end step's callbacks rebuild them from it.
            run_callbacks(callbacks, output_location, end, model, optimizer, logger, amp.scaler)
        return

    progress = tqdm(total=end.iteration, initial=start.iteration, unit='it', leave=False, dynamic_ncols=True,
                    disable=True if not (verbose and platform.is_primary_process) else None)
    try:
        for ep in range(start.ep, end.ep + 1):
            seed = training_hparams.data_order_seed
            train_loader.shuffle(None if seed is None else seed + ep)
            first_it = start.it if ep == start.ep else 0
            for it, (examples, labels) in loader_batches(train_loader, first_it):
                step = Step.from_epoch(ep, it, ipe)
                run_callbacks(callbacks, output_location, step, model, optimizer, logger, amp.scaler)

                if step == end:
                    return

                optimizer.zero_grad(set_to_none=True)
                model.train()
                with amp.autocast():
                    examples, labels = to_device(examples, labels, platform.torch_device)
                    output = forward(base.to_memory_format(examples, memory_format))
                    loss = local_loss(inner, output, labels, global_batch_size(train_loader, it, labels, platform),
                                      platform)
                amp.backward_and_step(loss, optimizer)
                lr_schedule.step()
                progress.update(1)
    finally:
        progress.close()
    platform.barrier()


def run_callbacks(callbacks, output_location: str, step: Step, model, optimizer, logger, scaler=None) -> None:
    """Call every callback at `step`, in order (with the GradScaler for those that ask for it)."""
    for callback in callbacks:
        if getattr(callback, 'wants_scaler', False):
            callback(output_location, step, model, optimizer, logger, scaler=scaler)
        else:
            callback(output_location, step, model, optimizer, logger)


def loader_batches(loader, start: int):
    """(iteration, (x, y)) for the batches `start`.. of a pass: ours skip to `start` directly; any other iterable
    loader (the original's DataLoader) is iterated from the beginning, as the original does."""
    if hasattr(loader, 'batches'):
        return loader.batches(start=start)
    return ((it, batch) for it, batch in enumerate(loader) if it >= start)


def to_device(examples: torch.Tensor, labels: torch.Tensor, device: torch.device):
    """A batch on `device`, labels int64 (a no-op for our loaders, whose batches are already so)."""
    return examples.to(device, non_blocking=True), labels.to(device, dtype=torch.int64, non_blocking=True)


def global_batch_size(loader, iteration: int, labels: torch.Tensor, platform) -> int:
    """Examples in global batch `iteration` over all processes (ours know it; otherwise local size x world size)."""
    if hasattr(loader, 'global_batch_size'):
        return loader.global_batch_size(iteration)
    return labels.shape[0] * platform.world_size


def local_loss(model, output: torch.Tensor, labels: torch.Tensor, global_batch_size: int, platform) -> torch.Tensor:
    """This process's share of the global batch's mean loss, scaled so that DistributedDataParallel's average of
    the processes' gradients is exactly the gradient of the mean loss over the whole global batch (even when the
    shards of a partial last batch differ in size, or one is empty). For a single process: the plain mean loss."""
    local_batch_size = labels.shape[0]
    if not platform.is_distributed:
        return model.loss_criterion(output, labels)
    if local_batch_size == 0:
        return output.sum() * 0.0  # Takes part in the gradient all-reduce with zeros.
    return model.loss_criterion(output, labels) * (local_batch_size * platform.world_size / global_batch_size)


def is_done(output_location: str, dataset_hparams: DatasetHparams, training_hparams: TrainingHparams) -> bool:
    """Whether a run in `output_location` finished: its end-step model and its logger exist.

    Also checks every result file already in the folder (see `check_files`), so that a damaged file is reported
    before anything is trained or written, and a damaged finished run is never reported as done. Raises DamagedFile.
    """
    ipe = datasets_registry.iterations_per_epoch(dataset_hparams)
    end = Step.from_str(training_hparams.training_steps, ipe)
    done = os.path.exists(paths.model(output_location, end)) and os.path.exists(paths.logger(output_location))
    check_files(output_location, end.iteration if done else None)
    return done


_checked_folders = {}  # Folder -> the (name, size, mtime) of its files when they were last found readable.


def check_files(output_location: str, end_iteration: Optional[int] = None) -> None:
    """Raise DamagedFile for the first result file in `output_location` that cannot be read as what it is.

    Checked: every `model_*.pth` (a dict of tensors), `checkpoint.pth`, `logger` (and, when `end_iteration` is
    given, metrics at that iteration: a finished run always has them), `mask.pth` with `sparsity_report.json`.
    `hparams.log` is checked against the hyperparameters by `foundations.desc.Desc`. Loads each file once per
    process while it is unchanged (same size and modification time).
    """
    if not os.path.isdir(output_location):
        return
    # Another process of the job (the primary one) may be writing here right now: its temporary files are skipped.
    names = sorted(name for name in os.listdir(output_location) if not is_being_written(name))
    stats = [os.stat(os.path.join(output_location, name)) for name in names]
    state = tuple((name, stat.st_size, stat.st_mtime_ns) for name, stat in zip(names, stats))
    key = (output_location, end_iteration)
    if _checked_folders.get(key) == state:
        return
    for name in names:
        if name.startswith('model_') and name.endswith('.pth'):
            path = os.path.join(output_location, name)
            weights = torch_load(path)
            if not isinstance(weights, dict) or not all(isinstance(v, torch.Tensor) for v in weights.values()):
                raise DamagedFile(path, 'it is not a state_dict of a model')
    checkpointing.check_checkpoint(output_location)
    if os.path.exists(paths.logger(output_location)):
        if end_iteration is None:
            MetricLogger.create_from_file(output_location)
        else:
            MetricLogger.check_finished(output_location, end_iteration)
    if Mask.exists(output_location) or os.path.exists(paths.sparsity_report(output_location)):
        if not Mask.exists(output_location):
            raise DamagedFile(paths.mask(output_location), 'it is missing beside sparsity_report.json')
        Mask.check_saved(output_location)
    _checked_folders[key] = state


def standard_train(model: torch.nn.Module, output_location: str, dataset_hparams: DatasetHparams,
                   training_hparams: TrainingHparams, start_step: Optional[Step] = None, verbose: bool = True,
                   evaluate_every_epoch: bool = True, *, platform=None, loaders=None,
                   tensorboard: bool = False) -> bool:
    """Train with the standard callbacks unless the run in `output_location` is already done.

    The original's signature; `platform` (default: the running job's) and `loaders` (a
    datasets.registry.LoaderCache, so several runs of one job share datasets in memory) are keyword only. With
    `tensorboard` (keyword, new), the logged metrics also go to TensorBoard event files in `output_location` as
    they are recorded (training/tensorboard.py). Returns True if it trained, False if the run was already done.
    """
    if is_done(output_location, dataset_hparams, training_hparams):
        return False
    platform = current_platform.resolve(platform)
    loaders = loaders or datasets_registry.LoaderCache(platform)
    train_loader = loaders.get(dataset_hparams, train=True)
    test_loader = loaders.get(dataset_hparams, train=False)
    expected_ipe = datasets_registry.iterations_per_epoch(dataset_hparams)
    if train_loader.iterations_per_epoch != expected_ipe:
        raise ValueError(f'The training set has {train_loader.iterations_per_epoch} batches per epoch where '
                         f'{expected_ipe} were expected: is the dataset on disk complete?')
    callbacks = standard_callbacks(training_hparams, train_loader, test_loader, verbose=verbose,
                                   start_step=start_step, evaluate_every_epoch=evaluate_every_epoch,
                                   platform=platform)
    if tensorboard:
        from training.tensorboard import tensorboard_callback
        callbacks = callbacks + [tensorboard_callback(platform, Step.from_str(training_hparams.training_steps,
                                                                              expected_ipe))]
    train(training_hparams, model, train_loader, output_location, callbacks, start_step=start_step,
          platform=platform, verbose=verbose)
    return True

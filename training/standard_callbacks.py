"""Callbacks run by the training loop before every step and at the end step (the original's).

A callback is `callback(output_location, step, model, optimizer, logger)`. The standard list evaluates on the test
set, saves the model at the start and end steps, saves the logger at the end and checkpoints every epoch. Evaluation
runs before saving, so a pruned model's saved weights are exactly masked.

The functions have the original's names and signatures; each takes an optional keyword `platform` (default: the
running job's, `platforms.platform.get_platform()`, read when the callback runs).
"""

import time

import torch
from tqdm import tqdm

from datasets import base as datasets_base
from foundations.step import Step
from models import base
from platforms import platform as current_platform
from training import checkpointing


# Frequency wrappers --------------------------------------------------------------------------------------------

def run_every_epoch(callback):
    """Fire at the first iteration of every epoch (it == 0)."""
    def modified_callback(output_location, step, model, optimizer, logger, **kwargs):
        if step.it == 0:
            callback(output_location, step, model, optimizer, logger, **kwargs)
    modified_callback.wants_scaler = getattr(callback, 'wants_scaler', False)
    return modified_callback


def run_every_step(callback):
    """Fire at every step (the callback itself)."""
    return callback


def run_at_step(step_to_run: Step, callback):
    """Fire exactly at `step_to_run`."""
    def modified_callback(output_location, step, model, optimizer, logger, **kwargs):
        if step == step_to_run:
            callback(output_location, step, model, optimizer, logger, **kwargs)
    modified_callback.wants_scaler = getattr(callback, 'wants_scaler', False)
    return modified_callback


# Callbacks -----------------------------------------------------------------------------------------------------

def save_model(output_location, step, model, optimizer, logger, *, platform=None):
    """Save the (unwrapped) model's state_dict at `step` (primary process only)."""
    if current_platform.resolve(platform).is_primary_process:
        checkpointing.unwrap(model).save(output_location, step)


def save_logger(output_location, step, model, optimizer, logger, *, platform=None):
    """Write the logger file (primary process only)."""
    if current_platform.resolve(platform).is_primary_process:
        logger.save(output_location)


def with_platform(callback, platform):
    """`callback` with `platform=platform` bound (None: the running job's when it runs)."""
    if platform is None:
        return callback

    def bound(output_location, step, model, optimizer, logger):
        callback(output_location, step, model, optimizer, logger, platform=platform)
    return bound


def create_timekeeper_callback(verbose: bool = True, *, platform=None):
    """Print `Ep <ep>\tIt <it>\tTime Elapsed <seconds>` (time since the previous call; 0.00 the first time)."""
    time_of_last_call = None

    def timekeeper(output_location, step, model, optimizer, logger):
        nonlocal time_of_last_call
        job_platform = current_platform.resolve(platform)
        t = 0.0 if time_of_last_call is None else time.time() - time_of_last_call
        if verbose and job_platform.is_primary_process:
            tqdm.write(f'Ep {step.ep}\tIt {step.it}\tTime Elapsed {t:.2f}')
        time_of_last_call = time.time()
        job_platform.barrier()
    return timekeeper


def evaluate(model: torch.nn.Module, loader, platform=None):
    """(mean loss, accuracy, example count) of `model` over every example of `loader`, summed across processes.

    Loss is the model's criterion (mean cross-entropy) weighted by batch size; accuracy is a fraction in [0, 1].
    The model is in eval mode and runs under `torch.inference_mode()` (no autograd graph); a loader with
    `evaluation_batches()` (ours, datasets/base.py) is read in large batches independent of `--batch_size`: the
    correct count is exactly that of batch-by-batch evaluation, the loss equal to float rounding (each batch's mean is
    rounded in float32).
    """
    platform = current_platform.resolve(platform)
    inner = checkpointing.unwrap(model)  # Parameters are in sync across processes: no DDP collectives needed.
    totals = torch.zeros(3, dtype=torch.float64, device=platform.torch_device)  # loss sum, correct, count
    memory_format = inner.memory_format
    inner.eval()
    with torch.inference_mode():
        for examples, labels in datasets_base.evaluation_batches(loader):
            n = labels.shape[0]
            if n == 0:  # This process's share of a small last batch can be empty.
                continue
            examples = examples.to(platform.torch_device, non_blocking=True)
            labels = labels.to(platform.torch_device, dtype=torch.int64, non_blocking=True)
            output = inner(base.to_memory_format(examples, memory_format))
            totals[0] += inner.loss_criterion(output, labels).double() * n
            totals[1] += (output.argmax(dim=1) == labels).sum()
            totals[2] += n
    if platform.is_distributed:
        torch.distributed.all_reduce(totals)
    loss_sum, correct, count = totals.tolist()
    return loss_sum / count, correct / count, int(count)


def create_eval_callback(eval_name: str, loader, verbose: bool = False, *, platform=None):
    """Log `<eval_name>_loss`, `<eval_name>_accuracy` and `<eval_name>_examples` at each call, and print
    `<name>\\tep 001\\tit 000\\tloss 0.123\\tacc 97.50%\\tex 10000\\ttime 1.23s` when verbose (time since the
    previous print)."""
    time_of_last_call = None

    def eval_callback(output_location, step, model, optimizer, logger):
        nonlocal time_of_last_call
        job_platform = current_platform.resolve(platform)
        loss, accuracy, count = evaluate(model, loader, job_platform)
        if job_platform.is_primary_process:
            logger.add(f'{eval_name}_loss', step, loss)
            logger.add(f'{eval_name}_accuracy', step, accuracy)
            logger.add(f'{eval_name}_examples', step, count)
            if verbose:
                elapsed = 0.0 if time_of_last_call is None else time.time() - time_of_last_call
                tqdm.write(f'{eval_name}\tep {step.ep:03d}\tit {step.it:03d}\tloss {loss:.3f}\t'
                           f'acc {100 * accuracy:.2f}%\tex {count:d}\ttime {elapsed:.2f}s')
                time_of_last_call = time.time()
    return eval_callback


def standard_callbacks(training_hparams, train_loader, test_loader, eval_on_train: bool = False,
                       verbose: bool = True, start_step: Step = None, evaluate_every_epoch: bool = True, *,
                       platform=None):
    """The callbacks of a standard run from `start_step` (default 0) to `training_steps`, in the original's order:
    test evaluation (every epoch, or at the start and end), model saves at start and end, the logger at the end
    and a checkpoint at every epoch boundary. `platform` None: the running job's, read when each callback runs."""
    ipe = train_loader.iterations_per_epoch
    start = start_step or Step.zero(ipe)
    end = Step.from_str(training_hparams.training_steps, ipe)
    test_eval = create_eval_callback('test', test_loader, verbose=verbose, platform=platform)
    train_eval = create_eval_callback('train', train_loader, verbose=verbose, platform=platform)

    result = [
        run_at_step(start, with_platform(save_model, platform)),
        run_at_step(end, with_platform(save_model, platform)),
        run_at_step(end, with_platform(save_logger, platform)),
        run_every_epoch(checkpointing.checkpoint_saver(platform)),
    ]

    if evaluate_every_epoch:
        result = [run_every_epoch(test_eval)] + result
    elif verbose:
        result.append(run_every_epoch(create_timekeeper_callback(platform=platform)))

    if start.it != 0 or not evaluate_every_epoch:
        result = [run_at_step(start, test_eval)] + result
    if end.it != 0 or not evaluate_every_epoch:
        result = [run_at_step(end, test_eval)] + result

    if eval_on_train:
        if evaluate_every_epoch:
            result = [run_every_epoch(train_eval)] + result
        if start.it != 0 or not evaluate_every_epoch:
            result = [run_at_step(start, train_eval)] + result
        if end.it != 0 or not evaluate_every_epoch:
            result = [run_at_step(end, train_eval)] + result

    return result

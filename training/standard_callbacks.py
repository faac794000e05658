"""Callbacks run by the training loop before every step and at the end step (the original's).

A callback is `callback(output_location, step, model, optimizer, logger)`. The standard list evaluates on the test
set, saves the model at the start and end steps, saves the logger at the end and checkpoints every epoch. Evaluation
runs before saving, so a pruned model's saved weights are exactly masked.
"""

import time

import torch
from tqdm import tqdm

from foundations.step import Step
from models import base
from training import checkpointing


# Frequency wrappers --------------------------------------------------------------------------------------------

def run_every_epoch(callback):
    """Fire at the first iteration of every epoch (it == 0)."""
    def modified_callback(output_location, step, model, optimizer, logger, **kwargs):
        if step.it == 0:
            callback(output_location, step, model, optimizer, logger, **kwargs)
    modified_callback.wants_scaler = getattr(callback, 'wants_scaler', False)
    return modified_callback


def run_at_step(step_to_run: Step, callback):
    """Fire exactly at `step_to_run`."""
    def modified_callback(output_location, step, model, optimizer, logger, **kwargs):
        if step == step_to_run:
            callback(output_location, step, model, optimizer, logger, **kwargs)
    modified_callback.wants_scaler = getattr(callback, 'wants_scaler', False)
    return modified_callback


# Callbacks -----------------------------------------------------------------------------------------------------

def save_model_callback(platform):
    """A callback that saves the (unwrapped) model's state_dict at the step (primary process only)."""
    def save_model(output_location, step, model, optimizer, logger):
        if platform.is_primary_process:
            checkpointing.unwrap(model).save(output_location, step)
    return save_model


def save_logger_callback(platform):
    """A callback that writes the logger file (primary process only)."""
    def save_logger(output_location, step, model, optimizer, logger):
        if platform.is_primary_process:
            logger.save(output_location)
    return save_logger


def create_timekeeper_callback(platform, verbose: bool = True):
    """Print `Ep <ep>\\tIt <it>\\tTime Elapsed <seconds>` (time since the previous call; 0.00 the first time)."""
    time_of_last_call = None

    def timekeeper(output_location, step, model, optimizer, logger):
        nonlocal time_of_last_call
        t = 0.0 if time_of_last_call is None else time.time() - time_of_last_call
        if verbose and platform.is_primary_process:
            tqdm.write(f'Ep {step.ep}\tIt {step.it}\tTime Elapsed {t:.2f}')
        time_of_last_call = time.time()
        platform.barrier()
    return timekeeper


def evaluate(model: torch.nn.Module, loader, platform):
    """(mean loss, accuracy, example count) of `model` over every batch of `loader`, summed across processes.

    Loss is the model's criterion (mean cross-entropy) weighted by batch size; accuracy is a fraction in [0, 1].
    """
    inner = checkpointing.unwrap(model)  # Parameters are in sync across processes: no DDP collectives needed.
    totals = torch.zeros(3, dtype=torch.float64, device=platform.torch_device)  # loss sum, correct, count
    memory_format = inner.memory_format
    inner.eval()
    with torch.no_grad():
        for examples, labels in loader:
            n = labels.shape[0]
            if n == 0:  # This process's share of a small last batch can be empty.
                continue
            output = inner(base.to_memory_format(examples, memory_format))
            totals[0] += inner.loss_criterion(output, labels).double() * n
            totals[1] += (output.argmax(dim=1) == labels).sum()
            totals[2] += n
    if platform.is_distributed:
        torch.distributed.all_reduce(totals)
    loss_sum, correct, count = totals.tolist()
    return loss_sum / count, correct / count, int(count)


def create_eval_callback(eval_name: str, loader, platform, verbose: bool = False):
    """Log `<eval_name>_loss`, `<eval_name>_accuracy` and `<eval_name>_examples` at each call, and print
    `<name>\\tep 001\\tit 000\\tloss 0.123\\tacc 97.50%\\tex 10000\\ttime 1.23s` when verbose (time since the
    previous print)."""
    time_of_last_call = None

    def eval_callback(output_location, step, model, optimizer, logger):
        nonlocal time_of_last_call
        loss, accuracy, count = evaluate(model, loader, platform)
        if platform.is_primary_process:
            logger.add(f'{eval_name}_loss', step, loss)
            logger.add(f'{eval_name}_accuracy', step, accuracy)
            logger.add(f'{eval_name}_examples', step, count)
            if verbose:
                elapsed = 0.0 if time_of_last_call is None else time.time() - time_of_last_call
                tqdm.write(f'{eval_name}\tep {step.ep:03d}\tit {step.it:03d}\tloss {loss:.3f}\t'
                           f'acc {100 * accuracy:.2f}%\tex {count:d}\ttime {elapsed:.2f}s')
                time_of_last_call = time.time()
    return eval_callback


def standard_callbacks(training_hparams, train_loader, test_loader, platform, eval_on_train: bool = False,
                       verbose: bool = True, start_step: Step = None, evaluate_every_epoch: bool = True):
    """The callbacks of a standard run from `start_step` (default 0) to `training_steps`, in the original's order:
    test evaluation (every epoch, or at the start and end), model saves at start and end, the logger at the end
    and a checkpoint at every epoch boundary."""
    ipe = train_loader.iterations_per_epoch
    start = start_step or Step.zero(ipe)
    end = Step.from_str(training_hparams.training_steps, ipe)
    test_eval = create_eval_callback('test', test_loader, platform, verbose=verbose)
    train_eval = create_eval_callback('train', train_loader, platform, verbose=verbose)

    result = [
        run_at_step(start, save_model_callback(platform)),
        run_at_step(end, save_model_callback(platform)),
        run_at_step(end, save_logger_callback(platform)),
        run_every_epoch(checkpointing.save_checkpoint_callback(platform)),
    ]

    if evaluate_every_epoch:
        result = [run_every_epoch(test_eval)] + result
    elif verbose:
        result.append(run_every_epoch(create_timekeeper_callback(platform)))

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

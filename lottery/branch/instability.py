"""`instability`: instability analysis and linear mode connectivity (Frankle, Dziugaite, Roy & Carbin, ICML 2020,
"Linear Mode Connectivity and the Lottery Ticket Hypothesis", Sec. 2 and 4).

A network is stable at step k when two copies of it, trained from k to the end with different SGD noise (data order
and augmentation), end in one linearly connected region: the test error along the straight line between their final
weights does not rise above the endpoints' errors. For each requested level L and spawn step k:

* the trunk: level L's starting network (the rewind-point weights times level L's mask; dense at level 0), trained
  with the lottery run's recipe and data order from the rewind step to every spawn step (once, saved at each k);
* two children copied from the trunk at k and trained to the end of training with the lottery run's recipe, masks
  kept, each with its own data order and augmentation: `data_order_seed = child_data_order_seed(noise seed)`;
* the interpolation: (1 - alpha) x child_a + alpha x child_b at `interpolation_points` evenly spaced alpha in
  [0, 1], pruned weights zero at every alpha, evaluated on the test set and on the first
  `interpolation_train_examples` training examples (the lottery run's training set, without augmentation);
* instability = the highest test error along the path minus the mean of the two children's test errors, in
  percentage points (about 0: stable; clearly positive: an error barrier separates the children).

BatchNorm: the running mean and variance are interpolated like the weights by default; `reset_batchnorm` recomputes
them for every interpolated network (and the endpoints) from one pass over the training subset in training mode.

Files, inside `level_<L>/lottery_branch_instability_<md5>/`:
  trunk/                          model_ep<E>_it<I>.pth at the rewind step and every spawn step; checkpoint.pth
  spawn_<k>it/child_a, child_b/   ordinary runs from step k (models, logger, checkpoint.pth: a killed run resumes)
  spawn_<k>it/interpolation.csv   `alpha,split,loss,accuracy` (split: test or train; accuracy a fraction)
  spawn_<k>it/logger              `instability,<k>,<pp>` and `train_instability,<k>,<pp>` (k in iterations)
  logger                          `instability,<k>,<pp>` for every spawn step k of the run
"""

from __future__ import annotations  # modules that import torch are imported by the functions that use them

import csv
import dataclasses
import io
import os
from typing import Dict, List, Optional, Sequence, Tuple

from datasets import registry as datasets_registry
from foundations import paths, seeds
from foundations.hparams import Hparams, HparamsError
from foundations.io import DamagedFile, atomic_write_text, torch_load
from foundations.step import Step
from lottery.branch import base
from pruning.mask import Mask
from training.metric_logger import MetricLogger

CHILDREN = ('child_a', 'child_b')
INTERPOLATION_FILE = 'interpolation.csv'
CSV_HEADER = ('alpha', 'split', 'loss', 'accuracy')


# Arguments -------------------------------------------------------------------------------------------------------

def parse_spawn_steps(text: str, iterations_per_epoch: int) -> List[Step]:
    """`'0it,100it,1ep'` -> the distinct Steps, sorted. Raises HparamsError naming `--spawn_step` when malformed."""
    Hparams.check_step_string(text, '--spawn_step', allow_list=True)
    return sorted({Step.from_str(item, iterations_per_epoch) for item in text.split(',')})


def parse_noise_seeds(text: str) -> Tuple[int, int]:
    """`'1,2'` -> (1, 2): the noise seeds of child a and child b. Raises HparamsError naming `--noise_seeds` unless
    there are exactly two different integers."""
    items = text.split(',')
    try:
        values = tuple(int(item) for item in items)
    except ValueError:
        values = ()
    if len(values) != 2 or any(item != item.strip() or not item for item in items):
        raise HparamsError(f'argument --noise_seeds: expected two different integer seeds separated by a comma, '
                           f'e.g. 1,2; got {text!r}')
    if values[0] == values[1]:
        raise HparamsError(f'argument --noise_seeds: the two seeds must differ (equal seeds train identical '
                           f'children); got {text!r}')
    return values


def child_data_order_seed(noise_seed: int) -> int:
    """The `data_order_seed` of a child trained with `noise_seed`: it fixes the child's data order and augmentation
    (epoch ep is shuffled with this seed + ep). Derived by hashing, so it never coincides with a small seed a user
    gives the lottery run's own `--data_order_seed`."""
    return seeds.derive_seed('instability_noise', noise_seed)


def spawn_folder(step: Step) -> str:
    """`spawn_<iteration>it`: the sub-folder of spawn step `step` (`1ep` and `469it` at 469 it/ep share one)."""
    return f'spawn_{step.iteration}it'


# Interpolation ---------------------------------------------------------------------------------------------------

def alphas(points: int) -> List[float]:
    """`points` evenly spaced interpolation coefficients from 0 to 1, both included (i / (points - 1))."""
    return [i / (points - 1) for i in range(points)]


def interpolate_state(state_a: Dict[str, torch.Tensor], state_b: Dict[str, torch.Tensor], alpha: float,
                      mask: Optional[Mask] = None) -> Dict[str, torch.Tensor]:
    """The state_dict (1 - alpha) x state_a + alpha x state_b, every tensor of its own shape.

    Exact where it matters: alpha = 0 and alpha = 1 return the children's own tensors, and positions where the two
    states agree keep that value at every alpha (identical children give one network all along the path).
    Integer buffers (BatchNorm's num_batches_tracked) come from state_a for alpha < 0.5, else state_b. Tensors
    named in `mask` are multiplied by it, so a pruned weight is zero at every alpha.
    """
    import torch
    result = {}
    for name, a in state_a.items():
        b = state_b[name]
        if alpha == 0:
            value = a
        elif alpha == 1:
            value = b
        elif not a.is_floating_point():
            value = a if alpha < 0.5 else b
        else:
            value = torch.where(a == b, a, (1 - alpha) * a + alpha * b)
        if mask is not None and name in mask:
            value = value * mask[name].to(dtype=value.dtype, device=value.device)
        result[name] = value
    return result


class FirstExamples:
    """The first `count` examples of an unshuffled loader's pass, batch by batch (the last batch cut short).

    `loader` is a `datasets.base.ShardedLoader` that has not been shuffled (identity order); when distributed, this
    process gets its share of those examples. Yields (x (B, ...), y (B,)) as the loader does.
    """

    def __init__(self, loader, count: int):
        self.loader = loader
        self.count = count

    def __iter__(self):
        for it, (examples, labels) in self.loader.batches():
            share = self.loader.share(it)
            if share.start >= self.count:
                return
            keep = len(range(share.start, min(share.stop, self.count), share.step))
            yield examples[:keep], labels[:keep]


def recompute_batchnorm(model: nn.Module, loader) -> None:
    """Replace every BatchNorm layer's running mean and variance with the averages over one pass of `loader` in
    training mode (no gradients; the cumulative average, as torch does with momentum None). No-op without BatchNorm."""
    import torch
    import torch.nn as nn
    from models import base as base_models
    layers = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not layers:
        return
    momenta = [m.momentum for m in layers]
    for m in layers:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    with torch.no_grad():
        for examples, _ in loader:
            if examples.shape[0] > 0:
                model(base_models.to_memory_format(examples, model.memory_format))
    for m, momentum in zip(layers, momenta):
        m.momentum = momentum


def instability(test_accuracies: Sequence[float]) -> float:
    """Max test error along the path minus the mean of the endpoints' errors, in percentage points.

    test_accuracies: fractions in [0, 1] ordered by alpha (first: child a, last: child b). Exactly 0.0 for a flat
    path; never negative (the max includes both endpoints, so it is at least half their difference).
    """
    errors = [1 - accuracy for accuracy in test_accuracies]
    return 100 * (max(errors) - (errors[0] + errors[-1]) / 2)


def rows_to_csv(rows: Sequence[Tuple[float, str, float, float]]) -> str:
    """`alpha,split,loss,accuracy` with a header line; numbers as Python's shortest round-trip repr."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator='\n')
    writer.writerow(CSV_HEADER)
    writer.writerows((repr(float(alpha)), split, repr(float(loss)), repr(float(accuracy)))
                     for alpha, split, loss, accuracy in rows)
    return buffer.getvalue()


def read_interpolation(location: str) -> List[Tuple[float, str, float, float]]:
    """The rows of `<location>/interpolation.csv` as (alpha, split, loss, accuracy).

    Raises DamagedFile (one line: what is wrong and what to do) when the file is not such a table.
    """
    path = os.path.join(location, INTERPOLATION_FILE)
    try:
        with open(path, encoding='utf-8') as f:
            reader = csv.DictReader(f)
            rows = [(float(r['alpha']), r['split'], float(r['loss']), float(r['accuracy'])) for r in reader]
        if tuple(reader.fieldnames or ()) != CSV_HEADER or not rows:
            raise ValueError
    except (ValueError, TypeError, KeyError, UnicodeDecodeError, csv.Error):
        raise DamagedFile(path, 'it is not an alpha,split,loss,accuracy table',
                          'delete it and the logger beside it, then run the same command again to recompute '
                          'both') from None
    return rows


def read_instability(location: str) -> float:
    """The `instability` value in the logger of spawn folder `location`; DamagedFile when it has none."""
    values = MetricLogger.create_from_file(location).get_data('instability')
    if not values:
        raise DamagedFile(paths.logger(location), 'it has no instability value',
                          f'delete it and {INTERPOLATION_FILE} beside it, then run the same command again to '
                          'recompute both')
    return values[0][1]


# The branch ------------------------------------------------------------------------------------------------------

class Branch(base.Branch):
    """Instability analysis of a lottery run's levels (see the module docstring for what runs and where)."""

    @staticmethod
    def name() -> str:
        return 'instability'

    @staticmethod
    def description() -> str:
        return 'Instability analysis: train two copies with different SGD noise and interpolate between them.'

    def validate_arguments(self) -> None:
        arguments, desc = self.branch_hparams, self.lottery_desc
        parse_noise_seeds(arguments.noise_seeds)
        Hparams.check_at_least(arguments.interpolation_points, 2, '--interpolation_points')
        Hparams.check_at_least(arguments.interpolation_train_examples, 1, '--interpolation_train_examples')
        datasets_registry.check_name(desc.dataset_hparams.dataset_name)  # The epoch length needs a known dataset.
        start, end = desc.train_start_step, desc.train_end_step
        for step in parse_spawn_steps(arguments.spawn_step, start.iterations_per_epoch):
            if not start <= step < end:
                raise HparamsError(f'argument --spawn_step: spawn step {step.iteration}it is not between the rewind '
                                   f'point ({start.iteration}it) and the end of training ({end.iteration}it, '
                                   f'--training_steps={desc.training_hparams.training_steps}); choose steps from '
                                   f'{start.iteration}it to {end.iteration - 1}it')

    def branch_function(self, spawn_step: str = '0it', noise_seeds: str = '1,2', interpolation_points: int = 30,
                        interpolation_train_examples: int = 10000, reset_batchnorm: bool = False):
        desc = self.lottery_desc
        steps = parse_spawn_steps(spawn_step, desc.train_start_step.iterations_per_epoch)
        mask = Mask.load(self.level_root)
        self.train_trunk(steps, mask)
        for step in steps:
            location = os.path.join(self.branch_root, spawn_folder(step))
            for child, noise_seed in zip(CHILDREN, parse_noise_seeds(noise_seeds)):
                self.train_child(step, mask, os.path.join(location, child), noise_seed)
            self.interpolate(step, location, mask, interpolation_points, interpolation_train_examples,
                             reset_batchnorm)
        self.write_summary(steps)

    branch_function.argument_help = {
        '_spawn_step': "The step k at which the two children are copied from the trunk: a step ('0it', '500it', "
                       "'2ep') or a comma-separated list of steps (one sub-folder each; the trunk is trained once). "
                       'Steps count from the start of training, from the rewind point to before the end.',
        '_noise_seeds': 'Two different integers: the SGD noise (data order and augmentation) of child a and child b.',
        '_interpolation_points': 'The number of evenly spaced points alpha in [0, 1] at which to evaluate '
                                 '(1 - alpha) * child_a + alpha * child_b.',
        '_interpolation_train_examples': 'The number of training examples (the first ones, without augmentation) '
                                         'on which to evaluate the interpolated networks too.',
        '_reset_batchnorm': 'Recompute the BatchNorm statistics of every interpolated network on the training '
                            'examples before evaluating it (default: interpolate the children\'s statistics).'}

    # Phases -------------------------------------------------------------------------------------------------------

    def _print(self, text: str) -> None:
        if self.verbose and self.job_platform.is_primary_process:
            print(text)

    @property
    def trunk_root(self) -> str:
        return os.path.join(self.branch_root, 'trunk')

    def train_trunk(self, steps: List[Step], mask: Mask) -> None:
        """Train the level's starting network from the rewind step to the last spawn step with the lottery run's
        recipe and data order, saving it at the rewind step and at every spawn step (resumes from checkpoint.pth)."""
        from models import registry as models_registry
        from pruning.pruned_model import PrunedModel
        from training import checkpointing, standard_callbacks, train
        desc, location, platform = self.lottery_desc, self.trunk_root, self.job_platform
        start, last = desc.train_start_step, steps[-1]
        if not all(models_registry.exists(location, step) for step in [start] + steps):
            model = PrunedModel(self.load_trunk_model(self.level, start), mask)
            if platform.is_primary_process:
                os.makedirs(location, exist_ok=True)
                if not models_registry.exists(location, start):
                    model.save(location, start)
            if last > start:
                self._print(f'Trunk: training from {start.iteration}it to the spawn steps '
                            f'{", ".join(f"{s.iteration}it" for s in steps)} in {location}')
                train_loader = self.loaders.get(desc.dataset_hparams, train=True)
                save_model = standard_callbacks.with_platform(standard_callbacks.save_model, platform)
                callbacks = [standard_callbacks.run_at_step(step, save_model) for step in steps if step > start]
                callbacks.append(standard_callbacks.run_every_epoch(checkpointing.checkpoint_saver(platform)))
                train.train(desc.training_hparams, model, train_loader, location, callbacks=callbacks,
                            start_step=start, end_step=last, platform=platform, verbose=self.verbose)
        platform.barrier()

    def child_training_hparams(self, noise_seed: int):
        return dataclasses.replace(self.lottery_desc.training_hparams,
                                   data_order_seed=child_data_order_seed(noise_seed))

    def train_child(self, step: Step, mask: Mask, location: str, noise_seed: int) -> None:
        """Train a copy of the trunk at `step` to the end of training with the noise of `noise_seed` (an ordinary
        run in `location`: it resumes from its checkpoint and is skipped when done)."""
        from models import registry as models_registry
        from pruning.pruned_model import PrunedModel
        from training import train
        desc = self.lottery_desc
        model = PrunedModel(models_registry.load(self.trunk_root, step, desc.model_hparams,
                                                 outputs=desc.train_outputs, seed=0), mask)
        self._print(f'Spawn step {step.iteration}it, {os.path.basename(location)} (noise seed {noise_seed}): '
                    f'{location}')
        train.standard_train(model, location, desc.dataset_hparams, self.child_training_hparams(noise_seed),
                             start_step=step, platform=self.job_platform, verbose=self.verbose,
                             evaluate_every_epoch=self.evaluate_every_epoch, loaders=self.loaders)

    def train_subset_loader(self, count: int):
        """The first `count` examples of the lottery run's training set, without augmentation, unshuffled."""
        if getattr(self, '_train_subset', None) is None:  # Built once per job, on first use.
            hparams = dataclasses.replace(self.lottery_desc.dataset_hparams, do_not_augment=True)
            loader = datasets_registry.get(hparams, True, platform=self.job_platform)
            self._train_subset = FirstExamples(loader, count)
        return self._train_subset

    def interpolate(self, step: Step, location: str, mask: Mask, points: int, train_examples: int,
                    reset_batchnorm: bool) -> None:
        """Evaluate the networks between the two children; write interpolation.csv, then the spawn step's logger."""
        from models import registry as models_registry
        from pruning.pruned_model import PrunedModel
        from training import standard_callbacks
        if os.path.exists(os.path.join(location, INTERPOLATION_FILE)) and MetricLogger.exists(location):
            read_interpolation(location)  # Readable, or DamagedFile (one line) before any work.
            read_instability(location)
            return
        desc, platform = self.lottery_desc, self.job_platform
        end = desc.train_end_step
        states = [torch_load(paths.model(os.path.join(location, child), end)) for child in CHILDREN]
        network = PrunedModel(models_registry.get(desc.model_hparams, outputs=desc.train_outputs, seed=0), mask)
        network.to(platform.torch_device, memory_format=network.memory_format)
        splits = [('test', self.loaders.get(desc.dataset_hparams, train=False)),
                  ('train', self.train_subset_loader(train_examples))]
        self._print(f'Spawn step {step.iteration}it: interpolating at {points} points')

        rows = []
        for alpha in alphas(points):
            network.model.load_state_dict(interpolate_state(states[0], states[1], alpha, mask))
            if reset_batchnorm:
                recompute_batchnorm(network, splits[1][1])
            for split, loader in splits:
                loss, accuracy, _ = standard_callbacks.evaluate(network, loader, platform=platform)
                rows.append((alpha, split, loss, accuracy))

        if platform.is_primary_process:
            atomic_write_text(os.path.join(location, INTERPOLATION_FILE), rows_to_csv(rows))
            logger = MetricLogger()
            for split, name in (('test', 'instability'), ('train', 'train_instability')):
                logger.add(name, step, instability([r[3] for r in rows if r[1] == split]))
            logger.save(location)
        platform.barrier()

    def write_summary(self, steps: List[Step]) -> None:
        """The branch folder's logger (`instability,<k>,<pp>` for every spawn step) and, when verbose, a table."""
        logger = MetricLogger()
        lines = ['=' * 82, f'Instability (Level {self.level}): test error in %, along the path from child a to b',
                 '-' * 82, f'{"spawn step":>12}  {"child a":>8}  {"child b":>8}  {"max":>8}  {"instability":>11}']
        for step in steps:
            location = os.path.join(self.branch_root, spawn_folder(step))
            errors = [100 * (1 - r[3]) for r in read_interpolation(location) if r[1] == 'test']
            value = read_instability(location)
            logger.add('instability', step, value)
            lines.append(f'{step.iteration:>10}it  {errors[0]:8.2f}  {errors[-1]:8.2f}  {max(errors):8.2f}  '
                         f'{value:11.2f}')
        lines.append('=' * 82)
        if self.job_platform.is_primary_process:
            logger.save(self.branch_root)
        self._print('\n'.join(lines))

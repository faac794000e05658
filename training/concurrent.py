"""Several replicates of one experiment trained at once in one process (`--replicates=1-8 --concurrent`).

The replicates' weights, buffers, masks and optimizer state are stacked along a new leading dimension and one
training step of all of them is one vectorised forward and backward (`torch.func`:
`stack_module_state`, `functional_call` and `vmap`, as in its "model ensembling" tutorial). Each replicate keeps
everything of its own: its initialisation (seeded by its replicate, foundations/seeds.py), its data order (its own
loader shuffle; with `--data_order_seed` every replicate sees the same order, exactly as sequential runs do), its
mask, its result folder, logger and checkpoint. Results equal sequential runs to float rounding (tests/training/
test_concurrent.py: within 1e-5 over hundreds of steps on the CPU); on a GPU many small runs fill the device.

What differs from `train.train`, by design:
  * callbacks run only where the standard ones act: at the start step, the first iteration of every epoch and the
    end step; before they run, each replicate's model and optimizer are brought up to date from the stacked state
    (so a checkpoint or saved model is byte-for-byte what a sequential run would write, up to float rounding);
  * under float16 mixed precision the loss scale is shared: a step skipped for overflow is skipped by all.
"""

import contextlib
import copy
import inspect
import os
import types
import warnings
from dataclasses import dataclass, field
from typing import List, Optional, Sequence

import torch
from torch.func import functional_call, stack_module_state, vmap

from datasets import base as datasets_base
from foundations.step import Step
from platforms import platform as current_platform
from pruning.pruned_model import PrunedModel, mask_buffer_name
from training import checkpointing, compilation, optimizers, precision, train
from training.metric_logger import MetricLogger


# The training jobs a concurrent run collects from the runners ---------------------------------------------------

@dataclass
class TrainingJob:
    """One replicate's call of `train.standard_train`, recorded instead of run (see `JobCollector`)."""

    model: torch.nn.Module
    output_location: str
    dataset_hparams: object
    training_hparams: object
    start_step: Optional[Step] = None
    loaders: object = None
    tensorboard: bool = False


@dataclass
class JobCollector:
    """Stands in for `train.standard_train` in a runner (the runners' `trainer` hook): records the job when the run
    is not done yet and returns whether it will train, exactly as `standard_train` would."""

    platform: object
    jobs: List[TrainingJob] = field(default_factory=list)

    def __call__(self, *args, **kwargs) -> bool:
        bound = inspect.signature(train.standard_train).bind(*args, **kwargs).arguments
        if train.is_done(bound['output_location'], bound['dataset_hparams'], bound['training_hparams']):
            return False
        self.jobs.append(TrainingJob(bound['model'], bound['output_location'], bound['dataset_hparams'],
                                     bound['training_hparams'], bound.get('start_step'), bound.get('loaders'),
                                     bool(bound.get('tensorboard'))))
        return True

    def train_all(self, verbose: bool = True, evaluate_every_epoch: bool = True, loaders=None) -> bool:
        """Train every collected job together (they share dataset and training hyperparameters); returns whether
        there was anything to train. Clears the collected jobs."""
        jobs, self.jobs = self.jobs, []
        if not jobs:
            return False
        standard_train_concurrently(jobs, platform=self.platform, verbose=verbose,
                                    evaluate_every_epoch=evaluate_every_epoch, loaders=loaders)
        return True


def standard_train_concurrently(jobs: Sequence[TrainingJob], platform, verbose: bool = True,
                                evaluate_every_epoch: bool = True, loaders=None) -> None:
    """`train.standard_train` for several jobs at once: the standard callbacks of each job, then `train_concurrently`.

    All jobs must share dataset and training hyperparameters (replicates of one experiment); raises ValueError
    otherwise. `loaders` (a datasets.registry.LoaderCache) defaults to the first job's.
    """
    from datasets import registry as datasets_registry
    from training.standard_callbacks import standard_callbacks

    first = jobs[0]
    for job in jobs[1:]:
        if (str(job.dataset_hparams), str(job.training_hparams), job.start_step) != \
                (str(first.dataset_hparams), str(first.training_hparams), first.start_step):
            raise ValueError('Concurrent replicates must share dataset and training hyperparameters.')
    loaders = loaders or first.loaders or datasets_registry.LoaderCache(platform)
    train_loader = loaders.get(first.dataset_hparams, train=True)
    test_loader = loaders.get(first.dataset_hparams, train=False)
    expected_ipe = datasets_registry.iterations_per_epoch(first.dataset_hparams)
    if train_loader.iterations_per_epoch != expected_ipe:
        raise ValueError(f'The training set has {train_loader.iterations_per_epoch} batches per epoch where '
                         f'{expected_ipe} were expected: is the dataset on disk complete?')
    callbacks = [standard_callbacks(first.training_hparams, train_loader, test_loader, platform=platform,
                                    verbose=verbose, start_step=first.start_step,
                                    evaluate_every_epoch=evaluate_every_epoch) for _ in jobs]
    if first.tensorboard:  # As standard_train: TensorBoard event files beside each replicate's logger.
        from training.tensorboard import tensorboard_callback
        end = Step.from_str(first.training_hparams.training_steps, expected_ipe)
        callbacks = [replica + [tensorboard_callback(platform, end)] for replica in callbacks]
    train_concurrently(first.training_hparams, [job.model for job in jobs], train_loader,
                       [job.output_location for job in jobs], callbacks=callbacks, start_step=first.start_step,
                       platform=platform, verbose=verbose)


# The engine -----------------------------------------------------------------------------------------------------

def is_callback_step(step: Step, start: Step, end: Step) -> bool:
    """Where the standard callbacks act: the start step, the first iteration of an epoch and the end step."""
    return step.it == 0 or step == start or step == end


def train_concurrently(training_hparams, models: Sequence[torch.nn.Module], train_loader,
                       output_locations: Sequence[str], callbacks: Sequence[Sequence] = (),
                       start_step: Optional[Step] = None, end_step: Optional[Step] = None, *, platform=None,
                       verbose: bool = False) -> None:
    """Train `models` (one per replicate, same architecture; PrunedModels or plain) together, each into its own
    `output_locations[i]` with its own `callbacks[i]`, as `train.train` would train each alone.

    Each replicate resumes from its own `checkpoint.pth` if there is one; replicates whose checkpoints stand at
    different steps are trained in groups, one group per step. Steps are iterations (`Step`). Raises ValueError
    when the lists differ in length or the job runs in several processes (use torchrun or --concurrent, not both).
    `platform` (default: the running job's) is keyword only, as in `train.train`.
    """
    if not (len(models) == len(output_locations) and (not callbacks or len(callbacks) == len(models))):
        raise ValueError('One output location (and one list of callbacks) per model.')
    platform = current_platform.resolve(platform)
    with current_platform.running(platform):
        _train_concurrently(training_hparams, models, train_loader, output_locations, callbacks, start_step,
                            end_step, platform)


def _train_concurrently(training_hparams, models, train_loader, output_locations, callbacks, start_step, end_step,
                        platform) -> None:
    if platform.is_distributed:
        raise ValueError('Concurrent replicates train in one process; do not combine them with torchrun.')
    callbacks = list(callbacks) or [[] for _ in models]
    device = platform.torch_device
    ipe = train_loader.iterations_per_epoch
    amp = precision.Precision(training_hparams, device)

    replicas = []
    for model, location, replicate_callbacks in zip(models, output_locations, callbacks):
        if platform.is_primary_process:
            os.makedirs(location, exist_ok=True)
        model.to(device, memory_format=model.memory_format)
        optimizer = optimizers.get_optimizer(training_hparams, model)
        restored, logger = checkpointing.restore_checkpoint(location, model, optimizer, ipe, amp.scaler)
        replicas.append(_Replica(model, optimizer, location, replicate_callbacks, logger or MetricLogger(),
                                 restored or start_step or Step.zero(ipe)))

    end = end_step or Step.from_str(training_hparams.training_steps, ipe)
    starts = sorted({r.start for r in replicas})
    for start in starts:
        group = [r for r in replicas if r.start == start]
        if start < end:
            _StackedTraining(training_hparams, group, train_loader, amp, device, platform).run(start, end)
    platform.barrier()


@dataclass
class _Replica:
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    location: str
    callbacks: Sequence
    logger: MetricLogger
    start: Step

    @property
    def inner(self) -> torch.nn.Module:
        """The network itself (a PrunedModel's wrapped model)."""
        return self.model.model if isinstance(self.model, PrunedModel) else self.model

    def mask(self, name: str) -> Optional[torch.Tensor]:
        """The mask of prunable tensor `name` (None for an unpruned model)."""
        if isinstance(self.model, PrunedModel):
            return getattr(self.model, mask_buffer_name(name))
        return None


class _StackedTraining:
    """The replicas' state stacked on dimension 0, one optimizer over the stacked tensors, and the loop."""

    def __init__(self, training_hparams, replicas: List[_Replica], train_loader, amp, device, platform=None):
        self.hparams = training_hparams
        self.replicas = replicas
        self.amp = amp
        self.template = replicas[0].inner
        inners = [r.inner for r in replicas]
        # (R, ...) copies, in named_parameters order; trainable ones are leaves that require grad, frozen ones not.
        self.params, self.buffers = stack_module_state(inners)
        self.dtype = next(iter(self.params.values())).dtype
        self.dtype_device = next(iter(self.params.values())).device
        self.masks = {}
        for name in inners[0].prunable_layer_names:
            masks = [r.mask(name) for r in replicas]
            if any(mask is not None for mask in masks):  # An unpruned replica's mask is all ones.
                self.masks[name] = torch.stack([torch.ones_like(self.params[name][i]) if mask is None else mask
                                                for i, mask in enumerate(masks)]).to(self.params[name].dtype)

        holder = types.SimpleNamespace(parameters=lambda: iter(self.params.values()))
        self.optimizer = optimizers.get_optimizer(training_hparams, holder)
        self.optimizer.load_state_dict(_stack_optimizer_states([r.optimizer.state_dict() for r in replicas]))
        self.ipe = train_loader.iterations_per_epoch
        self.lr_schedule = optimizers.get_lr_schedule(training_hparams, self.optimizer, self.ipe)

        # One loader per replica, sharing the dataset: each shuffles on its own, as its sequential run would. With a
        # data order seed they would all draw the same batches, so one loader serves them all.
        self.shared_data = training_hparams.data_order_seed is not None
        self.loaders = [train_loader] if self.shared_data else [copy.copy(train_loader) for _ in replicas]
        self.global_batch_size = train_loader.global_batch_size
        self.step_fn = self._make_step_fn()
        if getattr(platform, 'compile', False):  # --compile: the vmapped forward, compiled (eager if that fails).
            self.step_fn = compilation.CompiledForward(self.step_fn)

    def _make_step_fn(self):
        template, criterion = self.template, self.template.loss_criterion

        def replica_loss(params, buffers, examples, labels):
            return criterion(functional_call(template, (params, buffers), (examples,)), labels)

        data_dims = None if self.shared_data else 0
        return vmap(replica_loss, in_dims=(0, 0, data_dims, data_dims))

    def _batches(self, ep: int, first_it: int):
        seed = self.hparams.data_order_seed
        for loader in self.loaders:
            loader.shuffle(None if seed is None else seed + ep)
        streams = [loader.batches(start=first_it) for loader in self.loaders]
        for items in zip(*streams):
            it = items[0][0]
            if self.shared_data:
                examples, labels = items[0][1]
            else:
                examples = torch.stack([x for _, (x, _) in items])
                labels = torch.stack([y for _, (_, y) in items])
            yield it, examples, labels

    def run(self, start: Step, end: Step) -> None:
        with warnings.catch_warnings():  # LambdaLR warns when stepped without an optimizer step.
            warnings.simplefilter('ignore')
            for _ in range(start.iteration):
                self.lr_schedule.step()
        for ep in range(start.ep, end.ep + 1):
            first_it = start.it if ep == start.ep else 0
            for it, examples, labels in self._batches(ep, first_it):
                step = Step.from_epoch(ep, it, self.ipe)
                if is_callback_step(step, start, end):
                    self._run_callbacks(step)
                if step == end:
                    return
                self._train_step(examples, labels)

    def _train_step(self, examples: torch.Tensor, labels: torch.Tensor) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        self._apply_masks()
        self.template.train()
        examples = examples.to(self.dtype)  # A no-op in float32; float64 replicas (tests) get float64 batches.
        with self.amp.autocast():
            losses = self.step_fn(self.params, self.buffers, examples, labels)
        self.amp.backward_and_step(losses.sum(), self.optimizer)  # Replicas' losses are independent: sum.
        self.lr_schedule.step()

    def _apply_masks(self) -> None:
        """Zero every pruned weight before the forward pass, as a PrunedModel does (so the state between steps,
        which checkpoints hold, is the sequential run's: the optimizer may move pruned weights; no output sees it)."""
        with torch.no_grad():
            for name, mask in self.masks.items():
                self.params[name].mul_(mask)

    def _run_callbacks(self, step: Step) -> None:
        """Bring each replica's own model and optimizer up to date, then run its callbacks (evaluations of all
        replicas at once, see `_vectorised_evaluation`)."""
        state = self.optimizer.state_dict()
        with torch.no_grad(), self._vectorised_evaluation():
            for i, replica in enumerate(self.replicas):
                inner = replica.inner
                for name, parameter in inner.named_parameters():
                    parameter.copy_(self.params[name][i])
                for name, buffer in inner.named_buffers():
                    buffer.copy_(self.buffers[name][i])
                replica.optimizer.load_state_dict(_unstack_optimizer_state(state, i))
                for callback in replica.callbacks:
                    if getattr(callback, 'wants_scaler', False):
                        callback(replica.location, step, replica.model, replica.optimizer, replica.logger,
                                 scaler=self.amp.scaler)
                    else:
                        callback(replica.location, step, replica.model, replica.optimizer, replica.logger)


    @contextlib.contextmanager
    def _vectorised_evaluation(self):
        """While the callbacks of one step run, `standard_callbacks.evaluate` of a replica's model on a loader
        evaluates every replica on that loader at once (one vmapped forward per batch) the first time, and answers
        the others from the result. Values equal the per-model evaluation's to float rounding; as there, a pruned
        model's weights are masked in place."""
        from training import standard_callbacks
        original = standard_callbacks.evaluate
        replica_of = {id(r.model): i for i, r in enumerate(self.replicas)}
        results = {}

        def evaluate(model, loader, platform=None):
            i = replica_of.get(id(model))
            if i is None or current_platform.resolve(platform).is_distributed:
                return original(model, loader, platform)
            if id(loader) not in results:
                results[id(loader)] = self._evaluate_all(loader)
            if isinstance(model, PrunedModel):
                model._apply_mask()
            return results[id(loader)][i]

        standard_callbacks.evaluate = evaluate
        try:
            yield
        finally:
            standard_callbacks.evaluate = original

    def _evaluate_all(self, loader) -> List[tuple]:
        """[(mean loss, accuracy, example count)] of every replica over `loader`, as standard_callbacks.evaluate."""
        template, criterion = self.template, self.template.loss_criterion
        forward = vmap(lambda params, buffers, x: functional_call(template, (params, buffers), (x,)),
                       in_dims=(0, 0, None))
        losses = vmap(criterion, in_dims=(0, None))
        params = {name: p * self.masks[name] if name in self.masks else p for name, p in self.params.items()}
        totals = torch.zeros(len(self.replicas), 3, dtype=torch.float64, device=self.dtype_device)
        template.eval()
        with torch.inference_mode():
            for examples, labels in datasets_base.evaluation_batches(loader):
                n = labels.shape[0]
                if n == 0:
                    continue
                output = forward(params, self.buffers, examples.to(self.dtype))  # (R, B, classes)
                totals[:, 0] += losses(output, labels).double() * n
                totals[:, 1] += (output.argmax(dim=2) == labels).sum(dim=1)
                totals[:, 2] += n
        return [(loss / count, correct / count, int(count)) for loss, correct, count in totals.tolist()]


def _stack_optimizer_states(states: List[dict]) -> dict:
    """The state_dict of an optimizer over stacked tensors from the replicas' state_dicts (same param groups).
    Tensors with a replica dimension (momentum, Adam moments) are stacked; scalars (Adam's step) are shared."""
    stacked = {'param_groups': copy.deepcopy(states[0]['param_groups']), 'state': {}}
    for index, entry in states[0]['state'].items():
        stacked['state'][index] = {
            key: (torch.stack([s['state'][index][key] for s in states])
                  if torch.is_tensor(value) and value.dim() > 0 else value)
            for key, value in entry.items()}
    return stacked


def _unstack_optimizer_state(state: dict, i: int) -> dict:
    """Replica `i`'s share of a stacked optimizer's state_dict (copies, so saving it saves only that share)."""
    return {'param_groups': copy.deepcopy(state['param_groups']),
            'state': {index: {key: (value[i].clone() if torch.is_tensor(value) and value.dim() > 0
                                    else (value.clone() if torch.is_tensor(value) else value))
                              for key, value in entry.items()}
                      for index, entry in state['state'].items()}}


# Drivers for the runners (their `run_concurrently`) -------------------------------------------------------------

def run_training_runners(runners) -> None:
    """`train --replicates=... --concurrent`: each TrainingRunner runs as usual (banner, folder, seeded model) but
    hands its training job to a collector; then all jobs train together."""
    from datasets import registry as datasets_registry
    first = runners[0]
    collector = JobCollector(first.job_platform)
    loaders = datasets_registry.LoaderCache(first.job_platform)
    for runner in runners:
        runner.trainer, runner.loaders = collector, loaders
        runner.run()
    collector.train_all(verbose=first.verbose, evaluate_every_epoch=first.evaluate_every_epoch, loaders=loaders)

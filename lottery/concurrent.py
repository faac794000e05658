"""`lottery --replicates=... --concurrent`: the replicates' lottery runs, level by level, every level's training of all
replicates at once (training/concurrent.py). Each replicate's folders and files are those of its sequential run."""

from typing import List

from datasets import registry as datasets_registry
from foundations.hparams import HparamsError
from lottery.runner import LotteryRunner, summary
from platforms import platform as current_platform
from training.concurrent import JobCollector
from training.runner import banner


def run_lottery_runners(runners: List[LotteryRunner]) -> None:
    """Run the LotteryRunners of several replicates (same desc and levels) as `LotteryRunner.run` runs one: pretrain,
    establish the rewind point, then for each level prune every replicate and train them all together."""
    with current_platform.running(runners[0].job_platform):
        _run(runners)


def _run(runners: List[LotteryRunner]) -> None:
    first = runners[0]
    platform = first.job_platform
    if first.levels < 0:
        raise HparamsError(f'argument --levels: must be an integer >= 0, got {first.levels}')
    first.desc.check_runnable(platform)

    loaders = datasets_registry.LoaderCache(platform)
    for dataset_hparams in [first.desc.dataset_hparams, first.desc.pretrain_dataset_hparams]:
        if dataset_hparams is not None:
            loaders.load(dataset_hparams)
    collector = JobCollector(platform)
    for runner in runners:
        runner._print(banner(f'Lottery Ticket Experiment (Replicate {runner.replicate})', runner.desc.display,
                             runner.location(0)))
        runner.loaders, runner.trainer = loaders, collector
        if platform.is_primary_process:
            runner.desc.save(runner.location(0))

    def train_collected() -> bool:
        return collector.train_all(verbose=first.verbose, evaluate_every_epoch=first.evaluate_every_epoch,
                                   loaders=loaders)

    trained = False
    if first.desc.pretraining:
        for runner in runners:
            runner._pretrain()
        trained = train_collected()
    if platform.is_primary_process:
        for runner in runners:
            runner._establish_initial_weights()
    platform.barrier()

    for level in range(first.levels + 1):
        if platform.is_primary_process:
            for runner in runners:
                runner._prune_level(level)
        platform.barrier()
        for runner in runners:
            runner._train_level(level)
        trained = train_collected() or trained

    for runner in runners:
        if not trained:
            runner._print(f'Already done: every level up to {runner.levels} is trained; nothing to train.')
        runner._print(summary(runner.desc, platform.root, runner.replicate, runner.levels))

"""TensorBoard event files beside a run's `logger` (job flag `--tensorboard`; not part of any hash).

`tensorboard --logdir $OPEN_LTH_ROOT` then shows every run under its folder name
(`lottery_<md5>/replicate_1/level_2/main`), one scalar per logged metric (`test_accuracy`, `test_loss`, ...), with
the training iteration as the step. The `logger` file stays the record; the event files are a live view of it.
"""


def tensorboard_callback(platform, end_step):
    """A callback (run last, after the evaluations of the step) that writes each new `logger` entry as a scalar.

    The writer (torch.utils.tensorboard.SummaryWriter, imported only here) opens lazily in the run folder at the
    first call. A resumed run starts at its checkpoint step: entries before it were already written by the
    interrupted process, and events the interrupted process wrote at or after it are purged (`purge_step`), so
    the curves have no duplicates. The writer closes at `end_step` (a Step), the last call of a run.
    """
    state = {'writer': None, 'written': 0}

    def write_scalars(output_location, step, model, optimizer, logger):
        if not platform.is_primary_process:
            return
        entries = list(logger.log.items())
        if state['writer'] is None:
            from torch.utils.tensorboard import SummaryWriter
            state['writer'] = SummaryWriter(log_dir=output_location, purge_step=step.iteration)
            new = [((name, it), value) for (name, it), value in entries if it >= step.iteration]
        else:
            new = entries[state['written']:]
        for (name, iteration), value in new:
            state['writer'].add_scalar(name, value, global_step=iteration)
        state['written'] = len(entries)
        if step == end_step:
            state['writer'].close()
            state['writer'] = None
        elif new:
            state['writer'].flush()

    return write_scalars

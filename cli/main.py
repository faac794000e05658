"""`open_lth.py`: choose a subcommand, build its parser in two stages, then show where results go or run the job.

This is the only module that reads `sys.argv`. Exit statuses follow the original: 1 for the command chooser and an
invalid platform, 2 for errors in the flags (argparse's own, or our one-line `open_lth.py: error: ...` for values
that cannot run), 0 after `--display_output_location` or a finished job. A file or folder the job cannot use (a
damaged or unsafe result file, a damaged dataset, an unusable folder, a full disk) is also one line and status 2.
"""

import argparse
import sys
from typing import List, Optional

from cli import arg_utils, runner_registry, sweep
from datasets.errors import DatasetUnavailable
from foundations.hparams import HparamsError
from foundations.io import FileProblem
from platforms import registry as platforms_registry

PROGRAM = 'open_lth.py'
RULE = '=' * 82
THIN_RULE = '-' * 82
TITLE = 'OpenLTH: A Framework for Research on Lottery Tickets and Beyond'


def welcome() -> str:
    """The original's three-line banner."""
    return f'{RULE}\n{TITLE}\n{THIN_RULE}'


def command_chooser(argv0: str) -> str:
    """The menu printed without a valid subcommand (exit status 1)."""
    lines = [welcome(), 'Choose a command to run:']
    for name, runner in runner_registry.registered_runners.items():
        lines.append(f'    * {argv0} {name} [...] => {runner.description()}')
    lines.append(RULE)
    return '\n'.join(lines)


def error_exit(message: str) -> int:
    """Print one line, `open_lth.py: error: <message>`, to stderr; the caller exits with status 2."""
    print(f'{PROGRAM}: error: {message}', file=sys.stderr)
    return 2


def add_job_control_args(parser: argparse.ArgumentParser) -> None:
    """Flags of ours about running the job, in a group after the original's (none of them enters a hash)."""
    group = parser.add_argument_group('Job Control Arguments',
                                      'Arguments that control how this job shares its folders with other jobs.')
    group.add_argument('--wait_for_lock', action='store_true',
                       help='If another job is writing the same result folder, wait for it to finish instead of '
                            'stopping.')


def main(argv: Optional[List[str]] = None) -> int:
    """Run `open_lth.py` with `argv` (default sys.argv); returns the exit status."""
    argv = list(sys.argv if argv is None else argv)

    subcommand = arg_utils.maybe_get_arg('subcommand', positional=True, argv=argv)
    if subcommand not in runner_registry.registered_runners:
        print(command_chooser(argv[0] if argv else PROGRAM))
        return 1
    runner_class = runner_registry.get(subcommand)

    usage = f'\n{welcome()}\n{PROGRAM} {subcommand} [...] => {runner_class.description()}\n{RULE}\n'
    parser = argparse.ArgumentParser(prog=PROGRAM, usage=usage, conflict_handler='resolve')
    parser.add_argument('subcommand')
    parser.add_argument('--platform', default='local', help='The platform on which to run the job.')
    parser.add_argument('--display_output_location', action='store_true',
                        help='Display the output location for this job.')

    platform_name = arg_utils.maybe_get_arg('platform', argv=argv) or 'local'
    if platform_name not in platforms_registry.registered_platforms:
        print(f'Invalid platform name: {platform_name}')
        return 1
    platform_class = platforms_registry.get(platform_name)
    platform_class.add_args(parser)

    try:
        runner_class.add_args(parser, argv)
        add_job_control_args(parser)
        sweep.add_args(parser)
        args = parser.parse_args(argv[1:])
        platform = platform_class.create_from_args(args)
        platform.validate()
        tasks = sweep.tasks(args, runner_class, split_levels=platform.submits_jobs)
        runners = [task.runner(platform) for task in tasks]
        if args.display_output_location:
            for runner in runners:
                platform.run_job(runner.display_output_location)
            return 0
        if not runner_class.reads_only:
            platform.check_folders()
        return platform.run_sweep(tasks, runners)
    except (HparamsError, DatasetUnavailable, FileProblem) as e:
        return error_exit(str(e))
    except SystemExit as e:  # argparse: --help (0) or a flag error (2), already printed.
        return e.code if isinstance(e.code, int) else 2
    except KeyboardInterrupt:
        print(f'\n{PROGRAM}: interrupted; run the same command again to resume from the last checkpoint.',
              file=sys.stderr)
        return 130
    return 0

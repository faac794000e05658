"""`BranchDesc`: what a branch runs (the trunk's LotteryDesc and the branch's arguments), and `make_BranchDesc`.

Only the arguments are hashed: the trunk is a Desc, not an Hparams, so a branch's folder name
(`lottery_branch_<name>_<md5>`) does not depend on it; it lives inside the trunk's folder anyway.
"""

import argparse
from dataclasses import dataclass
from typing import List, Optional

from foundations.desc import Desc
from foundations.hparams import Hparams
from lottery.desc import LotteryDesc


@dataclass
class BranchDesc(Desc):
    """The trunk's LotteryDesc, the branch's arguments and the branch's name (not hashed: it is a str)."""

    lottery_desc: LotteryDesc
    branch_hparams: Hparams
    branch_name: str

    def name_prefix(self) -> str:
        return f'lottery_branch_{self.branch_name}'

    def validate(self) -> None:
        self.lottery_desc.validate()
        self.branch_hparams.validate()

    @staticmethod
    def from_json_dict(data: dict) -> 'BranchDesc':
        """The Desc saved by `to_json_dict` (`hparams.json` in a branch folder), as the named branch's BranchDesc
        class. Raises ValueError/KeyError/TypeError if malformed, and ValueError for a branch that is not
        registered."""
        from lottery.branch import registry  # The registry imports the branches, which import this module.
        values = data['desc']
        name = values['branch_name']
        if name not in registry.registered_branches:
            raise ValueError(f'unknown branch {name!r}')
        branch = registry.get(name)
        return branch.BranchDesc(LotteryDesc.from_json_dict(values['lottery_desc']),
                                 branch.hparams_class().from_dict(values['branch_hparams']))


def make_BranchDesc(BranchHparams: type, name: str) -> type:  # noqa: N802 (the original's name)
    """The BranchDesc class of the branch called `name` whose arguments are the Hparams class `BranchHparams`.

    Built as `BranchDesc(lottery_desc, branch_hparams)`. `add_args(parser, defaults=None, argv=None)` adds the
    lottery flags (with `defaults`, a LotteryDesc preset) and then the branch's flags without defaults;
    `create_from_args(args)` reads both.
    """

    @dataclass
    class NamedBranchDesc(BranchDesc):
        lottery_desc: LotteryDesc
        branch_hparams: BranchHparams
        branch_name: str = name

        @staticmethod
        def name_prefix() -> str:
            return f'lottery_branch_{name}'

        @staticmethod
        def add_args(parser: argparse.ArgumentParser, defaults: Optional[LotteryDesc] = None,
                     argv: Optional[List[str]] = None) -> None:
            LotteryDesc.add_args(parser, defaults, argv=argv)
            BranchHparams.add_args(parser)

        @staticmethod
        def create_from_args(args: argparse.Namespace) -> 'NamedBranchDesc':
            return NamedBranchDesc(LotteryDesc.create_from_args(args), BranchHparams.create_from_args(args))

    NamedBranchDesc.__name__ = NamedBranchDesc.__qualname__ = 'BranchDesc'
    return NamedBranchDesc

"""Read the hyperparameters of a result folder back into a `Desc`: from `hparams.json` (exact, written by open_lth)
or, for folders written by the original OpenLTH, from `hparams.log` (which omits falsy values such as a seed of 0,
so the rebuilt Desc may name another folder; `DescRecord.exact` says whether it rebuilds the folder name)."""

import json
import os
from dataclasses import dataclass
from typing import Optional

from foundations import paths
from foundations.hparams import DatasetHparams, ModelHparams, TrainingHparams

LOG_SECTIONS = {'Dataset Hyperparameters': 'dataset_hparams', 'Model Hyperparameters': 'model_hparams',
                'Training Hyperparameters': 'training_hparams', 'Pruning Hyperparameters': 'pruning_hparams',
                'Pretraining Dataset Hyperparameters': 'pretrain_dataset_hparams',
                'Pretraining Training Hyperparameters': 'pretrain_training_hparams'}
_BUNDLES = {'dataset_hparams': DatasetHparams, 'model_hparams': ModelHparams, 'training_hparams': TrainingHparams,
            'pretrain_dataset_hparams': DatasetHparams, 'pretrain_training_hparams': TrainingHparams}


@dataclass
class DescRecord:
    """A Desc read from a folder: `desc`, the file it came from (`hparams.json` or `hparams.log`) and whether
    `desc.hashname` equals the experiment (or branch) folder's name."""

    desc: object
    source: str
    exact: bool


def desc_from_json_dict(data: dict):
    """Rebuild a TrainingDesc, LotteryDesc or BranchDesc from the dict `Desc.to_json_dict` wrote (by its `kind`).

    Raises ValueError (or KeyError/TypeError) for a malformed or unknown dict."""
    from lottery.branch.desc import BranchDesc
    from lottery.desc import LotteryDesc
    from training.desc import TrainingDesc
    kind = data.get('kind', '')
    if kind == 'train':
        return TrainingDesc.from_json_dict(data)
    if kind == 'lottery':
        return LotteryDesc.from_json_dict(data)
    if kind.startswith('lottery_branch_'):
        return BranchDesc.from_json_dict(data)
    raise ValueError(f'unknown kind {kind!r}')


def _convert(text: str, cls: type, field):
    """A value of `hparams.log` (`str(value)`) converted to the type of `field` of Hparams class `cls`."""
    annotation = cls.field_type(field)
    if annotation is bool:
        if text not in ('True', 'False'):
            raise ValueError(f'not a boolean: {text!r}')
        return text == 'True'
    return annotation(text)


def parse_hparams_log(text: str, kind: str):
    """A TrainingDesc (`kind` 'train') or LotteryDesc ('lottery') from the text of an `hparams.log`.

    Fields the log omits (the original writes only required and truthy values) take their dataclass defaults.
    Raises ValueError for a line that is not `<title>` or `    * <field> => <value>`, or an unknown title or field.
    """
    from lottery.desc import LotteryDesc
    from pruning import registry as pruning_registry
    from training.desc import TrainingDesc
    sections, current = {}, None
    for line in text.splitlines():
        if not line.strip():
            continue
        if line.startswith('    * '):
            if current is None or ' => ' not in line:
                raise ValueError(f'unexpected line {line!r}')
            name, value = line[len('    * '):].split(' => ', 1)
            sections[current][name] = value
        elif line in LOG_SECTIONS:
            current = LOG_SECTIONS[line]
            sections[current] = {}
        else:
            raise ValueError(f'unexpected line {line!r}')

    bundles = {}
    for key, raw in sections.items():
        if key == 'pruning_hparams':
            cls = pruning_registry.get_pruning_hparams(raw.get('pruning_strategy', ''))
        else:
            cls = _BUNDLES[key]
        fields = {f.name: f for f in cls.public_fields()}
        unknown = set(raw) - set(fields)
        if unknown:
            raise ValueError(f'{", ".join(sorted(unknown))} is not a field of {cls.__name__}')
        bundles[key] = cls.from_dict({name: _convert(value, cls, fields[name]) for name, value in raw.items()})

    if kind == 'train':
        return TrainingDesc(bundles['model_hparams'], bundles['dataset_hparams'], bundles['training_hparams'])
    return LotteryDesc(bundles['model_hparams'], bundles['dataset_hparams'], bundles['training_hparams'],
                       bundles['pruning_hparams'], bundles.get('pretrain_dataset_hparams'),
                       bundles.get('pretrain_training_hparams'))


def recover_zeros(desc, folder_name: str):
    """`desc` with the zeros `hparams.log` leaves out put back, when that rebuilds `folder_name`.

    The log omits falsy values, so `--data_order_seed=0` reads back as None (another hash). Tries each unset
    optional number set to 0, then each pair; returns the first Desc whose `hashname` is `folder_name`, else `desc`.
    """
    import copy
    import itertools
    if desc.hashname == folder_name:
        return desc
    candidates = []
    for bundle_name, bundle in desc.hparams_fields():
        for f in bundle.public_fields():
            if getattr(bundle, f.name) is None and bundle.field_type(f) in (int, float):
                candidates.append((bundle_name, f.name, bundle.field_type(f)(0)))
    for size in (1, 2):
        for chosen in itertools.combinations(candidates, size):
            trial = copy.deepcopy(desc)
            for bundle_name, field_name, zero in chosen:
                setattr(getattr(trial, bundle_name), field_name, zero)
            if trial.hashname == folder_name:
                return trial
    return desc


def read_desc(run_folder: str, folder_name: str) -> Optional[DescRecord]:
    """The Desc of the run in `run_folder`, from `hparams.json` or else `hparams.log`; None if it has neither.

    `folder_name` is the hashed folder this run belongs to (`lottery_<md5>`, `train_<md5>` or
    `lottery_branch_<name>_<md5>`): its prefix says which Desc a `hparams.log` holds, and `exact` compares the
    rebuilt name with it. Raises OSError, UnicodeDecodeError, ValueError, KeyError or TypeError for a file that
    cannot be read or understood (callers report the folder as damaged).
    """
    json_path, log_path = paths.hparams_json(run_folder), paths.hparams(run_folder)
    if os.path.exists(json_path):
        with open(json_path, encoding='utf-8') as f:
            desc = desc_from_json_dict(json.load(f))
        return DescRecord(desc, 'hparams.json', desc.hashname == folder_name)
    if os.path.exists(log_path) and not folder_name.startswith('lottery_branch_'):
        with open(log_path, encoding='utf-8') as f:
            desc = parse_hparams_log(f.read(), folder_name.split('_')[0])
        desc = recover_zeros(desc, folder_name)
        return DescRecord(desc, 'hparams.log', desc.hashname == folder_name)
    return None


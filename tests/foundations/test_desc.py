"""Descriptor hashes: the original's regression table (tests/golden), rebuilt step by step."""

import dataclasses

from foundations.hparams import DatasetHparams, ModelHparams, TrainingHparams
from lottery.desc import LotteryDesc
from pruning.sparse_global import PruningHparams
from training.desc import TrainingDesc

REGRESSION = [
    ({}, 'lottery_da8fd50859ba6d59aceca9d50ebcbf7e'),
    ({'t.momentum': 0.9}, 'lottery_028eb999ecd1980cd012589829c945a3'),
    ({'t.milestone_steps': '80ep,120ep', 't.gamma': 0.1}, 'lottery_e696cbf42d8758b8afdf2a16fad1de15'),
    ({'t.weight_decay': 1e-4}, 'lottery_93bc65d66dfa64ffaf2a0ab105433a2c'),
    ({'t.warmup_steps': '20ep'}, 'lottery_4e7b9ee929e8b1c911c5295233e6828f'),
    ({'t.data_order_seed': 0}, 'lottery_d51482c0d378de4cc71b87b38df2ea84'),
    ({'d.do_not_augment': True}, 'lottery_231b1efe748045875f738d860f4cb547'),
    ({'d.transformation_seed': 0}, 'lottery_4dfd57a481be9a2d840f7ad5d1e6f5f0'),
    ({'d.subsample_fraction': 0.5}, 'lottery_59ea6f2fab91a9515ae4bccd5de70878'),
    ({'d.random_labels_fraction': 0.7}, 'lottery_8b59e5a4d5d72575f1fba67b476899fc'),
    ({'d.unsupervised_labels': 'rotation'}, 'lottery_81f340e038ec29ffa9f858d9a8762211'),
    ({'d.blur_factor': 4}, 'lottery_4e78e2719ef5c16ba3e0444bc10dfb08'),
    ({'m.batchnorm_frozen': True}, 'lottery_8db76b3c3a08c4a1643f066768ff4e56'),
    ({'m.batchnorm_frozen': False, 'm.others_frozen': True}, 'lottery_3a0f8b86c0813802537aea2ebe723051'),
    ({'m.others_frozen': False, 'p.pruning_layers_to_ignore': 'fc.weight'}, 'lottery_d74aca8d02109ec0816739c2f7057433'),
]


def test_regression_table_cumulative():
    bundles = {'d': DatasetHparams('cifar10', 128), 'm': ModelHparams('cifar_resnet_20', 'kaiming_normal', 'uniform'),
               't': TrainingHparams('sgd', 0.1, '160ep'), 'p': PruningHparams('sparse_global')}
    for changes, expected in REGRESSION:
        for key, value in changes.items():
            bundle, field = key.split('.')
            bundles[bundle] = dataclasses.replace(bundles[bundle], **{field: value})
        desc = LotteryDesc(bundles['m'], bundles['d'], bundles['t'], bundles['p'])
        assert desc.hashname == expected, changes


def test_train_readme_hash():
    desc = TrainingDesc(ModelHparams('cifar_resnet_20', 'kaiming_normal', 'uniform'), DatasetHparams('cifar10', 128),
                        TrainingHparams('sgd', 0.1, '160ep', momentum=0.9, milestone_steps='80ep,120ep', gamma=0.1,
                                        weight_decay=1e-4))
    assert desc.hashname == 'train_71bc92a970b64a76d7ab7681764b0021'
    assert desc.run_path(3, root='/r') == '/r/train_71bc92a970b64a76d7ab7681764b0021/replicate_3/main'


def test_rewinding_adds_pretraining_entries():
    desc = LotteryDesc(ModelHparams('cifar_resnet_20', 'kaiming_normal', 'uniform'), DatasetHparams('cifar10', 128),
                       TrainingHparams('sgd', 0.1, '160ep', momentum=0.9, milestone_steps='80ep,120ep', gamma=0.1,
                                       weight_decay=1e-4), PruningHparams('sparse_global'))
    desc.pretrain_dataset_hparams = desc.dataset_hparams
    desc.pretrain_training_hparams = dataclasses.replace(desc.training_hparams, training_steps='500it')
    assert desc.hashname == 'lottery_23b644efaef60c49ca88fc5e37e2595a'
    assert (desc.train_start_step.ep, desc.train_start_step.it) == (1, 109)
    assert desc.run_path(1, 'pretrain', root='/r') == \
        '/r/lottery_23b644efaef60c49ca88fc5e37e2595a/replicate_1/level_pretrain/main'


def test_hparams_log(tmp_path):
    desc = TrainingDesc(ModelHparams('mnist_lenet_300_100', 'kaiming_normal', 'uniform'), DatasetHparams('mnist', 128),
                        TrainingHparams('sgd', 0.1, '40ep'))
    desc.save(str(tmp_path))
    from tests.conftest import load_golden
    expected = load_golden('help_defaults.json')['models']['mnist_lenet_300_100']['train_hparams_log_text']
    assert (tmp_path / 'hparams.log').read_text() == expected


def test_hparams_json_rebuilds_the_desc_and_its_folder_name_exactly(tmp_path):
    """hparams.json keeps what hparams.log drops (a seed of 0, pretraining bundles, branch arguments)."""
    import json

    from analysis.hparams_files import desc_from_json_dict, parse_hparams_log
    from lottery.branch import registry as branch_registry
    from models import registry

    preset = registry.get_default_hparams('mnist_lenet_300_100')
    seeded = dataclasses.replace(preset, training_hparams=dataclasses.replace(preset.training_hparams,
                                                                              data_order_seed=0))
    rewound = dataclasses.replace(seeded, pretrain_dataset_hparams=seeded.dataset_hparams,
                                  pretrain_training_hparams=dataclasses.replace(seeded.training_hparams,
                                                                                training_steps='500it'))
    train = TrainingDesc(preset.model_hparams, dataclasses.replace(preset.dataset_hparams, transformation_seed=0),
                         preset.training_hparams)
    retrain, prune = branch_registry.get('retrain'), branch_registry.get('randomly_prune')
    retrain_hparams = retrain.hparams_class()(
        retrain_d=DatasetHparams('mnist', 64), retrain_t=TrainingHparams('adam', 0.001, '2ep', momentum=0.5))
    prune_hparams = prune.hparams_class()(seed=0, strategy='global')
    descs = [seeded, rewound, train, retrain.BranchDesc(rewound, retrain_hparams),
             prune.BranchDesc(seeded, prune_hparams)]
    for i, desc in enumerate(descs):
        folder = str(tmp_path / str(i))
        desc.save_json(folder)
        data = json.load(open(f'{folder}/hparams.json'))
        rebuilt = desc_from_json_dict(data)
        assert rebuilt == desc and rebuilt.hashname == desc.hashname == data['hashname']
    # hparams.log cannot: the seed of 0 is not written, and reading it back names another folder.
    log_text = '\n'.join(seeded.field_display(name) for name, _ in seeded.hparams_fields())
    assert parse_hparams_log(log_text, 'lottery').hashname != seeded.hashname
    assert parse_hparams_log(log_text, 'lottery') == preset

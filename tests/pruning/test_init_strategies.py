"""Pruning at initialisation (random, magnitude_init, snip, grasp, synflow): each method's scores against an
independent computation on a tiny network with fixed weights and a fixed batch, SynFlow's conservation and its
layer-collapse avoidance at 99.9% sparsity, exact counts, no revival, ignored layers and determinism."""

import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from datasets import registry as datasets_registry
from foundations.hparams import DatasetHparams, HparamsError, ModelHparams
from models import base as models_base
from models import registry
from pruning import grasp, magnitude_init, random_init, ranking, snip, synflow
from pruning.mask import Mask

STRATEGIES = {'random': random_init, 'magnitude_init': magnitude_init, 'snip': snip, 'grasp': grasp,
              'synflow': synflow}


class Tiny(models_base.Model):
    """4 -> 3 (ReLU) -> 2, with biases: 18 prunable weights."""

    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(4, 3)
        self.fc = nn.Linear(3, 2)
        with torch.no_grad():  # Fixed weights of both signs, no ties in magnitude.
            self.hidden.weight.copy_(torch.tensor([[0.5, -0.3, 0.8, -0.1], [-0.6, 0.2, 0.4, 0.9],
                                                   [0.7, -0.45, -0.25, 0.35]]))
            self.hidden.bias.copy_(torch.tensor([0.1, -0.2, 0.05]))
            self.fc.weight.copy_(torch.tensor([[0.55, -0.65, 0.15], [-0.35, 0.75, 0.95]]))
            self.fc.bias.copy_(torch.tensor([0.02, -0.03]))

    def forward(self, x):
        return self.fc(F.relu(self.hidden(models_base.flatten_batch(x))))

    @property
    def output_layer_names(self):
        return ['fc.weight', 'fc.bias']

    @staticmethod
    def is_valid_model_name(model_name):
        return False

    @staticmethod
    def get_model_from_name(model_name, initializer, outputs=None):
        raise NotImplementedError

    @staticmethod
    def default_hparams():
        raise NotImplementedError


X = torch.tensor([[1.0, -0.5, 0.3, 2.0], [0.2, 0.1, -1.0, 0.5], [-0.7, 1.5, 0.8, -0.2],
                  [0.9, 0.4, 0.6, 1.1], [-1.2, -0.3, 0.2, 0.7]])
Y = torch.tensor([0, 1, 1, 0, 1])
BATCHES = [(X[:3], Y[:3]), (X[3:], Y[3:])]


def theta_and_loss():
    """The 18 weights as one vector and the mean over BATCHES of each batch's mean cross-entropy, written out by
    hand (not through the model), as a function of that vector."""
    model = Tiny()
    theta = torch.cat([model.hidden.weight.reshape(-1), model.fc.weight.reshape(-1)]).detach().double()
    b1, b2 = model.hidden.bias.detach().double(), model.fc.bias.detach().double()

    def loss(t):
        w1, w2 = t[:12].reshape(3, 4), t[12:].reshape(2, 3)
        total = 0
        for x, y in BATCHES:
            logits = torch.relu(x.double() @ w1.T + b1) @ w2.T + b2
            total = total + F.cross_entropy(logits, y) / len(BATCHES)
        return total
    return theta, loss


def flat(scores):
    return torch.cat([scores['hidden.weight'].reshape(-1), scores['fc.weight'].reshape(-1)]).double()


def test_magnitude_scores_are_absolute_weights():
    theta, _ = theta_and_loss()
    assert torch.allclose(flat(magnitude_init.scores(Tiny())), theta.abs())


def test_snip_scores_are_abs_w_times_dl_dw():
    theta, loss = theta_and_loss()
    gradient = torch.func.grad(loss)(theta)
    expected = (theta * gradient).abs()
    assert torch.allclose(flat(snip.scores(Tiny(), BATCHES)), expected, atol=1e-6)
    assert expected.min() > 0  # A real check: every weight has a score.


def test_grasp_scores_are_minus_w_times_hessian_gradient_product():
    theta, loss = theta_and_loss()
    gradient = torch.func.grad(loss)(theta)
    hessian = torch.autograd.functional.hessian(loss, theta)  # The full 18 x 18 Hessian.
    expected = -(theta * (hessian @ gradient))
    got = flat(grasp.scores(Tiny(), BATCHES))
    assert torch.allclose(got, expected, atol=1e-6)
    assert (expected > 0).any() and (expected < 0).any()


def test_synflow_scores_match_the_closed_form_of_the_absolute_network():
    """With |weights| and |biases| and an all-ones input every unit is positive, so R = 1'(|W2| (|W1| 1 + |b1|) +
    |b2|): dR/dW1[i, j] = sum_k |W2[k, i]| and dR/dW2[k, i] = h_i = sum_j |W1[i, j]| + |b1[i]|."""
    model = Tiny()
    w1, w2 = model.hidden.weight.detach().double().abs(), model.fc.weight.detach().double().abs()
    b1 = model.hidden.bias.detach().double().abs()
    expected_w1 = w1 * w2.sum(0)[:, None]
    expected_w2 = w2 * (w1.sum(1) + b1)[None, :]
    got = synflow.scores(model, (4,))
    assert torch.allclose(got['hidden.weight'], expected_w1)
    assert torch.allclose(got['fc.weight'], expected_w2)


@pytest.mark.parametrize('name, highest', [('magnitude_init', False), ('snip', False), ('grasp', True)])
def test_prune_removes_exactly_the_lowest_or_highest_scores(name, highest):
    module = STRATEGIES[name]
    scores = flat(module.scores(Tiny(), BATCHES) if name != 'magnitude_init' else module.scores(Tiny()))
    hparams = module.PruningHparams(name, 0.5)
    if name != 'magnitude_init':
        hparams.pruning_batches = 2  # Both batches, as the scores above.
    mask = module.Strategy.prune(hparams, None, starting_model=Tiny(), data=BATCHES)
    removed = set(torch.argsort(scores, descending=highest)[:9].tolist())  # ceil(0.5 x 18) = 9
    assert set(torch.nonzero(flat(mask) == 0).flatten().tolist()) == removed


def test_synflow_conservation_per_layer_on_a_fully_connected_network():
    """Tanaka et al. Theorem 2: without biases, every layer's synaptic-flow scores sum to R."""
    model = registry.get(ModelHparams('mnist_lenet_20_10', 'kaiming_normal', 'uniform'), seed=1)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith('bias'):
                parameter.zero_()
    scores = synflow.scores(model, (1, 28, 28))
    linear, _ = synflow.linearized_copy(model)
    r = float(linear(torch.ones(1, 1, 28, 28, dtype=torch.float64)).sum().detach())
    sums = [float(scores[name].sum()) for name in model.prunable_layer_names]
    assert sums == pytest.approx([r, r, r], rel=1e-9)
    assert r > 0


def connected_weights(mask: Mask, names):
    """Per layer of a chain of fully connected layers: the surviving weights on some input-to-output path."""
    masks = [mask[name].double() for name in names]
    forward = [torch.ones(masks[0].shape[1], dtype=torch.float64)]
    for m in masks:
        forward.append((m @ forward[-1] > 0).double())
    backward = [torch.ones(masks[-1].shape[0], dtype=torch.float64)]
    for m in reversed(masks):
        backward.insert(0, (m.T @ backward[0] > 0).double())
    return [int((m * torch.outer(backward[i + 1], forward[i])).sum()) for i, m in enumerate(masks)]


def test_iterative_synflow_keeps_every_layer_connected_at_999_sparsity(platform):
    """LeNet-300-100 at 99.9% sparsity in one level (266 of 266,200 weights kept, nothing ignored): iterative
    SynFlow keeps weights on input-to-output paths in every layer; one-shot magnitude at init and SNIP keep next to
    nothing of the first layer."""
    model = registry.get(ModelHparams('mnist_lenet_300_100', 'kaiming_normal', 'uniform'), seed=0)
    loader = datasets_registry.get(DatasetHparams('mnist', 128), platform=platform)
    loader.shuffle(0)
    names = model.prunable_layer_names
    kept, connected = {}, {}
    for name in ['magnitude_init', 'snip', 'synflow']:
        module = STRATEGIES[name]
        mask = module.Strategy.prune(module.PruningHparams(name, 0.999), None, starting_model=model, data=loader)
        kept[name] = [int(mask[n].sum()) for n in names]
        connected[name] = connected_weights(mask, names)
        assert sum(kept[name]) == 266  # floor(0.001 x 266200)
    print('kept per layer', kept, 'on a path', connected)
    assert min(connected['synflow']) >= 20
    assert connected['magnitude_init'][0] <= 3 and connected['snip'][0] <= 3


def lenet(seed=0):
    return registry.get(ModelHparams('mnist_lenet_20_10', 'kaiming_normal', 'uniform'), seed=seed)


def batches(n=2):
    g = torch.Generator().manual_seed(0)
    return [(torch.randn(16, 1, 28, 28, generator=g), torch.randint(0, 10, (16,), generator=g)) for _ in range(n)]


@pytest.mark.parametrize('name', list(STRATEGIES))
def test_levels_count_exactly_never_revive_respect_ignored_and_repeat(name):
    """Five levels of 20%: the pool keeps floor(0.8 x its survivors) each level (so (1-f)^L up to 1/f weights),
    every mask is a subset of the previous one, the ignored tensor stays dense, and a second run gives the same
    masks."""
    module = STRATEGIES[name]
    hparams = module.PruningHparams(name, 0.2, 'fc.weight')
    if hasattr(hparams, 'synflow_iterations'):
        hparams.synflow_iterations = 10
    model, data = lenet(), batches()
    pool = 784 * 20 + 20 * 10
    runs = []
    for _ in range(2):
        masks, mask, expected = [], Mask.ones_like(model), pool
        for level in range(1, 6):
            starting = lenet()
            with torch.no_grad():  # The runner's starting weights: the rewind point times the current mask.
                for n, p in starting.named_parameters():
                    if n in mask:
                        p.mul_(mask[n])
            new = module.Strategy.prune(hparams, model, mask, starting_model=starting, data=data)
            assert all(bool((new[k] <= mask[k]).all()) for k in mask)
            expected -= math.ceil(0.2 * expected - 1e-9)
            kept = int(new['fc_layers.0.weight'].sum() + new['fc_layers.1.weight'].sum())
            assert kept == expected and abs(kept - 0.8 ** level * pool) < 5
            assert int(new['fc.weight'].sum()) == 100
            assert list(new) == model.prunable_layer_names
            mask = new
            masks.append(mask)
        runs.append(masks)
    assert all(all(torch.equal(a[k], b[k]) for k in a) for a, b in zip(*runs))


def test_missing_inputs_and_bad_hparams():
    with pytest.raises(ValueError, match='The snip pruning strategy needs `data`'):
        snip.Strategy.prune(snip.PruningHparams('snip'), None, starting_model=lenet())
    with pytest.raises(ValueError, match='The synflow pruning strategy needs `starting_model`'):
        synflow.Strategy.prune(synflow.PruningHparams('synflow'), lenet(), data=batches())
    with pytest.raises(HparamsError, match='argument --pruning_batches: must be an integer >= 1, got 0'):
        snip.PruningHparams('snip', pruning_batches=0).validate()
    with pytest.raises(HparamsError, match='argument --synflow_iterations: must be an integer >= 1, got 0'):
        synflow.PruningHparams('synflow', synflow_iterations=0).validate()
    for fraction in [1.0, -0.1, float('nan')]:
        with pytest.raises(HparamsError, match=r'argument --pruning_fraction: must be a fraction in \[0, 1\)'):
            grasp.PruningHparams('grasp', fraction).validate()


def test_check_levels_rejects_only_levels_with_an_empty_pool():
    with torch.device('meta'):
        model = registry.get(ModelHparams('mnist_lenet_300_100', 'kaiming_normal', 'uniform'))
    hparams = snip.PruningHparams('snip', 0.9)
    snip.Strategy.check_levels(hparams, model, 6)  # 266200 -> 26620 -> 2662 -> 266 -> 26 -> 2 -> 0
    with pytest.raises(HparamsError, match='no prunable weight is left after level 6 .* use --levels=6'):
        snip.Strategy.check_levels(hparams, model, 7)
    synflow.Strategy.check_levels(synflow.PruningHparams('synflow', 0.0), model, 1000)  # f = 0 never empties it


def test_lowest_breaks_ties_by_position_and_is_exact():
    values = torch.tensor([3.0, 1.0, 2.0, 1.0, float('nan'), 1.0, 0.5])
    assert sorted(ranking.lowest(values, 3).tolist()) == [1, 3, 6]
    assert sorted(ranking.lowest(values, 6).tolist()) == [0, 1, 2, 3, 5, 6]
    big = torch.rand(10000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    for n in [1, 20, 156, 700, 5000, 9500, 10000]:
        assert torch.equal(torch.sort(ranking.lowest(big, n)).values, torch.sort(torch.argsort(big)[:n]).values)
    steps = torch.arange(20000, dtype=torch.float64) // 100  # 100-fold ties, with the sampled bound in play
    expected = torch.cat([torch.arange(19800, 19850), torch.arange(19900, 20000)])  # all 0s, the first 50 1s
    assert torch.equal(torch.sort(ranking.lowest(steps.flip(0), 150)).values, expected)
    assert ranking.number_to_prune(0.7, 10) == 7 and ranking.number_to_prune(0.2, 11) == 3

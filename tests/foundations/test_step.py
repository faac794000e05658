"""Step parsing, construction and comparison, against the golden cases recorded on the original."""

import pytest

from foundations.step import Step
from tests.conftest import load_golden

GOLDEN = load_golden('steps.json')


@pytest.mark.parametrize('case', GOLDEN['from_str'], ids=lambda c: repr(c['string']) + f"@{c['iterations_per_epoch']}")
def test_from_str(case):
    assert Step.str_is_zero(case['string']) == case['str_is_zero']
    if 'error' in case:
        with pytest.raises(ValueError) as e:
            Step.from_str(case['string'], case['iterations_per_epoch'])
        assert str(e.value) == case['error'].split(': ', 1)[1]
        return
    step = Step.from_str(case['string'], case['iterations_per_epoch'])
    assert (step.iteration, step.ep, step.it) == (case['iteration'], case['ep'], case['it'])
    assert str(step) == case['str']


@pytest.mark.parametrize('case', GOLDEN['constructors'], ids=str)
def test_constructors(case):
    ipe = case['iterations_per_epoch']
    if 'error' in case:
        with pytest.raises(ValueError) as e:
            Step(case['iteration'], ipe)
        assert str(e.value) == case['error'].split(': ', 1)[1]
        return
    step = Step.from_epoch(*case['from_epoch'], ipe) if 'from_epoch' in case else Step(case['iteration'], ipe)
    assert (step.iteration, step.ep, step.it) == (case['iteration'], case['ep'], case['it'])


def test_comparisons():
    a, b = Step.from_str('1ep', 391), Step.from_str('391it', 391)
    assert a == b and a <= b and a >= b and not a < b and not a != b
    assert Step(5, 10) < Step(6, 10) and Step(7, 10) > Step(6, 10)
    with pytest.raises(ValueError, match='Cannot compare steps when epochs are of different lengths.'):
        _ = Step.from_str('1ep', 391) == Step.from_str('1ep', 100)
    with pytest.raises(ValueError, match="Invalid type for other: <class 'int'>."):
        _ = Step.from_str('1ep', 391) == 5
    with pytest.raises(ValueError):
        _ = Step.zero(3) == None  # noqa: E711 - the original raises here too


def test_ep_it_arithmetic():
    step = Step(11010, 100)
    assert (step.ep, step.it) == (110, 10)
    step = Step.from_epoch(100, 1000, 100)
    assert (step.iteration, step.ep, step.it) == (11000, 110, 0)
    assert Step.from_str('2021it', 100).ep == 20 and Step.from_str('2021it', 100).it == 21
    assert Step.from_str('5ep3it', 100).iteration == 503
    assert {Step(3, 5), Step(3, 5)} == {Step(3, 5)}  # hashable, unlike the original

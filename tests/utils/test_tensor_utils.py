import pytest
import torch

from utils import tensor_utils


def test_vectorize_and_back():
    state = {'x': torch.arange(5), 'z': torch.arange(100, 105), 'y': torch.eye(3, dtype=torch.int64)}
    vector = tensor_utils.vectorize(state)
    assert vector.tolist() == [0, 1, 2, 3, 4, 1, 0, 0, 0, 1, 0, 0, 0, 1, 100, 101, 102, 103, 104]
    back = tensor_utils.unvectorize(vector, state)
    assert all(torch.equal(back[k], v) for k, v in state.items())
    with pytest.raises(ValueError, match='Ran out of values.'):
        tensor_utils.unvectorize(vector[:-1], state)
    with pytest.raises(ValueError, match='Excess values.'):
        tensor_utils.unvectorize(torch.cat([vector, vector[:1]]), state)
    with pytest.raises(ValueError):
        tensor_utils.unvectorize(vector.view(1, -1), state)


def test_seeded_permutations_match_the_original():
    assert tensor_utils.perm(10, 0).tolist() == [2, 5, 4, 8, 9, 1, 6, 3, 7, 0]
    assert tensor_utils.perm(10, 0).tolist() == tensor_utils.perm(10, 0).tolist()
    assert tensor_utils.perm(10, 1).tolist() == [6, 8, 9, 4, 5, 2, 1, 7, 3, 0]
    t = torch.tensor(range(10, 20))
    assert tensor_utils.shuffle_tensor(t, 0).tolist() == [12, 15, 14, 18, 19, 11, 16, 13, 17, 10]
    assert tensor_utils.shuffle_tensor(t, 1).tolist() == [16, 18, 19, 14, 15, 12, 11, 17, 13, 10]
    assert sorted(tensor_utils.shuffle_tensor(t, 5).tolist()) == t.tolist()

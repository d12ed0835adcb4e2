import torch

from mscl.pretrain.knn import knn_predict


def test_weighted_vote_of_the_nearest_neighbours():
    # class 0 around +x, class 1 around +y; the train mean is removed first, so the points are
    # placed symmetrically around the origin
    train = torch.tensor([[1.0, 0.0], [0.9, -0.1], [-1.0, 0.0], [0.0, 1.0], [0.1, 0.9], [0.0, -1.0]])
    labels = torch.tensor([0, 0, 1, 1, 1, 0])
    test = torch.tensor([[2.0, 0.1], [0.1, 2.0], [-1.0, -0.1]])
    assert knn_predict(train, labels, test, k=1).tolist() == [0, 1, 1]
    # k = 3: the two same-class neighbours of the first two test points outvote the third
    assert knn_predict(train, labels, test, k=3).tolist()[:2] == [0, 1]


def test_k_larger_than_the_train_set_and_unseen_classes():
    train = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    pred = knn_predict(train, torch.tensor([0, 2]), torch.tensor([[0.0, 3.0]]), k=10, num_classes=3)
    assert pred.tolist() == [2]


def test_votes_are_weighted_by_similarity():
    # two far neighbours of class 1 against one very close neighbour of class 0
    train = torch.tensor([[1.0, 0.02], [0.2, 1.0], [0.3, 1.0], [-1.0, -1.0]])
    labels = torch.tensor([0, 1, 1, 2])
    # exp(cos / 0.07): the close class-0 neighbour outweighs the two class-1 ones
    assert knn_predict(train, labels, torch.tensor([[1.0, 0.1]]), k=3).tolist() == [0]
    # at a high temperature the votes count almost equally: two beat one
    assert knn_predict(train, labels, torch.tensor([[1.0, 0.1]]), k=3, temperature=100.0).tolist() == [1]

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


def test_flow_monitor_separates_directions_with_a_colour_pooling_encoder(tmp_path):
    import numpy as np
    import pandas as pd

    from mscl.io.flow_files import write_flow
    from mscl.pretrain.knn import FlowKnnMonitor

    # uniform flow: class 0 rightwards, class 1 upwards; the colour-coded clip's mean colour names
    # the direction, so an encoder that averages colours separates the classes. Val videos are
    # classified by train neighbours; test videos are never read: these four, mislabelled, would tie the vote
    (tmp_path / "flow").mkdir()
    rows, flows = [], []
    for v in range(14):
        label, direction = v % 2, [(3.0, 0.0), (0.0, -3.0)][v % 2]
        flow = np.broadcast_to(np.array(direction, np.float32), (5, 12, 16, 2)).copy()
        write_flow(tmp_path / "flow" / f"v{v}.zip", flow, bound=20.0, meta={"offset": 1, "step": 1})
        split = "val" if v < 6 else "train" if v < 10 else "test"
        label = 1 - label if split == "test" else label
        rows.append({"video_id": f"v{v}", "path": "", "label": label, "label_name": str(label), "split": split})
        flows.append({"video_id": f"v{v}", "flow": f"v{v}.zip", "num_flows": 5, "status": "ok"})
    pd.DataFrame(rows).to_csv(tmp_path / "videos.csv", index=False)
    pd.DataFrame(flows).to_csv(tmp_path / "flow/manifest.csv", index=False)
    monitor = FlowKnnMonitor(tmp_path / "videos.csv", tmp_path / "flow", clip_len=2, interval=2, crop_size=8, k=4,
                             max_videos=10)
    assert monitor.views["val"].shape == (6, 3, 2, 8, 8) and monitor.views["train"].shape == (4, 3, 2, 8, 8)

    class MeanColour(torch.nn.Module):
        def forward(self, x):
            return x.mean(dim=(2, 3, 4)), []

    encoder = MeanColour().train()
    assert monitor(encoder, torch.device("cpu")) == 100.0
    assert encoder.training  # its mode is restored

import json

import pytest

from mscl.report import experiment_rows, markdown_table, pick, results_rows


def _exp(name, method, init, top1, ts):
    params = {"params.yaml": {"data": {"pretrain": {"method": method},
                                       "evaluation": {"init": init, "datasets": ["motion", "relative"]}}}}
    metrics = {"metrics/motion/finetune.json": {"data": {"single_view": {"video_top1": top1},
                                                         "multi_view": {"video_top1": top1 + 1}}},
               "metrics/motion/linear.json": {"data": {"video_top1": 20.0}},
               "metrics/motion/retrieval.json": {"data": {"R@1": 30.0, "R@5": 50.0}},
               "metrics/relative/linear.json": {"data": {"video_top1": 21.0}}}
    return {"rev": "abc", "name": name, "data": {"timestamp": ts, "params": params, "metrics": metrics}}


def test_rows_and_table_from_exp_show_json():
    exp_show = [{"rev": "workspace", "name": None, "data": {"params": {}}, "experiments": None},
                {"rev": "head", "name": "main", "data": {"params": {}}, "experiments": [
                    {"revs": [_exp("moco", "moco", "pretrained", 30.0, "2026-01-02")]},
                    {"revs": [_exp("mscl", "mscl", "pretrained", 40.0, "2026-01-03")]},
                    {"revs": [_exp("random", "mscl", "random", 10.0, "2026-01-01")]}]}]
    rows = experiment_rows(exp_show)
    assert [r["name"] for r in rows] == ["random", "moco", "mscl"]
    assert rows[0]["rev"] == "abc" and rows[0]["baseline"] == "head"  # the commit it was run from
    columns, table_rows = results_rows(rows)
    table = markdown_table({"columns": columns, "rows": table_rows, "command": "make results"}).splitlines()
    assert table[0].startswith("| experiment | evaluated on | pretraining | encoder | fine-tune top-1 (1 view)")
    # a row per experiment and evaluation set; what a set lacks shows as n/a
    assert table[6] == "| mscl | motion | mscl | pretrained | 40.00 | 41.00 | 20.00 | 30.00 | 50.00 |"
    assert table[7] == "| mscl | relative | mscl | pretrained | n/a | n/a | 21.00 | n/a | n/a |"
    # only the named experiments, in the asked order: an unrelated one stays out of the table
    assert [r["name"] for r in pick(rows, ["mscl", "random"])] == ["mscl", "random"]
    with pytest.raises(SystemExit, match="no experiment named other"):
        pick(rows, ["mscl", "other"])


def test_a_measured_table_round_trips_through_its_json(tmp_path):
    from mscl.report import write_table

    write_table(tmp_path / "t.json", ["offset", "error px"], [[2, 0.123456], [8, 7.2]], "python benchmarks/x.py --y")
    doc = json.loads((tmp_path / "t.json").read_text())
    assert doc["rows"] == [[2, 0.1235], [8, 7.2]]
    assert markdown_table(doc) == ("| offset | error px |\n|---|---|\n| 2 | 0.12 |\n| 8 | 7.20 |\n\n"
                                   "`python benchmarks/x.py --y`")


def test_marked_tables_are_found_and_replaced():
    from mscl.report import marked_tables, refresh_tables

    text = "a\n<!-- table r.json summary:val -->\nold\n<!-- end table -->\nb <!-- table s.json table --><!-- end table -->"
    assert marked_tables(text) == [("r.json", "summary:val"), ("s.json", "table")]
    new = refresh_tables(text, lambda source, view: f"{source}/{view}")
    assert new == ("a\n<!-- table r.json summary:val -->\nr.json/summary:val\n<!-- end table -->\n"
                   "b <!-- table s.json table -->\ns.json/table\n<!-- end table -->")


def test_docs_assets_are_small_copies_of_the_pictures_that_exist(tmp_path):
    import cv2
    import numpy as np

    from mscl.report import docs_assets

    big = np.random.default_rng(0).integers(0, 255, (600, 1500, 3), dtype=np.uint8)
    (tmp_path / "reports/motion/screen").mkdir(parents=True)
    cv2.imwrite(str(tmp_path / "reports/motion/screen/scores.png"), big)
    written = docs_assets(tmp_path, tmp_path / "assets", width=300)
    assert written == [tmp_path / "assets/screen.png"]  # the others do not exist here
    small = cv2.imread(str(written[0]))
    assert small.shape == (120, 300, 3)

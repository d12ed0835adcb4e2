"""Result documents, their tables and figures, and the marked tables of README.md and docs/."""
import json

import pytest

from mscl.bench import results
from mscl.bench.grid import grid
from mscl.report import marked_tables, refresh_tables

from bench.test_grid import PARAMS, preset
from helpers import REPO


def _doc(values):
    """A results document: {arm: {seed: (val linear, val R@1, test linear or None)}}."""
    exps = []
    for arm, seeds in values.items():
        for seed, (lin, r1, test) in seeds.items():
            exps.append({"arm": arm, "seed": seed, "name": f"x-{arm}-s{seed}", "key": "k",
                         "val": {"linear top-1": lin, "retrieval R@1": r1},
                         "test": None if test is None else {"linear top-1": test, "retrieval R@1": r1},
                         "knn": [[0, 12.5], [40, 10.0 + lin / 10]], "seconds": {"val": 700.0, "test": test and 60.0}})
    return {"preset": "benchmarks/x.yaml", "version": 1, "arms": list(values), "references": ["moco"], "chance": 12.5,
            "metrics": ["linear top-1", "retrieval R@1"], "experiments": exps}


AUDIT = _doc({"mscl": {0: (27.0, 26.0, None), 1: (45.5, 48.0, None), 2: (18.5, 18.0, None)},
              "moco": {0: (7.5, 10.0, 9.0), 1: (10.5, 10.5, 8.0), 2: (7.5, 11.0, 9.0)}})


def test_summary_has_means_sds_and_every_seed():
    lines = results.summary_table(AUDIT, "val").splitlines()
    assert lines[2] == "| mscl | 0,1,2 | 30.3 +- 13.8 | 30.7 +- 15.5 | 27.0, 45.5, 18.5 | 26.0, 48.0, 18.0 |"
    assert results.summary_table(AUDIT, "test").splitlines()[2:] == ["| moco | 0,1,2 | 8.7 +- 0.6 | 10.5 +- 0.5 | 9.0, 8.0, 9.0 | 10.0, 10.5, 11.0 |"]


def test_differences_pair_the_seeds_and_say_whether_the_ci_is_above_zero():
    rows = results.differences_table(AUDIT, "val").splitlines()[2:]
    assert len(rows) == 2  # mscl - moco, per metric
    # paired over seeds 0-2: differences 19.5, 35.0, 11.0; mean 21.83, sd 12.17, se 7.03, t(0.975, 2) = 4.303
    assert rows[0].startswith("| mscl | moco | linear top-1 | +21.8 | [-8.4, +52.1] | paired, n = 3/3 |")
    assert rows[0].endswith("| no |")
    assert results.render(AUDIT, "differences:test") == "(no arm and reference with two test seeds each yet)"
    assert results.render({**AUDIT, "experiments": [{**r, "test": None} for r in AUDIT["experiments"]]},
                          "summary:test") == "(no test results yet)"


def test_power_table_from_a_pilot():
    table = results.power_table(AUDIT, "val", 10.0).splitlines()
    assert table[2].startswith("| mscl | moco | linear top-1 | 12.2 |")


def test_seeds_without_spread_are_reported_as_undetermined_not_as_a_win():
    # R@1 differs by exactly 1.5 points on both seeds: no interval, no "yes", no seed count
    doc = _doc({"mscl": {0: (30.0, 25.5, None), 1: (34.0, 27.0, None)}, "moco": {0: (26.0, 24.0, None), 1: (27.0, 25.5, None)}})
    rows = results.differences_table(doc, "val").splitlines()[2:]
    # linear: differences 4 and 7, sd 2.12, se 1.5, t(0.975, 1) = 12.71: +5.5 [-13.6, +24.6], p 0.170
    assert rows[0] == "| mscl | moco | linear top-1 | +5.5 | [-13.6, +24.6] | paired, n = 2/2 | 0.170 | no |"
    assert rows[1] == "| mscl | moco | retrieval R@1 | +1.5 | n/a: no spread over the seeds | paired, n = 2/2 | n/a | no |"
    assert results.power_table(doc, "val", 10.0).splitlines()[3].endswith("| 0.0 | n/a: no spread over 2 seeds |")
    one = _doc({"mscl": {0: (30.0, 25.5, None), 1: (34.0, 27.0, None)}, "moco": {1: (27.0, 25.5, None), 2: (26.0, 24.0, None)}})
    assert results.power_table(one, "val", 10.0).splitlines()[2] == \
        "| mscl | moco | linear top-1 | n/a | n/a: fewer than 2 seeds in common |"


def test_unknown_view_is_refused_and_times_sum_val_and_test():
    with pytest.raises(ValueError, match="unknown benchmark table"):
        results.render(AUDIT, "summary:train")
    assert "| mscl | 700 | 700 | 700 |" in results.times_table(AUDIT) and "| moco | 760 |" in results.times_table(AUDIT)
    assert results.times_table({**AUDIT, "experiments": []}) == "(no experiment of this grid has run yet)"


def test_test_tables_and_figures_are_sealed_until_the_whole_grid_has_test_results(tmp_path, monkeypatch):
    partial = {**AUDIT, "sealed": True, "grid": 6}
    assert results.render(partial, "summary:test").startswith("(test results are sealed until every experiment")
    assert "3 of 6" in results.render(partial, "differences:test")
    assert results.render(partial, "summary:val") == results.render(AUDIT, "summary:val")
    monkeypatch.chdir(tmp_path)
    assert [w.name for w in results.write_results(preset(tmp_path, name="x"), partial)] == ["x.json", "x_val.png", "x_knn.png"]


def test_collect_keeps_the_current_experiments_with_their_test_phase(tmp_path):
    p = preset(tmp_path)
    exps = grid(p, PARAMS)
    files = lambda top1: {"metrics/motion/linear.json": {"video_top1": top1}, "metrics/motion/retrieval.json": {"R@1": 9.0}}
    done = {exps[0].name: {"files": files(40.0), "rev": "none"}, exps[0].test_name: {"files": files(35.0), "rev": "none"},
            "tiny-mscl-s1-oldkey0": {"files": files(99.0), "rev": "none"}}
    earlier = {"arm": "random", "seed": 1, "name": exps[3].name, "val": {"linear top-1": 12.0}, "test": None}
    doc = results.collect(p, exps, done, {exps[0].name: 70.0}, {exps[3].name: earlier, "tiny-x-s0-00000000": earlier})
    assert [r["name"] for r in doc["experiments"]] == [exps[0].name, exps[3].name]  # this clone's, then recorded
    rec = doc["experiments"][0]
    assert rec["val"]["linear top-1"] == 40.0 and rec["test"]["linear top-1"] == 35.0
    assert rec["seconds"] == {"val": 70.0, "test": None} and rec["knn"] is None
    assert doc["sealed"] and doc["grid"] == 4


def test_figures_are_drawn_from_the_document(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    p = preset(tmp_path, name="x")
    written = results.write_results(p, AUDIT)
    assert [w.name for w in written] == ["x.json", "x_val.png", "x_test.png", "x_knn.png"]
    assert all(w.stat().st_size > 1000 for w in written[1:])
    assert json.loads(written[0].read_text()) == AUDIT


def test_marked_tables_are_rewritten_from_their_source(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "r.json").write_text(json.dumps(AUDIT))
    text = "intro\n<!-- table r.json summary:val -->\nstale\n<!-- end table -->\nend\n"
    (tmp_path / "README.md").write_text(text)
    assert results.refresh_documents(tmp_path) == [tmp_path / "README.md"]
    new = (tmp_path / "README.md").read_text()
    assert new == refresh_tables(text, lambda s, v: results.render(AUDIT, v))
    assert "| mscl | 0,1,2 | 30.3 +- 13.8 |" in new and "stale" not in new and new.endswith("<!-- end table -->\nend\n")
    assert results.refresh_documents(tmp_path) == []  # up to date


def test_every_marked_table_of_the_readme_and_docs_equals_its_committed_results():
    for pattern in results.DOCUMENTS:
        for doc in REPO.glob(pattern):
            text = doc.read_text()
            for source, view in marked_tables(text):  # a grid's results may not exist yet; measured tables must
                assert view not in ("table", "zoo") or (REPO / source).is_file(), f"{doc.name}: no {source}"
            fresh = refresh_tables(text, lambda s, v: results.render_source(s, v, REPO))
            assert fresh == text, f"{doc.relative_to(REPO)}: a marked table differs from its JSON (python -m mscl.bench tables)"


def test_the_zoo_shows_each_grid_arm_over_its_seeds_and_what_was_not_run(tmp_path):
    (tmp_path / "r.json").write_text(json.dumps(AUDIT))
    (tmp_path / "unsealed.json").write_text(json.dumps({**AUDIT, "sealed": False, "experiments": [
        r for r in AUDIT["experiments"] if r["arm"] == "moco"]}))
    zoo = {"entries": [
        {"method": "MSCL", "pretrain": "K400", "evaluation": "UCF101 fine-tune", "config": "presets/paper.yaml", "paper": "91.5"},
        {"method": "MSCL", "pretrain": "x", "evaluation": "linear / R@1", "config": "x", "results": "r.json", "arm": "mscl"},
        {"method": "MoCo", "pretrain": "x", "evaluation": "linear / R@1", "config": "x", "results": "unsealed.json", "arm": "moco"},
        {"method": "DCLR", "pretrain": "x", "evaluation": "linear / R@1", "config": "x", "results": "none.json", "arm": "dclr"}]}
    lines = results.zoo_table(zoo, tmp_path).splitlines()
    assert lines[2] == "| MSCL | K400 | UCF101 fine-tune | presets/paper.yaml | 91.5 | not run here |"
    assert results.render_source("missing.json", "summary:test", tmp_path).startswith("(not run yet")
    assert results.render_source("missing.json", "table", tmp_path).startswith("(not measured yet")
    with pytest.raises(FileNotFoundError, match="zoo"):
        results.render_source("missing.json", "zoo", tmp_path)
    assert lines[3].endswith("| 30.3 +- 13.8 / 30.7 +- 15.5 (val, 3 seeds) |")  # test sealed: val, labelled
    assert lines[4].endswith("| 8.7 +- 0.6 / 10.5 +- 0.5 (test, 3 seeds) |")
    assert lines[5].endswith("| not run yet (`none.json`) |")
    one = {**AUDIT, "experiments": [r for r in AUDIT["experiments"] if r["arm"] == "moco" and r["seed"] == 0]}
    (tmp_path / "one.json").write_text(json.dumps(one))
    cell = results.zoo_table({"entries": [{**zoo["entries"][2], "results": "one.json"}]}, tmp_path).splitlines()[2]
    assert cell.endswith("(val, 1 seed) |") and "+-" not in cell  # one seed: a value, no spread

import pytest

from mscl.pipeline.cli import stage_parser, to_argv

PATHS = {"videos_csv": "input: the index", "out_dir": "output: containers"}


def test_named_paths_round_trip_in_any_order():
    ap = stage_parser("doc", PATHS)
    args = ap.parse_args(to_argv("p.yaml", {"out_dir": "o", "videos_csv": "v.csv"}))
    assert (args.params, args.videos_csv, args.out_dir) == ("p.yaml", "v.csv", "o")
    assert to_argv("p.yaml", {"videos_csv": "v.csv"}) == ["--params", "p.yaml", "--videos-csv", "v.csv"]


def test_a_missing_path_is_named(capsys):
    with pytest.raises(SystemExit):
        stage_parser("doc", PATHS).parse_args(["--params", "p.yaml", "--videos-csv", "v.csv"])
    assert "--out-dir" in capsys.readouterr().err

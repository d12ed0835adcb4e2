"""Benchmark grids: does pretraining learn motion? Named DVC experiments from a preset file, read
on val while anything is tuned and on test once, with statistics over seeds.

A preset (``benchmarks/<name>.yaml``, e.g. ``benchmarks/motion.yaml``) lists shared params, arms
(each its own values), seeds, the arms every other arm is compared with, and a ``version`` that
is raised when code that changes its results changes. Everything belonging to a preset carries its
name: experiments ``<name>-<arm>-s<seed>-<key>``, ``benchmarks/results/<name>.json``, its times
file and figures, and the README/docs tables rendered from that JSON. The key is a hash of what
the experiment's result depends on (the preset's values for it, the committed ``params.yaml`` and
the preset's ``version``): after any of them changes, the old experiments no longer count and the
runner reruns them under a new key.

Commands (``python -m mscl.bench``, each with ``--preset``):

* ``run``: every missing experiment of the grid, pretraining and the evaluation on the **val**
  split (``evaluation.split: val``), one after the other in the workspace (resumable: an
  interrupted pretraining continues from its checkpoint, the shared index/frames/flow/screen
  outputs come back from the DVC cache), or with ``--queue`` through DVC's experiment queue;
* ``test``: once every val experiment of the grid has finished, the **test** split read once per
  experiment (``<experiment>-test``: its encoder, only linear and retrieve rerun);
* ``report``: results JSON, figures and every marked table in README.md and docs/;
* ``power``: from a pilot's val results, how many seeds a margin needs (:mod:`mscl.stats`).
"""

"""A benchmark preset and its grid of experiments, each named with the key of what it depends on."""
from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import yaml

from mscl.report import flatten, lookup

RESULTS_DIR = Path("benchmarks/results")
EVAL_SPLIT = "evaluation.split"  # which split the evaluation stages score: val while tuning, test once


@dataclasses.dataclass(frozen=True)
class Preset:
    """A benchmark preset file, checked for its shape."""

    name: str  # the file's stem: prefix of every experiment, result file and table of the preset
    path: Path
    dataset: str  # the named dataset (params.yaml ``datasets``) the grid pretrains on and evaluates
    version: int
    params: dict  # {"section.key": value} every experiment sets ("{seed}" is the experiment's seed)
    arms: dict  # {arm: {"section.key": value}}, in file order (the tables keep it)
    seeds: dict  # {arm: [seeds]}
    references: tuple  # arms every other arm is compared with
    chance: float | None  # the metrics' chance level (%), drawn in the figures

    @property
    def results(self) -> Path:
        return RESULTS_DIR / f"{self.name}.json"

    @property
    def times(self) -> Path:
        return RESULTS_DIR / f"{self.name}_times.json"


def load_preset(path: str | Path) -> Preset:
    """Read and check ``benchmarks/<name>.yaml``.

    Raises:
        ValueError: no arms, no integer ``version``, no ``dataset``, or a reference or ``arm_seeds``
            entry naming no arm.
    """
    path = Path(path)
    doc = yaml.safe_load(path.read_text()) or {}
    arms = {arm: dict(own or {}) for arm, own in (doc.get("arms") or {}).items()}
    if not arms:
        raise ValueError(f"{path}: the benchmark preset lists no arms")
    if not isinstance(doc.get("version"), int):
        raise ValueError(f"{path}: needs an integer `version` (raise it when code that changes the results changes)")
    if not isinstance(doc.get("dataset"), str):
        raise ValueError(f"{path}: needs the `dataset` it pretrains on and evaluates (a name of params.yaml datasets)")
    refs, own_seeds = tuple(doc.get("references") or ()), doc.get("arm_seeds") or {}
    for name in (*refs, *own_seeds):
        if name not in arms:
            raise ValueError(f"{path}: {name!r} is not an arm of the preset (arms: {', '.join(arms)})")
    seeds = {arm: [int(s) for s in own_seeds.get(arm, doc.get("seeds") or [0])] for arm in arms}
    return Preset(path.stem, path, doc["dataset"], doc["version"], flatten(doc.get("params") or {}), arms, seeds, refs, doc.get("chance"))


@dataclasses.dataclass(frozen=True)
class Experiment:
    """One cell of the grid: arm, seed, every param it sets (dotted keys), and its key."""

    preset: str
    arm: str
    seed: int
    sets: dict
    key: str

    @property
    def name(self) -> str:
        """The DVC experiment that pretrains and evaluates on val."""
        return f"{self.preset}-{self.arm}-s{self.seed}-{self.key}"

    @property
    def test_name(self) -> str:
        """The DVC experiment that reads the test split with the val experiment's encoder."""
        return f"{self.name}-test"


def experiment_key(version: int, sets: dict, params: dict) -> str:
    """8 hex digits of a hash of what an experiment's result depends on: the benchmark's code
    ``version``, the values ``sets`` it applies and the parsed ``params.yaml`` they apply to
    (parsed: editing a comment changes nothing)."""
    blob = json.dumps({"version": version, "sets": sets, "params": params}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:8]


def _with_seed(value, seed: int):
    return seed if value == "{seed}" else value


def grid(preset: Preset, params: dict) -> list[Experiment]:
    """Every (arm, seed) of ``preset`` over the parsed ``params.yaml`` ``params``, arms in file
    order, seeds inner; each sets the shared values, then its arm's, then ``evaluation.split: val``."""
    out = []
    for arm, own in preset.arms.items():
        for seed in preset.seeds[arm]:
            sets = {k: _with_seed(v, seed) for k, v in {**preset.params, **own}.items()} | {EVAL_SPLIT: "val"}
            out.append(Experiment(preset.name, arm, seed, sets, experiment_key(preset.version, sets, params)))
    return out


def overrides(sets: dict, params: dict) -> dict:
    """``sets`` as ``dvc exp run -S`` takes them over the parsed ``params``: a key that ``params``
    lacks (a preset's own named dataset) gets Hydra's ``+``, which adds it."""
    missing = object()
    return {(k if lookup(params, k, missing) is not missing else f"+{k}"): v for k, v in sets.items()}


def select(experiments: list[Experiment], arms: list[str] | None = None, seeds: list[int] | None = None) -> list[Experiment]:
    """The experiments of the named arms and seeds (None or empty: all); a name the grid lacks is an error."""
    for what, asked, known in (("arm", arms, {e.arm for e in experiments}), ("seed", seeds, {e.seed for e in experiments})):
        unknown = set(asked or ()) - known
        if unknown:
            raise ValueError(f"the benchmark preset has no {what} {sorted(unknown)}; it has {sorted(known)}")
    return [e for e in experiments if (not arms or e.arm in arms) and (not seeds or e.seed in seeds)]

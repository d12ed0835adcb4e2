"""README.md and docs/*.md name only what this repository has: every path of it (a word in
backticks or a link that starts with one of its top-level folders or files), every `make` target,
every module run as `python -m ...` and every params.yaml key written as `section.key`. Blocks
marked ```text quote output and are not checked; marked tables are checked against their JSON
files by tests/bench/test_results.py."""
from __future__ import annotations

import fnmatch
import importlib.util
import re
from pathlib import Path

import yaml

from helpers import REPO
from mscl.bench.grid import load_preset
from mscl.params import SOURCE_KEYS
from mscl.report import ASSETS, TABLE, marked_tables

DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]

CODE = re.compile(r"```.*?```|`[^`\n]+`", re.S)  # fenced blocks first, then inline spans
OUTPUT = "```text\n"  # a block that quotes output (an error about a misspelt key, say): not checked
LINK = re.compile(r"\]\(([^)\s]+)\)")  # [text](target) and ![alt](target)
TOKEN = re.compile(r"[\s=,;:()'\"\[\]{}|]+")
PLACEHOLDER = re.compile(r"<[^<>/]*>")  # <d>, <name>, <stage>: any value
MAKE = re.compile(r"\bmake((?:\s+[A-Z_]+=\S+)*)\s+([a-z][\w-]*)")
MODULE = re.compile(r"\bpython3? -m ([A-Za-z_][\w.]*)")
FILE_SUFFIXES = {"py", "json", "csv", "yaml", "md", "png", "pt", "pt2", "txt", "tsv", "zip", "lock", "sh", "html"}


def _ignored_roots() -> set[str]:
    """Top-level names .gitignore keeps out of the repository (pipeline outputs, the venv, ...)."""
    lines = (REPO / ".gitignore").read_text().splitlines()
    return {m.group(1) for line in lines if (m := re.fullmatch(r"/([^/*!]+)/?\*?", line.strip()))} | {".git"}


ROOTS = {p.name for p in REPO.iterdir()} - _ignored_roots()


def _written_by_the_project() -> set[str]:
    """Committed files the project's own commands write, which a clone may not have yet: each
    benchmark grid's results and times (`make bench`), the docs' pictures (`make docs-assets`) and
    the sources of the marked tables (`make results`; tests/bench/test_results.py checks them)."""
    out = {f"docs/assets/{name}.png" for name in ASSETS}
    out |= {source for doc in DOCUMENTS for source, _ in marked_tables(doc.read_text())}
    for preset in (REPO / "benchmarks").glob("*.yaml"):
        p = load_preset(preset)
        out |= {p.results.as_posix(), p.times.as_posix()}
    return out


def _dvc_outputs() -> list[list[str]]:
    """Every output, metric and plot path of dvc.yaml as segments (``${...}``: any one segment):
    where the pipeline writes, for any dataset."""
    out = []
    for stage in yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"].values():
        stage = stage.get("do", stage)
        for kind in ("outs", "metrics", "plots"):
            for entry in stage.get(kind) or []:
                path = entry if isinstance(entry, str) else next(iter(entry))
                out.append(re.sub(r"\$\{[^}]*\}", "*", path).split("/"))
    return out


def _written_by_the_pipeline(path: str, outputs: list[list[str]]) -> bool:
    """``path`` is a dvc.yaml output, lies inside one, or is a folder that holds one."""
    parts = path.split("/")
    for out in outputs:
        n = min(len(parts), len(out))
        if all(a == b or "*" in (a + b) for a, b in zip(parts[:n], out[:n])):
            return True
    return False


def _make_targets() -> set[str]:
    return set(re.findall(r"^([A-Za-z][\w-]*)\s*:(?!=)", (REPO / "Makefile").read_text(), re.M))


def _sections() -> tuple[dict, set[str]]:
    """params.yaml, and every name a `section.key` may start with: its sections and the stages."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    return params, set(params) | set(stages)


def path_problem(token: str, written: set[str], outputs: list[list[str]]) -> str | None:
    """Why ``token`` (relative to the repository root) names no path of it, or None."""
    path = token.rstrip("/.")
    pattern = PLACEHOLDER.sub("*", path)
    if path in written or _written_by_the_pipeline(pattern, outputs):
        return None
    if "*" in pattern or "?" in pattern:
        found = any(REPO.glob(pattern)) or any(fnmatch.fnmatch(w, pattern) for w in written)
        return None if found else f"no path matches {token}"
    return None if (REPO / path).exists() else f"no such path: {token}"


def key_problem(token: str, params: dict) -> str | None:
    """Why ``token`` (``section.key...``) names no key of params.yaml, or None."""
    section, *parts = token.split(".")
    if section not in params:
        return f"{token}: params.yaml has no section {section!r}"
    if section == "datasets":  # datasets.<any name>.<a key some source reads>
        known = {"source", *(k for keys in SOURCE_KEYS.values() for k in keys)}
        if len(parts) > 1 and not PLACEHOLDER.fullmatch(parts[1]) and parts[1] not in known:
            return f"{token}: no dataset source reads {parts[1]!r}"
        return None
    node = params[section]
    for part in parts:
        if not isinstance(node, dict):
            return f"{token}: {part!r} below a value"
        wanted = re.compile(PLACEHOLDER.sub(r"\\w+", part))
        match = next((k for k in node if wanted.fullmatch(str(k))), None)
        if match is None:
            return f"{token}: params.yaml has no key {part!r} there"
        node = node[match]
    return None


def problems(text: str, doc: Path) -> list[str]:
    """Every name of ``text`` (a document at ``doc``) that the repository lacks."""
    written, outputs, targets = _written_by_the_project(), _dvc_outputs(), _make_targets()
    params, sections = _sections()
    found = []
    text = TABLE.sub("", text)  # what the project's tools wrote from a JSON file (tests/bench/test_results.py)
    for span in CODE.findall(text):
        if span.startswith(OUTPUT):
            continue
        code = span.strip("`")
        for token in TOKEN.split(code):
            token = token.lstrip("~+").rstrip(".")
            root = token.split("/")[0]
            if root in ROOTS:
                found.append(path_problem(token, written, outputs))
            elif "." in token and root.split(".")[0] in sections and "/" not in token \
                    and token.rsplit(".", 1)[-1] not in FILE_SUFFIXES:
                found.append(key_problem(token, params) if token.split(".")[0] in params
                             else f"{token}: params.yaml has no section {token.split('.')[0]!r}")
        for _, target in MAKE.findall(code):
            found.append(None if target in targets else f"make {target}: no such Makefile target")
        for module in MODULE.findall(code):
            found.append(None if importlib.util.find_spec(module) else f"python -m {module}: no such module")
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue  # a web address or an anchor of the same page
        rel = (doc.parent / target.split("#")[0]).resolve().relative_to(REPO).as_posix()
        found.append(path_problem(rel, written, outputs))
    return [p for p in found if p]


def test_every_name_in_the_readme_and_docs_exists():
    report = {doc.relative_to(REPO).as_posix(): problems(doc.read_text(), doc) for doc in DOCUMENTS}
    assert {d: p for d, p in report.items() if p} == {}


def test_a_planted_bad_name_of_each_kind_is_found():
    good = ("`mscl/flow/compose.py` `stages/<stage>.py` `metrics/<d>/linear.json:video_top1` `make bench PRESET=x` "
            "`python -m mscl.hub predict` `pretrain.lmcl_weight` `datasets.<name>.splits` `pretrain.<term>_weight` "
            "`main_view.py` `moco/builder.py` [flow](docs/optical-flow.md#pictures) [ray](https://docs.ray.io)")
    assert problems(good, REPO / "README.md") == []
    bad = ("`tests/io/test_cluster.py` `benchmarks/<none>.toml` `make benchmark` `python -m mscl.nothing` "
           "`pretrain.lmcl_wieght` `index.speed` `datasets.motion.spead` [x](docs/missing.md)")
    found = problems(bad, REPO / "README.md")
    assert len(found) == 8, found
    for name in ("test_cluster", "<none>", "benchmark", "mscl.nothing", "lmcl_wieght", "index", "spead", "missing.md"):
        assert any(name in p for p in found), name
    # a link is relative to its document
    assert problems("[hw](hardware.md)", REPO / "docs" / "paper-run.md") == []
    assert problems("[hw](hardware.md)", REPO / "README.md") != []

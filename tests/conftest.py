"""Shared fixtures: small params files written from the repository's params.yaml."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from helpers import REPO


@pytest.fixture(autouse=True, scope="session")
def private_cache_dir(tmp_path_factory):
    """Per-user caches (mscl.io.digest.cache_dir) of the test session go to a temporary folder;
    stages run as subprocesses inherit it through the environment."""
    import os

    before = os.environ.get("MSCL_CACHE_DIR")
    os.environ["MSCL_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if before is None:
        os.environ.pop("MSCL_CACHE_DIR")
    else:
        os.environ["MSCL_CACHE_DIR"] = before


@pytest.fixture
def write_params(tmp_path):
    """Write a params file = the repository's params.yaml with ``overrides`` {section: {key: value}}
    (``datasets``: {name: {key: value}} updates the named dataset's entry)."""

    def write(overrides: dict | None = None, name: str = "params.yaml") -> Path:
        doc = yaml.safe_load((REPO / "params.yaml").read_text())
        for section, values in (overrides or {}).items():
            if section == "datasets":
                for dataset, entry in values.items():
                    doc["datasets"].setdefault(dataset, {}).update(entry)
            else:
                doc.setdefault(section, {}).update(values)
        path = tmp_path / name
        path.write_text(yaml.safe_dump(doc))
        return path

    return write

"""The tiny pretraining inputs, made once per session."""
from pathlib import Path

import pytest

from tiny_pipeline import make_inputs


@pytest.fixture(scope="session")
def pretrain_inputs(tmp_path_factory) -> Path:
    """A folder with params.yaml, data/index, data/frames, data/flow and data/samples."""
    return make_inputs(tmp_path_factory.mktemp("pretrain_inputs"))

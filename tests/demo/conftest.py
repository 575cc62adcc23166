"""One prepared demo (offline channel) for the tests of this folder."""

from __future__ import annotations

import pytest

from . import Demo, prepare_demo


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    return prepare_demo(tmp_path_factory.mktemp("demo"))

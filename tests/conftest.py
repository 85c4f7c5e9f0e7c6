"""Every test session gets its own $PERSEUS_HOME, so nothing touches the user's cache or results; and a
0.2 s look at the host before each run instead of 1 s (tests/integration/test_quiet_host.py looks at
the default)."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="session", autouse=True)
def perseus_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("perseus-home")
    old = os.environ.get("PERSEUS_HOME")
    os.environ["PERSEUS_HOME"] = str(home)
    os.environ.setdefault("PERSEUS_HOST_CHECK_S", "0.2")
    yield home
    if old is None:
        os.environ.pop("PERSEUS_HOME", None)
    else:
        os.environ["PERSEUS_HOME"] = old

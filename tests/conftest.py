"""Every test session gets its own $PERSEUS_HOME, so nothing touches the user's cache or results; and a
0.2 s look at the host before each run instead of 1 s (tests/integration/test_quiet_host.py looks at
the default). Tests under tests/integration are marked integration. Property tests are derandomized."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

# Property tests draw the same examples on every run unless asked to explore (PERSEUS_HYPOTHESIS=random):
# a suite that must pass in one fresh-clone CI run cannot hinge on which examples a seed happened to draw.
settings.register_profile("fixed", derandomize=True)
settings.load_profile("default" if os.environ.get("PERSEUS_HYPOTHESIS") == "random" else "fixed")


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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/integration is an integration test, marked or not: `make test` selects them
    by the mark (with the unit tests marked serial) to run them one at a time."""
    for item in items:
        if item.path.parent.name == "integration":
            item.add_marker(pytest.mark.integration)

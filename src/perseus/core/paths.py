"""Where perseus keeps its files: $PERSEUS_HOME (default ~/.cache/perseus)."""

import os
from pathlib import Path


def perseus_home() -> Path:
    home = os.environ.get("PERSEUS_HOME")
    path = Path(home).expanduser() if home else Path.home() / ".cache" / "perseus"
    path.mkdir(parents=True, exist_ok=True)
    return path


def models_dir() -> Path:
    path = perseus_home() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def runs_dir() -> Path:
    path = perseus_home() / "runs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_db_path() -> Path:
    return perseus_home() / "results.db"


def servers_dir() -> Path:
    """Records of the servers perseus processes are running (serving/orphans.py)."""
    path = perseus_home() / "servers"
    path.mkdir(parents=True, exist_ok=True)
    return path

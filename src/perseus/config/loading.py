"""Read a user's YAML file into a pydantic model; any problem is one line naming the file and the field."""

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from perseus.core.errors import ConfigError, one_line

M = TypeVar("M", bound=BaseModel)


def validation_line(exc: ValidationError, where: str, skip: int = 0, hint: str = "") -> str:
    """A pydantic error as one line naming the field (`where: tenants.0.cpus: ...`); `skip` drops leading
    parts of the field's path (a tagged union's tag); `hint` follows the first problem's message."""
    first = exc.errors()[0]
    message = one_line(str(first["msg"]).removeprefix("Value error, "), limit=None) + hint
    field = ".".join(str(p) for p in first["loc"][skip:])
    more = len(exc.errors()) - 1
    tail = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return (f"{where}: {field}: {message}" if field else f"{where}: {message}") + tail


def build(kind: type[M], where: str, /, **values: Any) -> M:
    try:
        return kind(**values)
    except ValidationError as exc:
        raise ConfigError(validation_line(exc, where)) from None


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({one_line(exc, 200)})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


def load_yaml(path: Path, kind: type[M], **overrides: Any) -> M:
    data = read_yaml(path)
    data.update({key: value for key, value in overrides.items() if value is not None})
    return build(kind, str(path), **data)

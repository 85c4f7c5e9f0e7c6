"""The one exception family (the CLI maps each to one clear line and a non-zero exit) and `one_line`,
how any message is squashed to that line."""


class PerseusError(Exception):
    """A problem the user can act on. Its message is shown as one line, without a traceback."""

    exit_code = 1


class ConfigError(PerseusError):
    """A bad argument, config value or file."""

    exit_code = 2


class ModelError(PerseusError):
    """Unknown model, corrupt model file, failed export."""

    exit_code = 3


class ServerError(PerseusError):
    """The inference server could not start, became unready, or a port is taken."""

    exit_code = 4


class EndpointError(PerseusError):
    """An endpoint is unreachable or answers wrongly."""

    exit_code = 5


class SlaNotMetError(PerseusError):
    """No load level met the SLA."""

    exit_code = 6


class HostBusyError(PerseusError):
    """The host is not quiet enough to measure on, and the user asked for a quiet one."""

    exit_code = 8


class NodeLostError(PerseusError):
    """A cluster node (Ray) died while it measured a placement: the placement is run again elsewhere."""

    exit_code = 9


def one_line(what: str | BaseException, limit: int | None = 300, *, with_type: bool = False) -> str:
    """A text or an exception's message as one line: white space folded, at most `limit` characters
    (a cut line ends in …). An exception without a message is named by its type; `with_type` names
    the type in front of the message too ("ValueError: ...")."""
    if isinstance(what, BaseException):
        message = " ".join(str(what).split())
        kind = type(what).__name__
        text = f"{kind}: {message}" if with_type and message else message or kind
    else:
        text = " ".join(what.split())
    if limit is not None and len(text) > limit:
        return text[: limit - 1] + "…"
    return text

"""The one exception family; the CLI maps each to one clear line and a non-zero exit."""


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

"""The only layer combining serving, load generation and the store: trials and experiments."""

from perseus.orchestrate.trial import run_trial

__all__ = ["run_trial"]

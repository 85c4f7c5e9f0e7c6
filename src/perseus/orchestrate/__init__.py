"""The only layer combining serving, load generation and the store: trials and experiments."""

from perseus.orchestrate.demo import run_demo
from perseus.orchestrate.trial import run_trial

__all__ = ["run_demo", "run_trial"]

"""The progress bar of `perseus run`/`demo`/`bench`: drawn from the first trial on, so a run refused before
it (a typo in the experiment) prints nothing but its one error line."""

import io

from rich.console import Console

from perseus.cli.progress import RichReporter


def _console(out: io.StringIO) -> Console:
    return Console(file=out, force_terminal=False, width=100)


def test_no_trial_no_output() -> None:
    out = io.StringIO()
    with RichReporter(_console(out)):
        pass
    assert out.getvalue() == ""


def test_status_lines_and_the_bar() -> None:
    out = io.StringIO()
    with RichReporter(_console(out)) as reporter:
        reporter.status("exporting resnet50")
        reporter.trial("dedicated resnet50", 0, 2)
        reporter.tick(0.5)
    text = out.getvalue()
    assert text.index("· exporting resnet50") < text.index("dedicated resnet50")
    assert "0.5/2 trials" in text


def test_quiet_prints_nothing() -> None:
    out = io.StringIO()
    with RichReporter(_console(out), quiet=True) as reporter:
        reporter.status("exporting resnet50")
        reporter.trial("dedicated resnet50", 0, 2)
        reporter.tick(0.5)
    assert out.getvalue() == ""

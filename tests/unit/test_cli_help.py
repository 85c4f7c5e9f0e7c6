"""`--help` of every command reads well in an 80-column terminal, and a usage mistake is one line."""

import re
import sys

import pytest
import typer
from typer.core import TyperArgument, TyperOption
from typer.testing import CliRunner

from perseus.cli.app import app, main

# typer's own value names (`<str>`, `<int range>`, `<list[str]>`, ...) say nothing to a user.
TYPE_NAMES = re.compile(r"<(?:bool|str|int|float|path|file|dir|list\[[^]]*\])(?: range)?>")


def command_paths(command: object = None, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command and group, as the words that call it."""
    command = command or typer.main.get_command(app)
    found = [path]
    for name, sub in getattr(command, "commands", {}).items():
        found += command_paths(sub, (*path, name))
    return found


ALL = command_paths()


def _help(path: tuple[str, ...], columns: int = 80) -> str:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": str(columns)})
    assert result.exit_code == 0, result.output
    return result.output


def test_every_command_is_listed() -> None:
    assert {" ".join(p) for p in ALL} >= {
        "",
        "serve",
        "bench",
        "demo",
        "savings",
        "run",
        "report",
        "models",
        "models list",
        "models export",
        "models add",
        "runs",
        "runs list",
        "repo",
        "repo export",
    }


@pytest.mark.parametrize("path", ALL, ids=lambda p: " ".join(p) or "perseus")
def test_help_fits_80_columns(path: tuple[str, ...]) -> None:
    text = _help(path)
    assert text.startswith(f"Usage: perseus {' '.join(path)}".rstrip())
    for line in text.splitlines():
        assert len(line) <= 80, line
        assert "…" not in line, line  # rich cuts with "…"
        # click cuts a command's summary with "..."; only a repeatable argument may end so.
        assert not line.endswith("...") or re.search(r"(ARGS\]|[A-Z])\.\.\.$", line), line
        assert not TYPE_NAMES.search(line), line
        assert not re.search(r"[│╭╰]", line), line  # plain help, not rich panels
    # Values users copy are never split at a hyphen.
    assert not re.search(r"-\n\s+[a-z]", text), text


@pytest.mark.parametrize("path", ALL, ids=lambda p: " ".join(p) or "perseus")
def test_flags_show_no_value_and_options_show_a_named_one(path: tuple[str, ...]) -> None:
    command = typer.main.get_command(app)
    for word in path:
        command = command.commands[word]  # type: ignore[attr-defined]
    text = _help(path)
    for param in command.params:
        if isinstance(param, TyperOption):
            opts = " / ".join([", ".join(param.opts), *param.secondary_opts])
            if param.is_flag:
                assert param.metavar is None and re.search(rf"^  {re.escape(opts)}(  |\n)", text, re.M)
            else:
                assert param.metavar and not param.metavar.startswith("<"), param.name
                assert f"{opts} {param.metavar}" in text
        elif isinstance(param, TyperArgument):
            assert re.search(rf"^  {re.escape(param.metavar or param.name.upper())}\b", text, re.M)


def test_a_group_lists_each_command_with_its_whole_first_sentence() -> None:
    text = _help(("repo",))
    assert "Model repositories for a Triton you run yourself (e.g. on a GPU" in text  # not cut at "e.g."
    assert re.search(r"export\s+Write a self-contained Triton model repository \(ONNX files,", text)
    top = _help(())
    assert re.search(r"^  demo\s+The headline experiment: paper Fig 1 and Fig 2 for two models", top, re.M)


def test_wide_terminals_get_the_same_plain_help() -> None:
    assert _help(("serve",), columns=200) == _help(("serve",), columns=80)


def _main(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["perseus", *args])
    with pytest.raises(SystemExit) as exited:
        main()
    code = exited.value.code
    assert isinstance(code, int)
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("run", "--bogus"), "error: No such option: --bogus — see perseus run --help"),
        (("report",), "error: Missing argument 'RUN' — see perseus report --help"),
        (("report", "seven"), "Invalid value for 'RUN'"),
        (("serve", "--instances", "0"), "Invalid value for '--instances'"),
        (("runz",), "No such command 'runz'"),
        (("serve", "--models"), "Option '--models' requires an argument"),
    ],
)
def test_usage_mistakes_are_one_line_with_exit_code_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...], needle: str
) -> None:
    code, err = _main(capsys, monkeypatch, *args)
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0], err
    assert "Traceback" not in err and "Usage:" not in err


def test_a_group_without_a_command_shows_its_help(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, err = _main(capsys, monkeypatch, "runs")
    assert code == 2 and err.startswith("Usage: perseus runs [OPTIONS] COMMAND") and "list" in err

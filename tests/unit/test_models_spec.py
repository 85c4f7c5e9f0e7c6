"""Property tests of the `NAME:key=value` model spec parser."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perseus.core.errors import ModelError
from perseus.models import format_spec, parse_spec

names = st.from_regex(r"[a-z0-9][a-z0-9_.-]{0,20}", fullmatch=True)
keys = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True)
values = st.from_regex(r"[A-Za-z0-9_.+-]{1,10}", fullmatch=True)


@given(names, st.dictionaries(keys, values, max_size=4))
def test_format_then_parse_round_trips(name: str, options: dict[str, str]) -> None:
    parsed = parse_spec(format_spec(name, options))
    assert parsed.base == name and parsed.options == options


@given(names, st.dictionaries(keys, values, min_size=1, max_size=4))
def test_option_order_does_not_change_canonical_name(name: str, options: dict[str, str]) -> None:
    reversed_spec = ":".join([name, *(f"{k}={v}" for k, v in reversed(options.items()))])
    parsed = parse_spec(reversed_spec)
    assert format_spec(parsed.base, parsed.options) == format_spec(name, options)


@given(st.text(max_size=40))
def test_arbitrary_text_parses_or_raises_model_error(text: str) -> None:
    try:
        parse_spec(text)
    except ModelError as exc:
        assert "\n" not in str(exc).replace(repr(text), "")


@pytest.mark.parametrize("spec", ["a:b", "a:b=1:b=2", "a:=1", "a:B=1", ":", "  "])
def test_rejected(spec: str) -> None:
    with pytest.raises(ModelError):
        parse_spec(spec)

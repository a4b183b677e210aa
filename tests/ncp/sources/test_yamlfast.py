"""Property: :class:`ncp.sources.yamlfast.FastLoader` gives what PyYAML's safe loader gives,
values, aliases and errors alike."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from ncp.sources.yamlfast import FastLoader

SAFE: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load(text: str, loader: Any) -> tuple[str, Any]:
    try:
        return "ok", repr(list(yaml.load_all(text, Loader=loader)))
    except yaml.YAMLError as exc:
        return "error", type(exc).__name__


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
    st.text(max_size=8),
    st.sampled_from(["010", "0x1F", "1_000", "yes", "no", "~", "2001-12-14", ".inf", "1:20",
                     "0o7", "+12", "-0", "null", "NULL", "Off", "1e3", "=", "<<"]),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.text(max_size=5), children, max_size=4)),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(docs=st.lists(values, min_size=1, max_size=3), flow=st.booleans())
def test_dumped_values_load_the_same(docs: list[Any], flow: bool) -> None:
    text = yaml.safe_dump_all(docs, default_flow_style=flow)
    assert load(text, FastLoader) == load(text, SAFE)
    # Plain (untagged) scalars are resolved by the loader: strip the quotes.
    plain = text.replace("'", "")
    assert load(plain, FastLoader) == load(plain, SAFE)


@pytest.mark.parametrize("text", [
    "a: &x [1, 2]\nb: *x\n",
    "base: &b {x: 1}\nchild:\n  <<: *b\n  y: 2\n",
    "? [1, 2]\n: 3\n",
    "a: !!set {x, y}\n",
    "a: !!omap [{x: 1}]\n",
    "a: &r [*r]\n",
    "x: !custom 3\n",
    "- !!binary aGVsbG8=\n",
    "a: 1\na: 2\n",
    "a: !!str 12\nb: !!int '7'\nc: !!float 1\n",
    "a: [unclosed\n",
    "--- 1\n--- [a]\n---\n",
    "a: '1'\nb: 1\nc: '1'\nd: 1\ne: \"yes\"\nf: yes\n",  # remembered tags: quoting counts
    "a: 'x & y'\nb: [1, 2]\nc: {d: [e]}\n",  # an '&' that is no anchor
    "a: [1, 2]\nb: 'no anchor'\n",
])
def test_edge_cases_load_the_same(text: str) -> None:
    assert load(text, FastLoader) == load(text, SAFE)


def test_aliases_stay_one_object() -> None:
    doc = yaml.load("a: &x {k: [1]}\nb: *x\n", Loader=FastLoader)
    assert doc["a"] is doc["b"]


@pytest.mark.parametrize("stream", ["a: [1, {b: c}]\n", b"a: [1, {b: c}]\n",
                                    b"a: &x [1]\nb: *x\n"])
def test_bytes_and_text_streams_load_the_same(stream: str | bytes) -> None:
    assert repr(yaml.load(stream, Loader=FastLoader)) == repr(yaml.load(stream, Loader=SAFE))

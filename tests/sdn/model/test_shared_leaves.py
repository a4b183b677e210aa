"""Leaves read from JSON (tags, tag conditions, conjunctions, port service entries) are
shared instances; sharing never changes what an object is or says."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from sdn.model import Condition, Group, L4PortSetServiceEntry, Tag
from sdn.store.codec import RESOURCE_ADAPTER


def group_json(name: str) -> str:
    return Group(id=name, display_name=name, path=f"/infra/domains/default/groups/{name}",
                 parent_path="/infra/domains/default",
                 expression=(Condition(member_type="SegmentPort", value="ncp/cluster|c"),),
                 tags=(Tag(scope="ncp/cluster", tag="c"),)).model_dump_json()


def test_equal_leaves_from_json_are_one_instance() -> None:
    a, b = (RESOURCE_ADAPTER.validate_json(group_json(n)) for n in ("g1", "g2"))
    assert isinstance(a, Group) and isinstance(b, Group)
    assert a.tags[0] is b.tags[0]
    assert a.expression[0] is b.expression[0]
    assert a.model_dump_json() == group_json("g1")  # what is read is what was written


def test_leaves_built_in_python_are_their_own() -> None:
    assert Tag(scope="a", tag="b") is not Tag(scope="a", tag="b")
    assert Tag(scope="a", tag="b") == Tag.model_validate_json('{"scope": "a", "tag": "b"}')


@pytest.mark.parametrize("text", [
    '{"scope": "a", "tag": "' + "x" * 300 + '"}',
    '{"scope": "a", "tag": ["b"]}',
    '{"scope": "a", "colour": "b"}',
])
def test_an_invalid_leaf_is_refused_every_time(text: str) -> None:
    for _ in range(2):
        with pytest.raises(ValidationError):
            Tag.model_validate_json(text)


def test_lists_are_part_of_the_key() -> None:
    http = L4PortSetServiceEntry.model_validate_json(
        '{"l4_protocol": "TCP", "destination_ports": ["80"]}')
    again = L4PortSetServiceEntry.model_validate_json(
        '{"l4_protocol": "TCP", "destination_ports": ["80"]}')
    other = L4PortSetServiceEntry.model_validate_json(
        '{"l4_protocol": "TCP", "destination_ports": ["8080"]}')
    assert http is again and http is not other
    assert other.destination_ports == ("8080",)
    with pytest.raises(ValidationError):
        L4PortSetServiceEntry.model_validate_json(
            '{"l4_protocol": "TCP", "destination_ports": ["99999"]}')

"""Bounded JSON bodies, the rules alone: size and nesting are refused before the parser sees them."""
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.core import jsonbody


def refusal(raw, **limits):
    """The code ``parse_object`` refuses ``raw`` with (fails the test when it accepts it)."""
    with pytest.raises(jsonbody.BodyRefused) as refused:
        jsonbody.parse_object(raw, **limits)
    return refused.value.code


def nested(depth, inner=b"1"):
    """``depth`` arrays, one inside the other."""
    return b"[" * depth + inner + b"]" * depth


def test_deep_nesting_is_refused_before_parsing():
    """Two hundred thousand ``[`` (Python's parser would raise RecursionError) are refused as too deep."""
    assert refusal(b'{"a": ' + nested(200_000) + b"}", max_bytes=10**6) == "too_deep"


def test_nesting_up_to_the_limit_is_parsed():
    """An object holding 31 arrays nests 32 levels: accepted; one more is refused."""
    assert jsonbody.parse_object(b'{"a": ' + nested(31) + b"}", max_depth=32) == {"a": json.loads(nested(31))}
    assert refusal(b'{"a": ' + nested(32) + b"}", max_depth=32) == "too_deep"


def test_brackets_inside_strings_are_text():
    """Brackets and escaped quotes inside strings do not count as nesting."""
    text = '[[[[{{ \\" ]]]' * 20
    raw = json.dumps({"note": text, "list": [1, [2]]}).encode()
    assert jsonbody.nesting_depth(raw) == 3
    assert jsonbody.parse_object(raw, max_depth=3)["note"] == text


def test_a_body_over_the_size_limit_is_refused():
    """A body one byte over ``max_bytes`` is refused, whatever it holds."""
    raw = json.dumps({"padding": "x" * 100}).encode()
    assert jsonbody.parse_object(raw, max_bytes=len(raw))["padding"] == "x" * 100
    assert refusal(raw, max_bytes=len(raw) - 1) == "too_large"


@pytest.mark.parametrize(("raw", "code"), [(b"{not json", "not_json"), (b"\xff\xfe", "not_json"), (b"", "not_json"),
                                           (b"[1, 2]", "not_object"), (b'"text"', "not_object")])
def test_what_is_not_a_json_object_is_refused(raw, code):
    """Text that is not JSON, and JSON that is not an object, are refused with their own codes."""
    assert refusal(raw) == code


@given(st.binary(max_size=2000))
def test_any_bytes_give_an_object_or_a_refusal(raw):
    """Whatever arrives, the answer is an object or a BodyRefused, never another error."""
    try:
        assert isinstance(jsonbody.parse_object(raw), dict)
    except jsonbody.BodyRefused as refused:
        assert refused.code in {"too_large", "too_deep", "not_json", "not_object"}

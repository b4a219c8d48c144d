"""Body parsing helpers: the fast text-based depth check agrees with walking the parsed value."""

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from mdr.alerts.parsing import _depth_exceeds, _json_depth_exceeds

# JSON values whose strings are full of brackets, quotes and backslashes: the text scan must ignore them.
text = st.text(alphabet='[]{}"\\ab\n', max_size=8)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**63 - 1) | text,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(text, children, max_size=3),
    max_leaves=40,
)


@settings(max_examples=500, deadline=None)
@given(value=json_values, limit=st.integers(min_value=1, max_value=12))
def test_text_depth_check_agrees_with_the_walk(value, limit):
    assert _json_depth_exceeds(orjson.dumps(value), limit) == _depth_exceeds(value, limit)


def test_deep_nesting_is_caught_and_flat_is_not():
    deep: list = []
    node = deep
    for _ in range(40):
        node.append([])
        node = node[0]
    assert _json_depth_exceeds(orjson.dumps(deep), 32)
    assert not _json_depth_exceeds(orjson.dumps({"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}), 32)

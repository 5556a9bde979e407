"""The ledger's fast canonical JSON is RFC 8785 (JCS), byte for byte, for every body it takes
the fast path for; anything else goes through the rfc8785 package itself."""

import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from audit.services import _simple, canonical_json

# Keys like ours (ASCII); values: what the ledger holds (strings in any script, controls, quotes,
# integers, booleans, null), nested.
keys = st.text(alphabet=st.characters(max_codepoint=127), max_size=12)
scalars = st.none() | st.booleans() | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1) | st.text(max_size=30)
bodies = st.recursive(
    scalars, lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=5), max_leaves=30
)


@given(st.dictionaries(keys, bodies, max_size=8))
def test_fast_canonical_json_equals_rfc8785(body):
    assert canonical_json(body) == rfc8785.dumps(body)


def test_the_fast_path_is_taken_for_ledger_bodies_and_refused_where_jcs_differs():
    body = {
        "seq": 1,
        "actor": "hr_reviewer",
        "reason": "证书经核查已撤销\n“引号”\u2028",
        "detail": {"amount": "450.00", "ok": True, "x": None},
    }
    assert _simple(body) and canonical_json(body) == rfc8785.dumps(body)
    # Non-ASCII keys sort by UTF-16 code units in JCS, by code points in Python: not the fast path.
    assert not _simple({"金额": "1", "\U0001f600": "2"})
    assert canonical_json({"\uff61": 1, "\U0001f600": 2}) == rfc8785.dumps({"\uff61": 1, "\U0001f600": 2})
    assert not _simple({"n": 2**60}) and not _simple({"f": 1.5})

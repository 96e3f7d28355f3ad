"""A one-parameter query read without Starlette's multidict reads as Starlette reads it."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st
from starlette.datastructures import QueryParams

from sitescim.web.scim.context import one_query_parameter

_QUERY_BYTES = st.binary(max_size=60).map(lambda raw: raw.replace(b"&", b""))
_QUERY_TEXT = st.text(alphabet='fiter=+%2Ae q"é\x00;#?', min_size=1, max_size=40).map(
    lambda text: text.encode("utf-8")
)


@given(st.one_of(_QUERY_BYTES, _QUERY_TEXT).filter(bool))
@example(b"filter=userName+eq+%22bjensen%40example.com%22")
@example(b"filter=userName%20eq%20%22%C3%A9%22")
@example(b"filter")
@example(b"=x=y")
@example(b"filter=%ZZ%C3")
def test_one_parameter_reads_as_starlette_reads_it(raw: bytes) -> None:
    assert [one_query_parameter(raw)] == list(QueryParams(raw).multi_items())

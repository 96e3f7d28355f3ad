"""What every fuzzer asserts of a response, and how long the fuzzers run.

By default each fuzzer stops after a bounded number of examples (together well
under a minute per database on a shared 2-core machine);
``SITESCIM_FUZZ_EXAMPLES=N`` runs N examples per fuzzer instead, for a longer
hunt (about 50 SCIM requests a second).
"""

from __future__ import annotations

import os
import re

import pytest
from hypothesis import HealthCheck, settings

DEFAULT_EXAMPLES = 200


def examples(default: int = DEFAULT_EXAMPLES) -> int:
    return int(os.environ.get("SITESCIM_FUZZ_EXAMPLES", default))


def fuzz_settings(default: int = DEFAULT_EXAMPLES) -> settings:
    return settings(
        max_examples=examples(default),
        deadline=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],
    )


# What a response must never show: a traceback, code or driver internals, SQL,
# Python class names of errors. Checked only when the request did not carry the
# same text itself (an error may quote the client's own filter back).
LEAKS = [
    re.compile(pattern)
    for pattern in (
        r"Traceback \(most recent call last\)",
        r'File "[^"]+", line \d+',
        r"site-packages",
        r"sitescim[./](?:web|services|db|scim|domain)",
        r"sqlalchemy",
        r"psycopg",
        r"sqlite3",
        r"\b(?:Integrity|Operational|Data|Programming|Internal)Error\b",
        r"\b(?:Type|Key|Value|Attribute|Index|Recursion|Overflow|Unicode\w*)Error\b",
        r"\bpydantic_core\b",
        r"object at 0x[0-9a-f]+",
        r"\bSELECT\b.+\bFROM\b",
        r"\bINSERT INTO\b",
        r"\bUPDATE \w+ SET\b",
    )
]
TOKEN_VALUE = re.compile(r"\bsscim_[0-9A-Za-z]{20,}")


def assert_no_leak(
    response_text: str, request_text: str, secrets: list[str], *, shows_new_token: bool = False
) -> None:
    """``shows_new_token``: the one response that creates a token carries its value (T5)."""
    for secret in secrets:
        assert secret not in response_text, "a secret reached a response"
    for pattern in LEAKS if shows_new_token else [*LEAKS, TOKEN_VALUE]:
        found = pattern.search(response_text)
        if found and found.group(0) not in request_text:
            pytest.fail(f"response leaks internals ({pattern.pattern!r}): {response_text[:500]}")

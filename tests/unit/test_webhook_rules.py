"""Webhook rules decided without the network: the retry schedule, addresses, URLs, secrets."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from standardwebhooks import Webhook

from sitescim.domain.errors import InvalidInputError
from sitescim.domain.webhooks import (
    RETRY_SCHEDULE,
    generate_secret,
    is_public_address,
    parse_url,
    retry_delay,
)


def test_the_retry_schedule_grows_and_lasts_about_three_days() -> None:
    assert list(RETRY_SCHEDULE) == sorted(RETRY_SCHEDULE)
    total = sum(RETRY_SCHEDULE, timedelta())
    assert timedelta(days=3) <= total <= timedelta(days=3, hours=6)
    assert retry_delay(1) == timedelta(seconds=5)
    assert retry_delay(len(RETRY_SCHEDULE)) == timedelta(hours=24)
    assert retry_delay(len(RETRY_SCHEDULE) + 1) is None


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.0.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",  # noqa: S104 - an address refused, not one bound to
        "224.0.0.1",
        "240.0.0.1",
        "::1",
        "::",
        "fe80::1%eth0",
        "fc00::1",
        "::ffff:127.0.0.1",
        "ff02::1",
    ],
)
def test_addresses_webhooks_must_not_reach(address: str) -> None:
    assert not is_public_address(address)


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses(address: str) -> None:
    assert is_public_address(address)


def test_urls_are_taken_apart_with_default_ports() -> None:
    target = parse_url(" https://Example.com./hooks?x=1 ")
    assert (target.scheme, target.host, target.port) == ("https", "example.com", 443)
    assert parse_url("http://[::1]:8080/").host == "::1"
    with pytest.raises(InvalidInputError, match="not a valid URL"):
        parse_url("http://example.com:99999/")
    with pytest.raises(InvalidInputError, match="fragment"):
        parse_url("http://example.com/#x")


def test_a_secret_is_what_standardwebhooks_takes() -> None:
    secret = generate_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    Webhook(secret)  # accepted as is
    assert generate_secret() != secret

"""The token format (T9), its keyed hash (T5) and the storage-free rules T1/T4/T6."""

from __future__ import annotations

import hashlib
import hmac
import string
import zlib
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sitescim.domain import tokens as rules
from sitescim.domain.clock import as_utc
from sitescim.domain.errors import InvalidInputError, PermissionDeniedError
from sitescim.domain.privileges import Actor, Privilege

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
BASE62 = frozenset(string.digits + string.ascii_uppercase + string.ascii_lowercase)
SITE = "site-a-id"

# Hypothesis must own the randomness, or shrinking and replay see other tokens.
tokens = st.integers(min_value=0, max_value=2**rules.RANDOM_BITS - 1).map(rules.format_token)
any_char = st.characters(codec="utf-8")


# --- format -------------------------------------------------------------------


def test_generated_token_has_the_sscim_prefix():
    assert rules.generate_token().startswith("sscim_")


def test_generated_tokens_have_one_fixed_length():
    lengths = {len(rules.generate_token()) for _ in range(200)}
    assert lengths == {rules.TOKEN_LENGTH}
    assert len("sscim_") + rules.RANDOM_CHARS + rules.CHECKSUM_CHARS == rules.TOKEN_LENGTH


def test_generated_token_is_only_base62_after_the_prefix():
    for _ in range(200):
        rest = rules.generate_token()[len("sscim_") :]
        assert set(rest) <= BASE62


def test_alphabet_is_exactly_base62():
    assert len(rules.ALPHABET) == 62
    assert frozenset(rules.ALPHABET) == BASE62


@given(tokens)
def test_generated_token_is_well_formed(token):
    assert rules.is_well_formed(token)


def test_thousand_generated_tokens_are_distinct():
    assert len({rules.generate_token() for _ in range(1000)}) == 1000


def test_random_part_carries_at_least_256_bits():
    assert rules.RANDOM_BITS >= 256
    assert 62**rules.RANDOM_CHARS >= 2**256
    assert 62**rules.RANDOM_CHARS >= 2**rules.RANDOM_BITS


def test_random_part_uses_the_whole_alphabet_over_many_tokens():
    """A random part that left characters unused would carry fewer bits than claimed."""
    seen: set[str] = set()
    for _ in range(300):
        token = rules.generate_token()
        # 62**43 is barely above 2**256, so the leading random character cannot
        # take every value; look at the others.
        seen.update(token[len("sscim_") + 1 : -rules.CHECKSUM_CHARS])
    assert seen == BASE62


# --- the checksum refuses mistyped and truncated tokens without a lookup --------


@given(tokens, st.data())
def test_any_single_character_substitution_is_not_well_formed(token, data):
    position = data.draw(st.integers(min_value=0, max_value=len(token) - 1), label="position")
    replacement = data.draw(any_char.filter(lambda ch: ch != token[position]), label="char")
    mistyped = token[:position] + replacement + token[position + 1 :]
    assert not rules.is_well_formed(mistyped)


@given(tokens, st.data())
def test_any_single_base62_substitution_is_caught_by_the_checksum(token, data):
    """Substitutions that keep the alphabet and length can only be caught by the checksum."""
    position = data.draw(
        st.integers(min_value=len("sscim_"), max_value=len(token) - 1), label="position"
    )
    replacement = data.draw(
        st.sampled_from(rules.ALPHABET).filter(lambda ch: ch != token[position]), label="char"
    )
    mistyped = token[:position] + replacement + token[position + 1 :]
    assert not rules.is_well_formed(mistyped)


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_checksum_is_the_base62_of_the_crc32_in_six_digits(number):
    """``_checksum`` reads two digits at a time; the plain conversion is the reference."""
    body = f"sscim_{number}"
    expected = rules._base62(zlib.crc32(body.encode()), rules.CHECKSUM_CHARS)
    assert rules._checksum(body) == expected
    assert rules._PAIRS[number % len(rules._PAIRS)] == rules._base62(number % 3844, 2)


@pytest.mark.parametrize("crc", [0, 1, 61, 62, 3843, 3844, 3844**2, 2**32 - 1])
def test_checksum_digits_at_the_edges(crc, monkeypatch):
    monkeypatch.setattr(rules.zlib, "crc32", lambda data: crc)
    assert rules._checksum("anything") == rules._base62(crc, rules.CHECKSUM_CHARS)


def test_token_with_non_ascii_digits_after_the_prefix_is_not_well_formed():
    token = rules.generate_token()
    for lookalike in ("\u0661", "\uff10", "\u00b2", "\u212a"):  # Arabic 1, fullwidth 0, ², Kelvin
        assert not rules.is_well_formed(token[:10] + lookalike + token[11:])


@given(tokens, st.data())
def test_any_truncation_is_not_well_formed(token, data):
    keep = data.draw(st.integers(min_value=0, max_value=len(token) - 1), label="keep")
    assert not rules.is_well_formed(token[:keep])


@given(tokens, any_char)
def test_any_appended_character_is_not_well_formed(token, extra):
    assert not rules.is_well_formed(token + extra)


@given(tokens, any_char)
def test_any_prepended_character_is_not_well_formed(token, extra):
    assert not rules.is_well_formed(extra + token)


@given(tokens, st.data())
def test_swapping_two_different_adjacent_characters_is_not_well_formed(token, data):
    position = data.draw(
        st.integers(min_value=len("sscim_"), max_value=len(token) - 2).filter(
            lambda i: token[i] != token[i + 1]
        ),
        label="position",
    )
    swapped = token[:position] + token[position + 1] + token[position] + token[position + 2 :]
    assert not rules.is_well_formed(swapped)


@settings(max_examples=300)
@given(st.text(max_size=80))
def test_arbitrary_text_is_not_well_formed(text):
    assert not rules.is_well_formed(text)


def test_other_token_kinds_and_whitespace_are_not_well_formed():
    token = rules.generate_token()
    assert not rules.is_well_formed("")
    assert not rules.is_well_formed(" " + token[1:])
    assert not rules.is_well_formed(token[:-1] + " ")
    assert not rules.is_well_formed("ghp_" + token[len("ghp_") :])
    assert not rules.is_well_formed("SSCIM_" + token[len("sscim_") :])


# --- keyed hash at rest ----------------------------------------------------------


def test_hash_token_is_hmac_sha256_hexdigest_under_the_pepper():
    token = rules.generate_token()
    pepper = b"pepper-" + b"x" * 40
    expected = hmac.new(pepper, token.encode("ascii"), hashlib.sha256).hexdigest()
    assert rules.hash_token(token, pepper) == expected
    assert len(rules.hash_token(token, pepper)) == 64


def test_hash_token_depends_on_the_pepper():
    token = rules.generate_token()
    assert rules.hash_token(token, b"first pepper") != rules.hash_token(token, b"second pepper")


def test_hash_token_is_not_a_plain_sha256():
    token = rules.generate_token()
    plain = hashlib.sha256(token.encode()).hexdigest()
    assert rules.hash_token(token, b"pepper") != plain
    assert rules.hash_token(token, b"") != plain


def test_hash_token_is_deterministic_and_differs_between_tokens():
    pepper = b"the pepper"
    first, second = rules.generate_token(), rules.generate_token()
    assert rules.hash_token(first, pepper) == rules.hash_token(first, pepper)
    assert rules.hash_token(first, pepper) != rules.hash_token(second, pepper)


def test_hash_token_does_not_contain_the_token():
    token = rules.generate_token()
    digest = rules.hash_token(token, b"pepper")
    assert token not in digest
    assert token[len("sscim_") :] not in digest


# --- description and scope (T4) -----------------------------------------------------


def test_description_is_trimmed():
    assert rules.validate_description("  Entra ID \t") == "Entra ID"


def test_description_of_100_characters_after_trimming_is_accepted():
    assert rules.validate_description("  " + "d" * 100 + "  ") == "d" * 100


def test_description_of_101_characters_is_refused():
    with pytest.raises(InvalidInputError) as caught:
        rules.validate_description("d" * 101)
    assert caught.value.field == "description"
    assert "100" in caught.value.message


@pytest.mark.parametrize("blank", ["", " ", "\t \n", "   "])
def test_blank_description_is_refused(blank):
    with pytest.raises(InvalidInputError) as caught:
        rules.validate_description(blank)
    assert caught.value.field == "description"


@pytest.mark.parametrize("value", [None, 42, 4.2, ["Entra"], {"text": "Entra"}, b"Entra", True])
def test_description_that_is_not_text_is_refused(value):
    with pytest.raises(InvalidInputError) as caught:
        rules.validate_description(value)
    assert caught.value.field == "description"


@pytest.mark.parametrize("value", ["Entra\x00ID", "Entra\nID", "Entra\x1bID", "Entra\x7fID"])
def test_description_with_control_characters_is_refused(value):
    with pytest.raises(InvalidInputError) as caught:
        rules.validate_description(value)
    assert caught.value.field == "description"


def test_description_with_non_ascii_letters_is_accepted():
    assert rules.validate_description("Entra ID, Zürich ✓") == "Entra ID, Zürich ✓"


def test_scim_scope_is_accepted():
    scope = rules.validate_scope("scim")
    assert scope.name == "scim"
    assert rules.scope_allows(scope.name, rules.SCIM_API)


@pytest.mark.parametrize("value", ["admin", "SCIM", " scim", "", None, 1, ["scim"]])
def test_unknown_scope_is_refused_with_the_allowed_list(value):
    with pytest.raises(InvalidInputError) as caught:
        rules.validate_scope(value)
    assert caught.value.field == "scope"
    assert "scim" in caught.value.message


def test_scope_that_left_the_list_grants_nothing():
    assert not rules.scope_allows("retired-scope", rules.SCIM_API)
    assert not rules.scope_allows("scim", "some-other-api")


# --- status and expiry (T6, T8) ----------------------------------------------------------


def test_new_token_is_valid_for_one_year():
    assert rules.expiry_for(NOW) == NOW + timedelta(days=365)


def test_token_before_expiry_and_not_revoked_is_active():
    status = rules.token_status(revoked_at=None, expires_at=NOW + timedelta(seconds=1), now=NOW)
    assert status is rules.TokenStatus.ACTIVE


def test_token_at_its_expiry_instant_is_expired():
    status = rules.token_status(revoked_at=None, expires_at=NOW, now=NOW)
    assert status is rules.TokenStatus.EXPIRED


def test_token_after_expiry_is_expired():
    status = rules.token_status(revoked_at=None, expires_at=NOW - timedelta(days=1), now=NOW)
    assert status is rules.TokenStatus.EXPIRED


def test_revoked_token_is_revoked_even_when_also_expired():
    status = rules.token_status(
        revoked_at=NOW - timedelta(days=400), expires_at=NOW - timedelta(days=1), now=NOW
    )
    assert status is rules.TokenStatus.REVOKED


def test_revoked_token_before_expiry_is_revoked():
    status = rules.token_status(revoked_at=NOW, expires_at=NOW + timedelta(days=100), now=NOW)
    assert status is rules.TokenStatus.REVOKED


def test_naive_datetimes_from_sqlite_are_read_as_utc():
    naive_expiry = (NOW + timedelta(hours=1)).replace(tzinfo=None)
    assert rules.token_status(revoked_at=None, expires_at=naive_expiry, now=NOW) is (
        rules.TokenStatus.ACTIVE
    )
    assert rules.days_left(naive_expiry, NOW) == 1


def test_new_token_has_365_days_left():
    assert rules.days_left(rules.expiry_for(NOW), NOW) == 365


def test_days_left_rounds_up_partial_days():
    expires_at = rules.expiry_for(NOW)
    assert rules.days_left(expires_at, NOW + timedelta(seconds=1)) == 365
    assert rules.days_left(expires_at, NOW + timedelta(days=1)) == 364
    assert rules.days_left(expires_at, expires_at - timedelta(seconds=1)) == 1


def test_days_left_is_zero_at_and_after_expiry():
    assert rules.days_left(NOW, NOW) == 0
    assert rules.days_left(NOW - timedelta(days=10), NOW) == 0


def test_new_token_does_not_expire_soon():
    assert not rules.expires_soon(rules.expiry_for(NOW), NOW)


def test_token_expires_soon_from_30_days_before_expiry():
    expires_at = NOW + timedelta(days=30)
    assert rules.expires_soon(expires_at, NOW)
    assert not rules.expires_soon(expires_at + timedelta(seconds=1), NOW)
    assert rules.expires_soon(NOW + timedelta(days=1), NOW)
    assert rules.expires_soon(NOW + timedelta(seconds=1), NOW)


def test_expired_token_is_not_reported_as_expiring_soon():
    assert not rules.expires_soon(NOW, NOW)
    assert not rules.expires_soon(NOW - timedelta(days=1), NOW)


def test_never_used_token_use_is_stale():
    assert rules.last_use_is_stale(None, NOW, timedelta(seconds=60))


def test_recent_use_within_the_resolution_is_not_stale():
    resolution = timedelta(seconds=60)
    assert not rules.last_use_is_stale(NOW - timedelta(seconds=59), NOW, resolution)
    assert not rules.last_use_is_stale(NOW, NOW, resolution)


def test_use_older_than_the_resolution_is_stale():
    resolution = timedelta(seconds=60)
    assert rules.last_use_is_stale(NOW - timedelta(seconds=60), NOW, resolution)
    assert rules.last_use_is_stale(NOW - timedelta(days=3), NOW, resolution)


def test_zero_resolution_records_every_use():
    assert rules.last_use_is_stale(NOW, NOW, timedelta(0))


# --- who may manage tokens (T1, T7) ------------------------------------------------------------


def _actor(privilege: Privilege, *, site_id: str = SITE, active: bool = True) -> Actor:
    return Actor(
        user_id="user-1", site_id=site_id, label="x@a.test", privilege=privilege, active=active
    )


def test_active_promaster_of_the_site_may_manage_tokens():
    rules.ensure_may_manage_tokens(_actor(Privilege.PROMASTER), site_id=SITE)


@pytest.mark.parametrize("privilege", [Privilege.USER, Privilege.BUSINESS_ANALYST])
def test_non_promaster_may_not_manage_tokens(privilege):
    with pytest.raises(PermissionDeniedError):
        rules.ensure_may_manage_tokens(_actor(privilege), site_id=SITE)


def test_inactive_promaster_may_not_manage_tokens():
    with pytest.raises(PermissionDeniedError):
        rules.ensure_may_manage_tokens(_actor(Privilege.PROMASTER, active=False), site_id=SITE)


def test_promaster_of_another_site_may_not_manage_tokens():
    with pytest.raises(PermissionDeniedError):
        rules.ensure_may_manage_tokens(
            _actor(Privilege.PROMASTER, site_id="site-b-id"), site_id=SITE
        )


ZONES = [None, UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5))]


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("now_zone", ZONES)
@pytest.mark.parametrize("offset", [-3601, -60, -1, 0, 1, 59, 60, 3601])
def test_status_and_staleness_compare_instants_in_any_zone(zone, now_zone, offset):
    """The rules read a naive datetime as UTC and compare aware ones as instants,
    as comparing both through ``as_utc`` does."""

    def shown(moment: datetime, tz: timezone | None) -> datetime:
        return moment.replace(tzinfo=None) if tz is None else moment.astimezone(tz)

    moment = shown(NOW + timedelta(seconds=offset), zone)
    now = shown(NOW, now_zone)
    expected_expired = as_utc(moment) <= as_utc(now)
    status = rules.token_status(revoked_at=None, expires_at=moment, now=now)
    assert (status is rules.TokenStatus.EXPIRED) is expected_expired
    resolution = timedelta(seconds=60)
    expected_stale = as_utc(now) - as_utc(moment) >= resolution
    assert rules.last_use_is_stale(moment, now, resolution) is expected_stale

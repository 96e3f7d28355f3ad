"""Settings: refuse insecure production values; generate development secrets once."""

from __future__ import annotations

import json
import os
import stat

import pytest

from sitescim.settings import MIN_SECRET_LENGTH, InsecureSettingsError, Settings

GOOD_SECRET = "g" * MIN_SECRET_LENGTH
OTHER_SECRET = "o" * (MIN_SECRET_LENGTH + 8)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    """No SITESCIM_* variable of the machine running the tests leaks in."""
    for name in list(os.environ):
        if name.startswith("SITESCIM_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def _production(**overrides):
    values = {
        "environment": "production",
        "database_url": "postgresql://db.internal/sitescim",
        "token_pepper": GOOD_SECRET,
        "session_secret": GOOD_SECRET,
        "cookie_secure": True,
        "public_base_url": "https://scim.example.com",
    }
    values.update(overrides)
    return Settings(**values)


# --- production refuses insecure values ------------------------------------------


def test_production_with_both_secrets_and_secure_cookies_is_accepted():
    settings = _production()
    assert settings.environment == "production"
    assert settings.pepper_bytes() == GOOD_SECRET.encode()


@pytest.mark.parametrize("missing", ["token_pepper", "session_secret"])
def test_production_without_a_secret_is_refused(missing):
    with pytest.raises(ValueError, match=f"SITESCIM_{missing.upper()}"):
        _production(**{missing: None})


@pytest.mark.parametrize("name", ["token_pepper", "session_secret"])
def test_production_secret_shorter_than_32_characters_is_refused(name):
    with pytest.raises(ValueError, match=f"SITESCIM_{name.upper()}.*at least 32"):
        _production(**{name: "s" * (MIN_SECRET_LENGTH - 1)})


@pytest.mark.parametrize("name", ["token_pepper", "session_secret"])
def test_production_secret_of_exactly_32_characters_is_accepted(name):
    settings = _production(**{name: "s" * MIN_SECRET_LENGTH})
    assert getattr(settings, name).get_secret_value() == "s" * MIN_SECRET_LENGTH


def test_production_without_secure_cookies_is_refused():
    with pytest.raises(ValueError, match="SITESCIM_COOKIE_SECURE"):
        _production(cookie_secure=False)


def test_production_from_environment_without_secrets_is_refused(monkeypatch):
    monkeypatch.setenv("SITESCIM_ENVIRONMENT", "production")
    monkeypatch.setenv("SITESCIM_COOKIE_SECURE", "true")
    with pytest.raises(ValueError, match="SITESCIM_TOKEN_PEPPER"):
        Settings()


def test_production_from_environment_with_short_session_secret_is_refused(monkeypatch):
    monkeypatch.setenv("SITESCIM_ENVIRONMENT", "production")
    monkeypatch.setenv("SITESCIM_COOKIE_SECURE", "true")
    monkeypatch.setenv("SITESCIM_TOKEN_PEPPER", GOOD_SECRET)
    monkeypatch.setenv("SITESCIM_SESSION_SECRET", "too-short")
    with pytest.raises(ValueError, match="SITESCIM_SESSION_SECRET"):
        Settings()


def test_production_refusal_is_an_insecure_settings_error_and_names_no_secret():
    short = "short-secret-value"
    with pytest.raises(ValueError, match="SITESCIM_TOKEN_PEPPER") as caught:
        _production(token_pepper=short)
    assert short not in str(caught.value)
    assert issubclass(InsecureSettingsError, ValueError)


def test_production_never_generates_secrets_into_a_file(tmp_path):
    with pytest.raises(ValueError, match="SITESCIM_TOKEN_PEPPER"):
        Settings(
            environment="production",
            database_url=f"sqlite:///{tmp_path / 'prod.db'}",
            cookie_secure=True,
        )
    assert not list(tmp_path.glob("*.secrets.json"))


def test_development_accepts_insecure_cookies_and_missing_secrets():
    settings = Settings(environment="development", cookie_secure=False)
    assert settings.token_pepper is None
    assert settings.session_secret is None


def test_missing_pepper_is_refused_when_used():
    with pytest.raises(InsecureSettingsError):
        Settings().pepper_bytes()
    with pytest.raises(InsecureSettingsError):
        Settings().session_secret_value()


def test_secrets_do_not_appear_in_the_settings_repr():
    settings = _production(token_pepper=OTHER_SECRET)
    assert OTHER_SECRET not in repr(settings)
    assert GOOD_SECRET not in str(settings)


# --- development generates its secrets once, beside the database ------------------


def test_development_sqlite_creates_secrets_file_beside_the_database(tmp_path):
    database = tmp_path / "data" / "site.db"
    settings = Settings(database_url=f"sqlite:///{database}").with_generated_secrets()
    secrets_file = tmp_path / "data" / "site.db.secrets.json"
    assert secrets_file.is_file()
    stored = json.loads(secrets_file.read_text())
    assert stored["token_pepper"] == settings.token_pepper.get_secret_value()
    assert stored["session_secret"] == settings.session_secret.get_secret_value()


def test_generated_secrets_file_is_readable_by_its_owner_only(tmp_path):
    database = tmp_path / "site.db"
    Settings(database_url=f"sqlite:///{database}").with_generated_secrets()
    mode = stat.S_IMODE((tmp_path / "site.db.secrets.json").stat().st_mode)
    assert mode == 0o600


def test_generated_secrets_are_long_and_distinct(tmp_path):
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'site.db'}").with_generated_secrets()
    pepper = settings.token_pepper.get_secret_value()
    session_secret = settings.session_secret.get_secret_value()
    assert len(pepper) >= MIN_SECRET_LENGTH
    assert len(session_secret) >= MIN_SECRET_LENGTH
    assert pepper != session_secret


def test_second_start_reuses_the_generated_secrets(tmp_path):
    url = f"sqlite:///{tmp_path / 'site.db'}"
    first = Settings(database_url=url).with_generated_secrets()
    file_before = (tmp_path / "site.db.secrets.json").read_text()
    second = Settings(database_url=url).with_generated_secrets()
    assert second.token_pepper.get_secret_value() == first.token_pepper.get_secret_value()
    assert second.session_secret.get_secret_value() == first.session_secret.get_secret_value()
    assert (tmp_path / "site.db.secrets.json").read_text() == file_before


def test_calling_with_generated_secrets_twice_on_one_settings_is_stable(tmp_path):
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'site.db'}")
    first = settings.with_generated_secrets()
    again = settings.with_generated_secrets()
    assert first.pepper_bytes() == again.pepper_bytes()
    assert first.session_secret_value() == again.session_secret_value()
    assert first.with_generated_secrets().pepper_bytes() == first.pepper_bytes()


def test_different_databases_get_different_secrets(tmp_path):
    one = Settings(database_url=f"sqlite:///{tmp_path / 'one.db'}").with_generated_secrets()
    two = Settings(database_url=f"sqlite:///{tmp_path / 'two.db'}").with_generated_secrets()
    assert one.pepper_bytes() != two.pepper_bytes()


def test_default_database_keeps_its_secrets_in_the_working_directory(tmp_path):
    settings = Settings().with_generated_secrets()
    secrets_file = tmp_path / "sitescim.db.secrets.json"
    assert secrets_file.is_file()
    assert json.loads(secrets_file.read_text())["token_pepper"] == (
        settings.token_pepper.get_secret_value()
    )


def test_database_url_from_environment_places_the_secrets_file(monkeypatch, tmp_path):
    monkeypatch.setenv("SITESCIM_DATABASE_URL", f"sqlite:///{tmp_path / 'env.db'}")
    Settings().with_generated_secrets()
    assert (tmp_path / "env.db.secrets.json").is_file()


def test_explicit_secrets_file_is_used(monkeypatch, tmp_path):
    chosen = tmp_path / "elsewhere" / "secrets.json"
    monkeypatch.setenv("SITESCIM_SECRETS_FILE", str(chosen))
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'site.db'}").with_generated_secrets()
    assert chosen.is_file()
    assert not (tmp_path / "site.db.secrets.json").exists()
    assert json.loads(chosen.read_text())["session_secret"] == settings.session_secret_value()


def test_incomplete_secrets_file_is_refused_and_left_as_it_was(tmp_path):
    """Generating a new pepper over a damaged file would silently break every token."""
    secrets_file = tmp_path / "site.db.secrets.json"
    secrets_file.write_text(json.dumps({"demo_password": "kept"}))
    with pytest.raises(InsecureSettingsError, match="lacks token_pepper"):
        Settings(database_url=f"sqlite:///{tmp_path / 'site.db'}").with_generated_secrets()
    assert json.loads(secrets_file.read_text()) == {"demo_password": "kept"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site.db.secrets.json"]


# --- explicit values win -----------------------------------------------------------------


def test_secrets_from_the_environment_win_and_no_file_is_written(monkeypatch, tmp_path):
    monkeypatch.setenv("SITESCIM_DATABASE_URL", f"sqlite:///{tmp_path / 'site.db'}")
    monkeypatch.setenv("SITESCIM_TOKEN_PEPPER", GOOD_SECRET)
    monkeypatch.setenv("SITESCIM_SESSION_SECRET", OTHER_SECRET)
    settings = Settings().with_generated_secrets()
    assert settings.pepper_bytes() == GOOD_SECRET.encode()
    assert settings.session_secret_value() == OTHER_SECRET
    assert not (tmp_path / "site.db.secrets.json").exists()


def test_secrets_from_the_environment_win_over_an_existing_file(monkeypatch, tmp_path):
    url = f"sqlite:///{tmp_path / 'site.db'}"
    generated = Settings(database_url=url).with_generated_secrets()
    monkeypatch.setenv("SITESCIM_DATABASE_URL", url)
    monkeypatch.setenv("SITESCIM_TOKEN_PEPPER", GOOD_SECRET)
    monkeypatch.setenv("SITESCIM_SESSION_SECRET", OTHER_SECRET)
    settings = Settings().with_generated_secrets()
    assert settings.pepper_bytes() == GOOD_SECRET.encode()
    assert settings.session_secret_value() == OTHER_SECRET
    assert settings.pepper_bytes() != generated.pepper_bytes()


def test_explicit_pepper_is_kept_and_only_the_missing_secret_is_generated(monkeypatch, tmp_path):
    monkeypatch.setenv("SITESCIM_DATABASE_URL", f"sqlite:///{tmp_path / 'site.db'}")
    monkeypatch.setenv("SITESCIM_TOKEN_PEPPER", GOOD_SECRET)
    settings = Settings().with_generated_secrets()
    stored = json.loads((tmp_path / "site.db.secrets.json").read_text())
    assert settings.pepper_bytes() == GOOD_SECRET.encode()
    assert settings.session_secret_value() == stored["session_secret"]


def test_other_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("SITESCIM_MAX_BODY_BYTES", "4096")
    monkeypatch.setenv("SITESCIM_ARGON2_TIME_COST", "1")
    settings = Settings()
    assert settings.max_body_bytes == 4096
    assert settings.argon2_time_cost == 1


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SITESCIM_PORT", "0"),
        ("SITESCIM_PORT", "70000"),
        ("SITESCIM_MAX_BODY_BYTES", "10"),
        ("SITESCIM_ENVIRONMENT", "staging"),
    ],
)
def test_out_of_range_environment_values_are_refused(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=name.removeprefix("SITESCIM_").lower()):
        Settings()


def test_production_without_a_public_base_url_is_refused():
    with pytest.raises(ValueError, match="SITESCIM_PUBLIC_BASE_URL must be set in production"):
        _production(public_base_url=None)


@pytest.mark.parametrize("url", ["scim.example.com", "ftp://scim.example.com", "https://"])
def test_a_public_base_url_that_is_no_http_url_is_refused(url):
    with pytest.raises(ValueError, match="SITESCIM_PUBLIC_BASE_URL must be an http"):
        Settings(public_base_url=url)


def test_allowed_hosts_come_comma_separated_from_the_environment(monkeypatch):
    monkeypatch.setenv("SITESCIM_ALLOWED_HOSTS", "SCIM.acme.example, idp.example")
    assert Settings().allowed_hosts == ["scim.acme.example", "idp.example"]


def test_a_short_metrics_token_is_refused_in_production():
    with pytest.raises(ValueError, match=r"SITESCIM_METRICS_TOKEN.*at least 32"):
        _production(metrics_token="short")
    assert _production(metrics_token="m" * MIN_SECRET_LENGTH).metrics_token is not None


@pytest.mark.parametrize("field", ["rate_limit_scim_per_token", "rate_limit_sign_in_per_address"])
def test_a_rate_limit_must_be_in_the_limits_notation(field):
    with pytest.raises(ValueError, match=field):
        Settings(**{field: "as many as you like"})
    assert getattr(Settings(**{field: "5/second;100/minute"}), field) == "5/second;100/minute"

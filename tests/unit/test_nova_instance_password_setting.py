"""The ``nova_instance_password`` setting: on by default, off by flag or environment variable,
and what Nova's door then applies and shows (services/nova_passwords.py)."""

from __future__ import annotations

import pytest

from ecslite.cli.main import build_parser
from ecslite.cli.serve import settings_from
from ecslite.services.nova_passwords import InstancePasswords


def _settings(*flags: str) -> bool:
    args = build_parser("serve").parse_args(["serve", *flags])
    return settings_from(args).nova_instance_password


def test_on_by_default_off_by_flag_or_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ECSLITE_NOVA_INSTANCE_PASSWORD", raising=False)
    assert _settings() is True
    assert _settings("--no-nova-instance-password") is False
    monkeypatch.setenv("ECSLITE_NOVA_INSTANCE_PASSWORD", "false")
    assert _settings() is False
    assert _settings("--nova-instance-password") is True  # the flag wins


def _never() -> bool:
    raise AssertionError("the image is asked only when a password would be generated")


def test_on_generates_only_without_password_and_key() -> None:
    on = InstancePasswords(returned=True)
    generated = on.for_create(None, None, lambda: True)
    assert generated and on.shown(generated) == generated
    assert on.for_create(None, None, lambda: False) is None  # the image could not apply one
    assert on.for_create(None, "key", _never) is None
    assert on.for_create("given", "key", _never) == "given"


def test_off_applies_a_given_password_shows_none_generates_none() -> None:
    off = InstancePasswords(returned=False)
    assert off.for_create("given", None, _never) == "given"
    assert off.shown("given") is None
    assert off.for_create(None, None, _never) is None

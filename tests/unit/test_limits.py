"""The advertised limits as pure rules (ecslite/domain/limits.py): each is crossed by one."""

from __future__ import annotations

import pytest

from ecslite.domain import errors, limits


def _refused(fn: object, *args: object) -> errors.EcsError:
    with pytest.raises(errors.EcsError) as info:
        fn(*args)  # type: ignore[operator]
    return info.value


def test_metadata_at_the_limits_is_accepted() -> None:
    meta = {f"k{i}": "v" * limits.META_VALUE_MAX for i in range(limits.MAX_SERVER_META - 1)}
    meta["k" * limits.META_KEY_MAX] = ""
    limits.check_metadata(meta)
    limits.check_metadata(None)
    limits.check_metadata({})


def test_one_metadata_item_too_many_is_refused() -> None:
    meta = {f"k{i}": "v" for i in range(limits.MAX_SERVER_META + 1)}
    exc = _refused(limits.check_metadata, meta)
    assert exc.code == "Ecs.0005" and exc.http_status == 400 and "maxServerMeta" in exc.message


@pytest.mark.parametrize(
    "meta",
    [{"k" * (limits.META_KEY_MAX + 1): "v"}, {"": "v"}, {"k": "v" * (limits.META_VALUE_MAX + 1)}],
    ids=["key too long", "empty key", "value too long"],
)
def test_metadata_keys_and_values_are_bounded(meta: dict[str, str]) -> None:
    assert _refused(limits.check_metadata, meta).http_status == 400


def test_key_pairs_per_user() -> None:
    limits.check_keypair_count(limits.MAX_KEYPAIRS_PER_USER - 1)
    exc = _refused(limits.check_keypair_count, limits.MAX_KEYPAIRS_PER_USER)
    assert exc.http_status == 403 and "maxTotalKeypairs" in exc.message


def test_what_limits_advertises_is_what_the_rules_enforce() -> None:
    assert limits.ADVERTISED["maxServerMeta"] == limits.MAX_SERVER_META
    assert limits.ADVERTISED["maxTotalKeypairs"] == limits.MAX_KEYPAIRS_PER_USER

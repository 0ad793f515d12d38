"""Pure rules: password complexity, user data, encryption flags, status mapping."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecslite.cloudinit.payload import hash_password
from ecslite.domain import errors
from ecslite.domain.reinstall import (
    PASSWORD_SPECIALS,
    check_password,
    decode_user_data,
    parse_encryption,
)
from ecslite.domain.server import TaskState, VmState, derive_status

ALPHABET = st.sampled_from(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    + "".join(sorted(PASSWORD_SPECIALS))
)


MESSAGES = set()
for sample in ("short", "Abcdefgh1#", "abcdefghij"):
    try:
        check_password(sample)
    except errors.EcsError as e:
        MESSAGES.add(e.message)


def _classes(pw: str) -> int:
    return sum(
        (
            any(c.isupper() for c in pw),
            any(c.islower() for c in pw),
            any(c.isdigit() for c in pw),
            any(c in PASSWORD_SPECIALS for c in pw),
        )
    )


@given(st.text(alphabet=ALPHABET, min_size=0, max_size=30))
def test_password_rule_matches_its_definition(pw: str) -> None:
    valid = 8 <= len(pw) <= 26 and _classes(pw) >= 3
    try:
        check_password(pw)
        accepted = True
    except errors.EcsError as exc:
        assert exc.code == "Ecs.0011"
        assert exc.message in MESSAGES  # fixed texts: the password never echoes back
        accepted = False
    assert accepted == valid


@given(st.binary(min_size=1, max_size=33 * 1024))
def test_user_data_round_trips_up_to_32kb(raw: bytes) -> None:
    encoded = base64.b64encode(raw).decode()
    if len(raw) <= 32 * 1024:
        assert decode_user_data(encoded) == raw
    else:
        with pytest.raises(errors.EcsError) as exc:
            decode_user_data(encoded)
        assert exc.value.code == "Ecs.0005"


@given(st.text(max_size=64))
def test_non_base64_user_data_is_ecs_0005(text: str) -> None:
    try:
        raw = base64.b64decode(text.encode("utf-8"), validate=True)
        valid = len(raw) > 0 and text.isascii()
    except Exception:
        valid = False
    try:
        decode_user_data(text)
        assert valid
    except errors.EcsError as exc:
        assert exc.code == "Ecs.0005"


@pytest.mark.parametrize(
    ("flag", "cmk", "code"),
    [
        ("2", None, "Ecs.0005"),
        ("true", "k", "Ecs.0005"),
        ("1", None, "Ecs.0912"),
        (None, "k", "Ecs.0912"),
    ],
)
def test_encryption_flag_errors(flag: str | None, cmk: str | None, code: str) -> None:
    with pytest.raises(errors.EcsError) as exc:
        parse_encryption(flag, cmk)
    assert exc.value.code == code


def test_encryption_flag_values() -> None:
    assert parse_encryption(None, None) is None
    assert parse_encryption("0", None) is None
    enc = parse_encryption("1", "cmk-1")
    assert enc is not None and enc.cmk_id == "cmk-1"


def test_status_mapping_follows_the_appendix() -> None:
    assert derive_status(VmState.STOPPED, None) == "SHUTOFF"
    assert derive_status(VmState.ACTIVE, None) == "ACTIVE"
    assert derive_status(VmState.ERROR, None) == "ERROR"
    assert derive_status(VmState.ACTIVE, TaskState.POWERING_OFF) == "ACTIVE"
    assert derive_status(VmState.STOPPED, TaskState.POWERING_ON) == "SHUTOFF"
    for vm in VmState:
        for task in (
            TaskState.REBUILDING,
            TaskState.REBUILD_BLOCK_DEVICE_MAPPING,
            TaskState.REBUILD_SPAWNING,
        ):
            assert derive_status(vm, task) == "REBUILD"


def test_password_hash_is_sha512_crypt_and_verifies() -> None:
    from passlib.hash import sha512_crypt

    h = hash_password("!QAZxsw2")
    assert h.startswith("$6$") and "!QAZxsw2" not in h
    assert sha512_crypt.verify("!QAZxsw2", h)
    assert hash_password("!QAZxsw2") != h  # salted


def test_seeding_again_does_not_resurrect_a_replaced_system_disk(tmp_path: object) -> None:
    from pathlib import Path

    from ecslite.bootstrap import build
    from ecslite.config import Settings
    from ecslite.demo import ensure_demo
    from ecslite.store.secretbox import SecretBox
    from ecslite.store.seeding import apply_seed

    assert isinstance(tmp_path, Path)
    container = build(Settings(data_dir=tmp_path))
    demo, doc = ensure_demo(tmp_path, "http://x")
    box = SecretBox.from_file(tmp_path / "mk")
    apply_seed(doc, uow_factory=container.uow_factory, box=box, clock=container.clock)
    sid = demo["servers"]["stopped"]
    with container.uow_factory() as uow:
        old = uow.volumes.system_disk(sid)
        assert old is not None
        uow.volumes.delete(old.id)  # as a reinstall's deleteOldSystemDisk does
        uow.commit()
    assert apply_seed(doc, uow_factory=container.uow_factory, box=box, clock=container.clock) == {}
    with container.uow_factory(write=False) as uow:
        assert uow.volumes.get(old.id) is None
    container.close()

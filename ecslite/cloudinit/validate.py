"""Refuse a ``#cloud-config`` user_data that cloud-init would ignore at boot.

cloud-init skips an unparsable or mistyped cloud-config with only a warning in the guest's
log: the reinstall "succeeds" and the user finds out at login. Checking at request time turns
that into a clear Ecs.0005. This is a structural check (YAML, a mapping, the types of the keys
that carry credentials and scripts), not cloud-init's full schema, which needs cloud-init
itself. Messages name the line and key, never the content (user_data may hold secrets).

PyYAML builds documents recursively, so a document nested a few thousand levels deep would
exhaust the interpreter's stack: the nesting is measured first on the parser's event stream
(which is iterative) and anything deeper than ``MAX_DEPTH`` is refused before it is built.
The size is bounded before this check runs (32 KB, ``domain.reinstall``).
"""

from __future__ import annotations

from typing import Any, NoReturn

import yaml

from ecslite.domain import errors

# Key -> the Python types cloud-init accepts for it.
_TYPES: dict[str, tuple[type, ...]] = {
    "users": (list, str),
    "groups": (list, dict, str),
    "runcmd": (list,),
    "bootcmd": (list,),
    "write_files": (list,),
    "packages": (list,),
    "ssh_authorized_keys": (list,),
    "chpasswd": (dict,),
    "password": (str,),
    "ssh_pwauth": (bool, str),
    "disable_root": (bool,),
    "hostname": (str,),
    "fqdn": (str,),
    "timezone": (str,),
    "power_state": (dict,),
    "final_message": (str,),
}
# Real cloud-configs nest a handful of levels (write_files -> item -> key); 64 is generous.
MAX_DEPTH = 64
_NAMES = {list: "a list", dict: "a mapping", str: "a string", bool: "true or false"}


def check_user_data(raw: bytes) -> None:
    """Raise Ecs.0005 when ``raw`` is a ``#cloud-config`` document cloud-init would reject."""
    if not raw.startswith(b"#cloud-config"):
        return
    try:
        text = raw.decode("utf-8")
        _check_depth(text)
        doc: Any = yaml.safe_load(text)
    except UnicodeDecodeError:
        _refuse("it is not UTF-8 text.")
    except RecursionError:  # defence in depth: _check_depth should make this unreachable
        _refuse(f"it nests deeper than {MAX_DEPTH} levels.")
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        _refuse(f"it is not valid YAML ({problem}{where}).")
    if doc is None:
        return
    if not isinstance(doc, dict):
        _refuse("its top level must be a mapping of keys to values.")
    for key, allowed in _TYPES.items():
        if key in doc and not isinstance(doc[key], allowed):
            wanted = " or ".join(_NAMES[t] for t in allowed)
            _refuse(f"'{key}' must be {wanted}.")
    for i, item in enumerate(doc.get("write_files") or []):
        if not isinstance(item, dict) or "path" not in item:
            _refuse(f"write_files[{i}] must be a mapping with a 'path'.")


def _check_depth(text: str) -> None:
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                mark = event.start_mark
                where = f" (at line {mark.line + 1}, column {mark.column + 1})" if mark else ""
                _refuse(f"it nests deeper than {MAX_DEPTH} levels{where}.")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _refuse(reason: str) -> NoReturn:
    raise errors.EcsError(
        errors.INVALID_PARAMETER,
        f"metadata.user_data is a #cloud-config that cloud-init would ignore: {reason}",
    )

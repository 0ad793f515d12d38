"""Nova's server tag rules (2.26+): what a tag may be and how many a server may carry."""

from __future__ import annotations

from collections.abc import Iterable

from ecslite.domain import errors

MAX_TAGS = 50
TAG_MAX = 60
# Nova refuses them: "," separates tags in the list filters and "/" would split the tag's URL.
_FORBIDDEN = frozenset("/,")


def check_tag(tag: str) -> None:
    """1-60 characters, none of them ``/`` or ``,``."""
    if not 1 <= len(tag) <= TAG_MAX:
        raise errors.EcsError(
            errors.INVALID_PARAMETER, f"A tag must be 1-{TAG_MAX} characters; one has {len(tag)}."
        )
    if _FORBIDDEN.intersection(tag):
        raise errors.EcsError(errors.INVALID_PARAMETER, "A tag may not contain '/' or ','.")


def tag_set(tags: Iterable[str]) -> tuple[str, ...]:
    """The tags, each checked, without repeats (first order kept), at most ``MAX_TAGS``."""
    out: dict[str, None] = {}
    for tag in tags:
        check_tag(tag)
        out[tag] = None
    if len(out) > MAX_TAGS:
        raise errors.EcsError(
            errors.INVALID_PARAMETER,
            f"A server may have at most {MAX_TAGS} tags; this makes {len(out)}.",
        )
    return tuple(out)

"""Throttle failed password logins per source address and per user.

Policy (settings ``login_failures_per_source`` and ``login_failures_per_user``, in the
``limits`` library's notation, moving windows):

- a source address with 30 failed logins within a minute is refused (429) for the rest of
  that window, whichever user it tries;
- a user (the user field as sent, with its domain) with 10 failed logins within a minute is
  refused the same way from every source — the real user too, until the window moves on:
  the price of stopping a distributed guesser.

A throttled login is refused before its password is checked (so it costs no argon2 work) even
when the password is right. Only failures count; counters live in this process (each API
process throttles on its own). User keys are keyed digests, never the name itself.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

DEFAULT_PER_SOURCE = "30/minute"
DEFAULT_PER_USER = "10/minute"


class Throttled(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"throttled, retry after {retry_after}s")
        self.retry_after = retry_after


@dataclass(frozen=True)
class LoginAttempt:
    source: str  # the client address
    user_key: str  # a keyed digest of the user field and its domain


class LoginThrottle:
    def __init__(
        self, *, per_source: str = DEFAULT_PER_SOURCE, per_user: str = DEFAULT_PER_USER
    ) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._per_source: RateLimitItem = parse(per_source)
        self._per_user: RateLimitItem = parse(per_user)

    def check(self, attempt: LoginAttempt) -> None:
        """Raise ``Throttled`` if the source or the user has used up its failures."""
        for item, key in self._keys(attempt):
            if not self._limiter.test(item, key):
                reset = self._limiter.get_window_stats(item, key).reset_time
                raise Throttled(max(1, math.ceil(reset - time.time())))

    def failed(self, attempt: LoginAttempt) -> None:
        for item, key in self._keys(attempt):
            self._limiter.hit(item, key)

    def _keys(self, attempt: LoginAttempt) -> list[tuple[RateLimitItem, str]]:
        return [
            (self._per_source, f"source:{attempt.source}"),
            (self._per_user, f"user:{attempt.user_key}"),
        ]

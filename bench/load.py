"""Run the same worker in C threads that start together; collect what each returns."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def run_threads(n: int, work: Callable[[int], T]) -> tuple[list[T], float]:
    """Run ``work(i)`` for i in range(n) concurrently; return results and wall seconds."""
    barrier = threading.Barrier(n + 1)
    results: list[T | None] = [None] * n
    errors: list[BaseException] = []

    def body(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except BaseException as exc:  # surfaced below, in the caller's thread
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(i,), daemon=True) for i in range(n)]
    for th in threads:
        th.start()
    barrier.wait()
    t0 = time.perf_counter()
    for th in threads:
        th.join()
    wall = time.perf_counter() - t0
    if errors:
        raise errors[0]
    return [r for r in results if r is not None], wall


def timed_loop(seconds: float, op: Callable[[], object]) -> list[float]:
    """Call ``op`` back to back for ``seconds``; return each call's latency."""
    lat: list[float] = []
    end = time.perf_counter() + seconds
    while True:
        t0 = time.perf_counter()
        if t0 >= end:
            return lat
        op()
        lat.append(time.perf_counter() - t0)

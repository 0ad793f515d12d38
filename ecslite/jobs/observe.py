"""What the runner tells whoever watches it (the process's metrics): each step's and each job's
end, with its outcome and how long it ran here. A protocol, so the engine knows no metrics
library; the default observer ignores everything."""

from __future__ import annotations

from typing import Protocol


class JobObserver(Protocol):
    def step_ended(self, job_type: str, step: str, outcome: str, seconds: float) -> None:
        """A step ended (``outcome``: SUCCESS or FAIL) after ``seconds`` on this runner."""

    def job_ended(self, job_type: str, outcome: str, seconds: float) -> None:
        """A job ended; ``seconds`` counts from when this runner took it up (or resumed it)."""


class NoObserver:
    def step_ended(self, job_type: str, step: str, outcome: str, seconds: float) -> None:
        pass

    def job_ended(self, job_type: str, outcome: str, seconds: float) -> None:
        pass

"""Problems found in a submission: collected, never raised one at a time, so the author sees all of them at once."""

from __future__ import annotations

from dataclasses import dataclass

from dexbench.errors import DexbenchError


@dataclass(frozen=True)
class Problem:
    code: str  # stable identifier, e.g. "missing-pair", "archive-traversal" (tests and tools match on it)
    where: str  # the file or archive member concerned, relative to the submission root
    message: str  # what is wrong and, where useful, how to fix it

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class SubmissionInvalid(DexbenchError):
    """A submission failed validation; `problems` holds every problem found."""

    def __init__(self, submission: str, problems: list[Problem]) -> None:
        self.problems = list(problems)
        n = len(self.problems)
        listed = "; ".join(str(p) for p in self.problems[:20]) + (f"; and {n - 20} more" if n > 20 else "")
        super().__init__(
            f"{submission}: {n} problem{'s' if n != 1 else ''}: {listed}",
            "`dexbench validate` lists them all; docs/submissions.md describes the format",
        )

"""Where a dataset's files live inside a dexbench workspace (the DVC project layout of DESIGN.md)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DatasetPaths:
    name: str
    root: Path

    @property
    def raw(self) -> Path:
        return self.root / "datasets" / self.name / "raw"

    @property
    def shards(self) -> Path:
        return self.root / "datasets" / self.name / "shards"

    @property
    def protocol(self) -> Path:
        return self.root / "protocol"

    def submission(self, method: str) -> Path:
        return self.root / "submissions" / self.name / method

    def results(self, method: str) -> Path:
        return self.root / "metrics" / self.name / method


def dataset_paths(name: str, root: str | Path = ".") -> DatasetPaths:
    return DatasetPaths(name=name, root=Path(root))

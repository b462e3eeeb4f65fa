"""Test manifests: the exact list of (source, driver, ground truth) pairs of one dataset x task, hashed.

A manifest is generated deterministically from the shards and a seed, so two machines that hold the same shards
produce the same bytes, and its sha256 goes into every result computed on it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dexbench.data.reader import ShardReader
from dexbench.errors import DexbenchError, InputFileError
from dexbench.io.atomic import dumps_json, write_text
from dexbench.protocol.tasks import PROTOCOL_VERSION, Task, get_task


@dataclass(frozen=True)
class Pair:
    pair_id: str
    source_clip: str
    source_frame: int
    driver_clip: str  # pose and expression come from here unless the task keeps one from the source
    driver_start: int
    driver_end: int  # exclusive
    seed: int
    # where the ground truth comes from: "driver-clip" (the driver's own frames), "synth-render" (the generator
    # renders the source identity with the task's pose/expression), or "none"
    target: str

    @property
    def n_frames(self) -> int:
        return self.driver_end - self.driver_start


@dataclass
class Manifest:
    dataset: str
    task: str
    task_version: str
    protocol_version: str
    seed: int
    pairs: list[Pair] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "task": self.task,
            "task_version": self.task_version,
            "protocol_version": self.protocol_version,
            "seed": self.seed,
            "pairs": [asdict(p) for p in self.pairs],
        }

    @property
    def sha256(self) -> str:
        return hashlib.sha256(dumps_json(self.to_dict()).encode()).hexdigest()

    def save(self, path: str | Path) -> None:
        write_text(path, dumps_json(self.to_dict()))

    @classmethod
    def load(cls, path: str | Path) -> Manifest:
        p = Path(path)
        if not p.is_file():
            raise InputFileError(p, "manifest not found", "run `dexbench protocol` for this dataset first")
        try:
            d = json.loads(p.read_text())
            pairs = [Pair(**x) for x in d.pop("pairs")]
            return cls(**d, pairs=pairs)
        except (json.JSONDecodeError, TypeError, KeyError) as exc:
            raise InputFileError(p, f"not a valid manifest ({exc})", "regenerate it with `dexbench protocol`") from exc

    def pair(self, pair_id: str) -> Pair:
        for p in self.pairs:
            if p.pair_id == pair_id:
                return p
        raise DexbenchError(f"pair {pair_id!r} not in the {self.task} manifest")


def manifest_path(protocol_dir: str | Path, dataset: str, task: str) -> Path:
    return Path(protocol_dir) / dataset / f"{task}.json"


def _pair_seed(seed: int, k: int) -> int:
    return int(np.random.SeedSequence([seed, k]).generate_state(1)[0] % (2**31))


def build_manifest(
    reader: ShardReader, task: Task, *, seed: int = 0, max_pairs: int = 64, max_frames: int = 48, split: str = "test"
) -> Manifest:
    """Pairs over the clips of `split`; with `synth_targets`, non-self tasks get rendered ground truth."""
    clips = reader.clips[reader.clips["split"] == split].sort_values("clip_id")
    if clips.empty:
        raise DexbenchError(f"no clips in split {split!r} at {reader.root}")
    has_oracle = reader.metadata.get("expression_space", "").startswith("synthheads")
    rng = np.random.default_rng(seed)
    ids = clips["clip_id"].tolist()
    identity = dict(zip(clips["clip_id"], clips["identity"], strict=True))
    n_frames = dict(zip(clips["clip_id"], clips["n_frames"], strict=True))
    pairs: list[Pair] = []
    for k, driver in enumerate(ids[:max_pairs] if task.same_identity else rng.permutation(ids)[:max_pairs]):
        driver = str(driver)
        if task.same_identity:
            source = driver
        else:
            others = [c for c in ids if identity[c] != identity[driver]]
            if not others:
                raise DexbenchError(f"{task.name} needs at least two identities in split {split!r}")
            source = str(others[int(rng.integers(len(others)))])
        length = min(int(n_frames[driver]), max_frames)
        if task.same_identity and task.pose_from == task.expression_from == "driver":
            target = "driver-clip"
        else:
            target = "synth-render" if has_oracle else "none"
        pairs.append(
            Pair(
                pair_id=f"{task.name[:4]}-{k:04d}",
                source_clip=source,
                source_frame=0,
                driver_clip=driver,
                driver_start=0,
                driver_end=length,
                seed=_pair_seed(seed, k),
                target=target,
            )
        )
    pairs.sort(key=lambda p: p.pair_id)
    return Manifest(
        dataset=str(clips["dataset"].iloc[0]),
        task=task.name,
        task_version=task.version,
        protocol_version=PROTOCOL_VERSION,
        seed=seed,
        pairs=pairs,
    )


def load_task_manifest(protocol_dir: str | Path, dataset: str, task: str) -> Manifest:
    get_task(task)
    return Manifest.load(manifest_path(protocol_dir, dataset, task))

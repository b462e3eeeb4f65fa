from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

os.environ.setdefault("DEXBENCH_QUIET", "1")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", default=False, help="run tests marked slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--runslow") or os.environ.get("DEXBENCH_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow: opt in with --runslow or DEXBENCH_SLOW=1")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@dataclass(frozen=True)
class Workspace:
    root: Path
    raw: Path
    shards: Path
    protocol: Path


TINY = {"identities": 6, "clips_per_identity": 2, "frames": 12, "fps": 25.0, "size": 64, "test_fraction": 0.5}


def build_workspace(root: Path, seed: int = 0, clips_per_shard: int = 4) -> Workspace:
    from dexbench.data.layout import dataset_paths
    from dexbench.data.reader import ShardReader
    from dexbench.data.recipes.synthheads import SynthParams, build_raw, build_shards
    from dexbench.protocol.manifest import build_manifest, manifest_path
    from dexbench.protocol.tasks import TASKS

    paths = dataset_paths("synthheads", root)
    build_raw(SynthParams(**TINY, seed=seed), paths.raw)
    build_shards(paths.raw, paths.shards, clips_per_shard=clips_per_shard)
    reader = ShardReader(paths.shards)
    for task in TASKS.values():
        build_manifest(reader, task, seed=0, max_frames=12).save(manifest_path(paths.protocol, "synthheads", task.name))
    return Workspace(root, paths.raw, paths.shards, paths.protocol)


@pytest.fixture(scope="session")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """A tiny SynthHeads workspace (raw, shards, manifests), built once per test session."""
    return build_workspace(tmp_path_factory.mktemp("ws"))

"""Benchmark tasks. A task fixes where the pose and the expression of every output frame come from.

The version of a task changes whenever a result under the old version would not be comparable with one under the
new one; it is written into every manifest and result.
"""

from __future__ import annotations

from dataclasses import dataclass

from dexbench.errors import DexbenchError

PROTOCOL_VERSION = "0.1"


@dataclass(frozen=True)
class Task:
    name: str
    version: str
    description: str
    pose_from: str  # "driver" or "source"
    expression_from: str  # "driver" or "source"
    same_identity: bool  # driver and source share the identity (and clip)


TASKS: dict[str, Task] = {
    t.name: t
    for t in (
        Task(
            "self-reenactment",
            "1",
            "Source = the first frame of a clip, driver = the same clip; ground truth = the clip itself.",
            pose_from="driver",
            expression_from="driver",
            same_identity=True,
        ),
        Task(
            "cross-reenactment",
            "1",
            "Source from one identity, driver from another; pose and expression follow the driver.",
            pose_from="driver",
            expression_from="driver",
            same_identity=False,
        ),
    )
}


def get_task(name: str) -> Task:
    try:
        return TASKS[name]
    except KeyError:
        raise DexbenchError(f"unknown task {name!r}", f"choose one of: {', '.join(TASKS)}") from None


def resolve_tasks(spec: str) -> list[Task]:
    """'all' or a comma-separated list of task names."""
    if spec == "all":
        return list(TASKS.values())
    return [get_task(s.strip()) for s in spec.split(",") if s.strip()]

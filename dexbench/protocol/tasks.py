"""Benchmark tasks. A task fixes where the pose and the expression of every output frame come from.

The version of a task changes whenever a result under the old version would not be comparable with one under the
new one; it is written into every manifest and result.
"""

from __future__ import annotations

from dataclasses import dataclass

from dexbench.errors import DexbenchError

# 1.0: the editing tasks (pose-only, expression-only) joined the protocol; results under 0.1 covered only the two
# reenactment tasks and stay comparable task by task (the task versions below did not change).
PROTOCOL_VERSION = "1.0"


@dataclass(frozen=True)
class Task:
    name: str
    version: str
    description: str
    pose_from: str  # "driver" or "source"
    expression_from: str  # "driver" or "source"
    same_identity: bool  # driver and source share the identity (and clip)

    @property
    def edits(self) -> bool:
        """Pose or expression is kept from the source: a disentanglement task."""
        return "source" in (self.pose_from, self.expression_from)


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
        Task(
            "pose-only",
            "1",
            "Pose-only editing: the head pose (rotation, translation, scale) follows the driver, the expression stays "
            "the source's. Source and driver are different identities, so that anything of the driver's face or "
            "expression that reaches the output is leakage a metric can see. Ground truth (SynthHeads): the source "
            "identity rendered with the driver's absolute pose and the source frame's expression.",
            pose_from="driver",
            expression_from="source",
            same_identity=False,
        ),
        Task(
            "expression-only",
            "1",
            "Expression-only editing: the facial expression follows the driver, the head pose stays the source's. "
            "Source and driver are different identities (leakage of the driver's pose or identity is measurable). "
            "Ground truth (SynthHeads): the source identity rendered with the source frame's pose and the driver's "
            "expression parameters.",
            pose_from="source",
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

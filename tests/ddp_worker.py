"""Run by torchrun from tests/test_model_ddp.py: one process of a 2-process DDP training on CPU (gloo).

    torchrun --nproc_per_node 2 -m tests.ddp_worker SHARDS OUT STAGE1_STEPS [STAGE2_STEPS] [--resume]

Stage 1 trains to STAGE1_STEPS (resuming with --resume), then stage 2 to STAGE2_STEPS if given. Each process
writes OUT/<stage>-rank<r>.json: its per-step losses and a sha256 of its own copy of the weights at the end, so the
test can tell that the processes saw different data and still ended with the same weights.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import torch

from dexbench.model.training.loop import train
from dexbench.model.training.stage1 import Stage1
from dexbench.model.training.stage2 import stage2_factory
from tests.model_helpers import tiny_config

# the tiny config's stage-1 path: glimpses, contrast pairs and the code swap (renders outside the DDP forward)
OVERRIDES = {
    "data": {"source_contrast": 3},
    "motion": {"expression_input": "glimpses", "glimpse_size": 8},
    "loss": {"code_swap": 1.0},
}


def weights_sha256(module: torch.nn.Module) -> str:
    h = hashlib.sha256()
    for k, v in sorted(module.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def run(stage_name: str, shards: str, out: Path, max_steps: int, resume: bool) -> None:
    cfg = tiny_config(shards, **OVERRIDES)
    built = []

    def factory(c, accelerator):
        st = Stage1(c, accelerator) if stage_name == "stage1" else stage2_factory(out / "stage1")(c, accelerator)
        built.append(st)
        return st

    factory.__name__ = stage_name
    losses: dict[int, dict[str, float]] = {}
    summary = train(
        factory,
        cfg,
        out / stage_name,
        resume=resume,
        max_steps=max_steps,
        cpu=True,
        on_step=lambda s, logs: losses.update({s: logs}),
    )
    st = built[-1]
    model = st.accelerator.unwrap_model(st.G if stage_name == "stage1" else st.model)
    rank = int(os.environ["RANK"])
    record = {"losses": losses, "weights": weights_sha256(model), "processes": summary.get("processes")}
    (out / f"{stage_name}-rank{rank}.json").write_text(json.dumps(record))


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--resume"]
    shards, out, steps = args[0], Path(args[1]), [int(a) for a in args[2:]]
    for stage_name, max_steps in zip(("stage1", "stage2"), steps, strict=False):
        run(stage_name, shards, out, max_steps, resume="--resume" in sys.argv)


if __name__ == "__main__":
    main()

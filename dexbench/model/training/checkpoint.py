"""Checkpoints as safetensors: model weights, optimizer state and RNG state, one folder per step.

A checkpoint folder (`checkpoints/step-000200/`) is written under a temporary name and renamed when complete, so
`latest()` never sees a half-written one. Optimizer state is flattened to tensors (safetensors) plus its
non-tensor structure as JSON; nothing is pickled.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from dexbench.errors import DexbenchError, InputFileError

_STEP = re.compile(r"^step-(\d{6,})$")


def _flatten_optimizer(state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, Any] = {}
    for idx, entry in state["state"].items():
        for k, v in entry.items():
            if isinstance(v, torch.Tensor):
                tensors[f"{idx}.{k}"] = v.detach().cpu().contiguous()
            else:
                scalars[f"{idx}.{k}"] = v
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for key, v in [*tensors.items(), *meta["scalars"].items()]:
        idx, k = key.split(".", 1)
        state.setdefault(int(idx), {})[k] = v
    return {"state": state, "param_groups": meta["param_groups"]}


def step_dirs(root: str | Path) -> list[tuple[int, Path]]:
    root = Path(root)
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir() if p.is_dir() and (m := _STEP.match(p.name))]
    return sorted(found)


def latest(root: str | Path) -> Path | None:
    dirs = step_dirs(root)
    return dirs[-1][1] if dirs else None


def save_checkpoint(
    root: str | Path,
    step: int,
    models: dict[str, torch.nn.Module],
    optimizers: dict[str, torch.optim.Optimizer],
    generators: dict[str, torch.Generator],
    extra: dict[str, Any] | None = None,
    keep: int = 2,
    other_ranks: list[dict[str, torch.Tensor]] | None = None,
) -> Path:
    """`other_ranks[r - 1]`: the generator states of process r > 0 under DDP (each process draws its own noise)."""
    root = Path(root)
    final = root / f"step-{step:06d}"
    tmp = root / f".tmp-step-{step:06d}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name, m in models.items():
        sd = {k: v.detach().cpu().contiguous() for k, v in m.state_dict().items()}
        save_file(sd, tmp / f"{name}.safetensors", metadata={"step": str(step)})
    optim_meta = {}
    for name, opt in optimizers.items():
        tensors, meta = _flatten_optimizer(opt.state_dict())
        save_file(tensors, tmp / f"optimizer-{name}.safetensors")
        optim_meta[name] = meta
    rng = {"torch_cpu": torch.get_rng_state()}
    rng.update({f"gen_{k}": g.get_state() for k, g in generators.items()})
    for r, states in enumerate(other_ranks or [], start=1):
        rng.update({f"gen_{k}@rank{r}": v for k, v in states.items()})
    if torch.cuda.is_available():
        rng["torch_cuda"] = torch.cuda.get_rng_state()
    save_file(rng, tmp / "rng.safetensors")
    (tmp / "state.json").write_text(json.dumps({"step": step, "optimizers": optim_meta, **(extra or {})}, indent=1))
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    for _, old in step_dirs(root)[:-keep] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
    return final


def load_models(path: str | Path, models: dict[str, torch.nn.Module], strict: bool = True) -> None:
    path = Path(path)
    for name, m in models.items():
        f = path / f"{name}.safetensors"
        if not f.is_file():
            raise InputFileError(f, "checkpoint weights missing", "train the model first (`dexbench train ...`)")
        m.load_state_dict(load_file(f), strict=strict)


def load_for_inference(path: str | Path, name: str, model: torch.nn.Module, weights: str = "auto") -> str:
    """Load model `name` for inference: its weight average (`<name>_ema`, written when the run set
    `ema_half_life`) unless `weights` is "trained"; "auto" falls back to the trained weights when the checkpoint has
    no average. Returns which weights were loaded ("ema" or "trained")."""
    if weights not in ("auto", "ema", "trained"):
        raise DexbenchError(f"weights={weights!r} is not a choice", "use auto, ema or trained")
    average = weights_file(path, name, "ema")
    has_average = average.is_file()
    if weights == "ema" and not has_average:
        raise InputFileError(
            average,
            "this checkpoint holds no weight average",
            "train with ema_half_life > 0, or load the trained weights (weights: trained)",
        )
    use = "ema" if has_average and weights != "trained" else "trained"
    f = weights_file(path, name, use)
    if not f.is_file():
        raise InputFileError(f, "checkpoint weights missing", "train the model first (`dexbench train ...`)")
    model.load_state_dict(load_file(f))
    return use


def weights_file(path: str | Path, name: str, used: str) -> Path:
    """The file `load_for_inference` read for model `name` ("ema" or "trained")."""
    return Path(path) / (f"{name}_ema.safetensors" if used == "ema" else f"{name}.safetensors")


def _match_layouts(opt: torch.optim.Optimizer) -> None:
    """Moment tensors in their parameter's memory layout (saved NCHW; a channels-last weight would otherwise step
    against NCHW moments, a slower mixed-layout update). Values unchanged."""
    for group in opt.param_groups:
        for p in group["params"]:
            for k, v in opt.state.get(p, {}).items():
                if isinstance(v, torch.Tensor) and v.shape == p.shape and v.stride() != p.stride():
                    opt.state[p][k] = torch.empty_like(p, dtype=v.dtype).copy_(v)


def load_checkpoint(
    path: str | Path,
    models: dict[str, torch.nn.Module],
    optimizers: dict[str, torch.optim.Optimizer],
    generators: dict[str, torch.Generator],
    rank: int = 0,
) -> dict[str, Any]:
    """Restore everything `save_checkpoint` wrote (process `rank`'s own generator states where it saved them, so a
    resumed DDP run draws what the uninterrupted one would have); returns state.json (with 'step')."""
    path = Path(path)
    load_models(path, models)
    state = json.loads((path / "state.json").read_text())
    for name, opt in optimizers.items():
        tensors = load_file(path / f"optimizer-{name}.safetensors")
        opt.load_state_dict(_unflatten_optimizer(tensors, state["optimizers"][name]))
        _match_layouts(opt)
    rng = load_file(path / "rng.safetensors")
    torch.set_rng_state(rng["torch_cpu"])
    for k, g in generators.items():
        g.set_state(rng.get(f"gen_{k}@rank{rank}", rng[f"gen_{k}"]))
    if "torch_cuda" in rng and torch.cuda.is_available():
        torch.cuda.set_rng_state(rng["torch_cuda"])
    return state

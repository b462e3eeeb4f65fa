"""`dexbench calibrate`: measure the face-analysis core against SynthHeads' exact ground truth."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dexbench.commands.common import out
from dexbench.errors import DexbenchError


def calibrate(
    dataset: Annotated[str, typer.Option(help="Dataset with exact ground truth (only synthheads).")] = "synthheads",
    raw: Annotated[Path | None, typer.Option(help="Raw folder (default datasets/<dataset>/raw).")] = None,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Output JSON (default metrics/calibration/<dataset>.json).")
    ] = None,
    split: Annotated[str, typer.Option(help="Split whose clips are analysed.")] = "test",
) -> None:
    """Pose / landmark / expression / detection error of the face analyzer on SynthHeads (byte-deterministic JSON)."""
    if dataset != "synthheads":
        raise DexbenchError(f"calibrate: no ground truth for dataset {dataset!r}", "use --dataset synthheads")
    from dexbench.face.calibration import calibrate_synthheads
    from dexbench.io.atomic import write_json

    raw = raw or Path("datasets") / dataset / "raw"
    out_file = out_file or Path("metrics") / "calibration" / f"{dataset}.json"
    result = calibrate_synthheads(raw, split=split)
    write_json(out_file, result)
    pose = result["pose"]
    out.print(
        f"calibration ({result['frames']} frames at {result['resolution_px']} px): detection "
        f"{result['detection']['yunet_every_frame_rate']:.3f}; median |error| yaw {pose['yaw']['median_abs']:.2f}, "
        f"pitch {pose['pitch']['median_abs']:.2f}, roll {pose['roll']['median_abs']:.2f} deg; "
        f"AKD {result['landmarks']['akd_px']:.2f} px; "
        + ", ".join(f"{k} rho {v['signed_rho']}" for k, v in result["expression"]["sweep"]["mapping"].items())
        + f" -> {out_file}"
    )


def register(app: typer.Typer) -> None:
    app.command("calibrate")(calibrate)

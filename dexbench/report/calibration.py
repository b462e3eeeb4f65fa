"""The calibration page: how far each estimator behind a metric is from SynthHeads' exact ground truth.

`dexbench calibrate` writes `<results>/calibration/<dataset>.json` (dexbench/face/calibration.py). A file in that
format (detection, pose, landmarks, expression sections) becomes a structured view: the pass/fail checks first,
then the pose error table, translation/scale, AKD, and the expression Spearman tables with the descriptor entry
that measures each parameter. Anything the view does not know (fields added later, or a file in another format)
is still shown, rendered generically — scalars as a definition list, mappings of records as tables.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dexbench.errors import InputFileError
from dexbench.report.format import fmt, slugify

ANGLES = ("yaw", "pitch", "roll")
# which reported metrics an estimator's error reaches (docs/metrics.md, "Motion reference")
USED_BY = {
    "detection": "every face metric (APD, AED, AKD, CSIM, jitter, disentanglement)",
    "pose": "APD (+ translation, scale), pose transfer / leakage",
    "landmarks": "AKD, jitter",
    "expression": "AED, expression transfer / leakage",
}
KNOWN = {
    "calibration_version", "dataset", "split", "resolution_px", "clips", "frames", "source", "provenance",
    "detection", "pose", "landmarks", "expression", "passed",
}  # fmt: skip


@dataclass
class Block:
    title: str
    items: list[tuple[str, str]] = field(default_factory=list)  # scalars
    columns: list[str] = field(default_factory=list)  # a table
    rows: list[dict[str, Any]] = field(default_factory=list)
    text: str = ""  # anything else, as JSON


@dataclass
class Check:
    name: str
    anchor: str
    target: str
    measured: str
    passed: bool | None  # None: no target (informational)
    used_by: str


@dataclass
class ExpressionSet:
    key: str
    title: str
    how: str
    frames: int | None
    decides: bool  # this set's result is the expression check's verdict
    passed: bool | None
    rows: list[dict[str, Any]]  # parameter, entry, sign, rho, signed_rho, pass, truth_signed_rho, truth_pass
    matrix_columns: list[str]
    matrix: list[dict[str, Any]]  # parameter -> {entry: rho}, mapped entry marked
    truth_matrix: list[dict[str, Any]]


@dataclass
class CalibrationView:
    data: dict[str, Any]
    checks: list[Check]
    pose_rows: list[dict[str, Any]]
    pose_target: float | None
    pose_units: str
    placement_rows: list[dict[str, Any]]
    landmarks: list[tuple[str, str]]
    regions: list[dict[str, Any]]
    expression_target: float | None
    expression_note: str
    expression_sets: list[ExpressionSet]
    provenance: list[tuple[str, str]]
    source: list[tuple[str, str]]

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.passed is False]


@dataclass
class CalibrationDoc:
    dataset: str
    path: Path
    blocks: list[Block]  # generic rendering: the whole file, or the fields the view does not know
    view: CalibrationView | None = None

    @property
    def slug(self) -> str:
        return slugify(self.dataset)


def _scalar(v: Any) -> bool:
    return v is None or isinstance(v, (str, int, float, bool))


def _cell(v: Any) -> Any:
    return v if _scalar(v) else json.dumps(v, sort_keys=True, ensure_ascii=False)


def _table(title: str, records: list[tuple[str | None, dict[str, Any]]], key_name: str) -> Block:
    columns: list[str] = [key_name] if any(k is not None for k, _ in records) else []
    for _, rec in records:
        for k in rec:
            if k not in columns:
                columns.append(str(k))
    rows = []
    for key, rec in records:
        row = {str(k): _cell(v) for k, v in rec.items()}
        if key is not None:
            row[key_name] = key
        rows.append(row)
    return Block(title, columns=columns, rows=rows)


def blocks(data: Any, title: str = "") -> list[Block]:
    if isinstance(data, list):
        if data and all(isinstance(x, dict) for x in data):
            return [_table(title, [(None, x) for x in data], "")]
        return [Block(title, text=json.dumps(data, indent=2, ensure_ascii=False))]
    if not isinstance(data, dict):
        return [Block(title, items=[("value", str(data))])]
    out: list[Block] = []
    scalars = [(str(k), "–" if v is None else str(v)) for k, v in data.items() if _scalar(v)]
    if scalars:
        out.append(Block(title, items=scalars))
    for k, v in data.items():
        if _scalar(v):
            continue
        name = f"{title} / {k}" if title else str(k)
        records = isinstance(v, dict) and v and all(isinstance(x, dict) for x in v.values())
        if records and all(all(_scalar(y) for y in x.values()) for x in v.values()):
            out.append(_table(name, [(str(kk), x) for kk, x in v.items()], "name"))
            continue
        out.extend(blocks(v, name))
    return out


# --- the structured view of `dexbench calibrate` output ------------------------------------------------------------


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _pct(v: Any) -> str:
    x = _num(v)
    return "–" if x is None else f"{100 * x:.4g}%"


def _dict(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def _stat_row(name: str, s: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "quantity": name,
        "n": s.get("n"),
        "bias": _num(s.get("bias")),
        "mean_abs": _num(s.get("mean_abs")),
        "median_abs": _num(s.get("median_abs")),
        "p90_abs": _num(s.get("p90_abs")),
        **extra,
    }


def _pose(pose: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]], Check | None]:
    target = _num(pose.get("target_median_abs_deg"))
    rows = []
    for a in ANGLES:
        s = _dict(pose.get(a))
        if not s:
            continue
        median = _num(s.get("median_abs"))
        rng = s.get("true_range")
        rows.append(
            _stat_row(
                a, s, slope=_num(s.get("slope")),
                true_range=f"{fmt(rng[0])} … {fmt(rng[1])}" if isinstance(rng, list) and len(rng) == 2 else "–",
                passed=None if target is None or median is None else median <= target,
            )
        )  # fmt: skip
    if _dict(pose.get("geodesic")):
        rows.append(_stat_row("geodesic (3-D rotation)", pose["geodesic"], slope=None, true_range="–", passed=None))
    placement = []
    for key, label in (("translation", "translation"), ("scale_relative", "scale (relative)")):
        s = _dict(pose.get(key))
        if s:
            unit = s.get("unit") or ("fraction of the true scale" if key == "scale_relative" else "")
            placement.append(_stat_row(label, s, unit=unit))
    check = None
    if rows or "pass" in pose:
        over = [r["quantity"] for r in rows if r["passed"] is False]
        measured = ", ".join(
            f"{r['quantity']} {r['median_abs']:.2f}°"
            for r in rows
            if r["quantity"] in ANGLES and r["median_abs"] is not None
        )
        wanted = "none stated" if target is None else f"median |error| ≤ {target:g}° on each of yaw, pitch, roll"
        check = Check(
            "Head pose", "cal-pose", wanted,
            "median |error| " + measured + (f" — over the target: {', '.join(over)}" if over else ""),
            bool(pose.get("pass")) if "pass" in pose else None, USED_BY["pose"],
        )  # fmt: skip
    return rows, placement, check


def _sign(v: Any) -> str:
    return {1: "+", -1: "−"}.get(v, str(v) if v is not None else "?")


def _matrix(m: dict[str, Any], mapping: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
    columns: list[str] = []
    for entries in m.values():
        for k in _dict(entries):
            if k not in columns:
                columns.append(k)
    rows = []
    for param, entries in m.items():
        mapped = _dict(mapping.get(param)).get("entry")
        rows.append({"parameter": param, "cells": [(c, _num(_dict(entries).get(c)), c == mapped) for c in columns]})
    return columns, rows


def _expression_set(key: str, s: dict[str, Any], title: str, decides: bool) -> ExpressionSet:
    mapping = _dict(s.get("mapping"))
    truth = _dict(s.get("on_true_landmarks"))
    truth_mapping = _dict(truth.get("mapping"))
    rows = []
    for param, m in mapping.items():
        m = _dict(m)
        t = _dict(truth_mapping.get(param))
        rows.append(
            {
                "parameter": param,
                "entry": m.get("entry", "?"),
                "sign": _sign(m.get("sign")),
                "rho": _num(m.get("rho")),
                "signed_rho": _num(m.get("signed_rho")),
                "pass": bool(m.get("pass")),
                "truth_signed_rho": _num(t.get("signed_rho")) if t else None,
                "truth_pass": bool(t.get("pass")) if t else None,
            }
        )
    cols, matrix = _matrix(_dict(s.get("spearman_matrix")), mapping)
    _, truth_matrix = _matrix(_dict(truth.get("spearman_matrix")), mapping)
    return ExpressionSet(
        key, title, str(s.get("how", "")), s.get("frames"), decides,
        bool(s["pass"]) if "pass" in s else None, rows, cols, matrix, truth_matrix,
    )  # fmt: skip


def _expression(expr: dict[str, Any]) -> tuple[list[ExpressionSet], Check | None]:
    target = _num(expr.get("target_spearman"))
    sets = []
    if _dict(expr.get("mapping")):  # calibration v1: one set, at the top level
        sets.append(_expression_set("test_clips", expr, "Test clips", True))
    titles = {
        "sweep": "Expression sweep (decides the check)",
        "test_clips": "Test clips (natural motion; informational)",
    }
    for key in ("sweep", "test_clips"):
        if _dict(expr.get(key)):
            sets.append(_expression_set(key, expr[key], titles[key], key == "sweep"))
    if not sets:
        return [], None
    deciding = next((s for s in sets if s.decides), sets[0])
    failed = [r for r in deciding.rows if not r["pass"]]
    measured = f"{len(deciding.rows) - len(failed)} of {len(deciding.rows)} parameters pass"
    if failed:
        measured += " — below the target: " + ", ".join(
            f"{r['parameter']} ({r['entry']}) " + ("undefined" if r["signed_rho"] is None else f"{r['signed_rho']:.2f}")
            for r in failed
        )
    check = Check(
        "Expression descriptor", "cal-expression",
        f"signed Spearman ρ ≥ {'?' if target is None else f'{target:g}'} between each parameter and its descriptor "
        f"entry ({deciding.title.split(' (')[0].lower()})",
        measured, bool(expr["pass"]) if "pass" in expr else not failed, USED_BY["expression"],
    )  # fmt: skip
    return sets, check


def view(data: dict[str, Any]) -> CalibrationView | None:
    """The structured view of a `dexbench calibrate` file, or None when the file is in another format."""
    if not isinstance(data, dict) or not any(isinstance(data.get(k), dict) for k in ("pose", "expression")):
        return None
    checks: list[Check] = []
    det = _dict(data.get("detection"))
    if det:
        rate = det.get("yunet_every_frame_rate", det.get("rate"))
        checks.append(
            Check(
                "Face detection", "cal-detection", f"detection rate ≥ {_pct(det.get('target'))} of frames",
                f"{_pct(rate)} of frames (YuNet on every frame); the analyzer produced landmarks on "
                f"{_pct(det.get('analyze_detected_rate'))}",
                bool(det["pass"]) if "pass" in det else None, USED_BY["detection"],
            )
        )  # fmt: skip
    pose = _dict(data.get("pose"))
    pose_rows, placement, pose_check = _pose(pose)
    if pose_check:
        checks.append(pose_check)
    lm = _dict(data.get("landmarks"))
    res = data.get("resolution_px")
    at = f" at {res} px" if res else ""
    landmarks = []
    if lm:
        for key, label, unit in (
            ("akd_px", "AKD (mean over visible points)", " px"),
            ("akd_per_frame_median_px", "per-frame AKD, median", " px"),
            ("akd_per_frame_p90_px", "per-frame AKD, 90th percentile", " px"),
            ("nme_outer_eye_corners", "NME (÷ outer-eye-corner distance)", ""),
        ):
            if key in lm:
                landmarks.append((label, fmt(_num(lm[key])) + unit + (at if unit else "")))
        if "visible_points" in lm:
            landmarks.append(("visible points compared", str(lm["visible_points"])))
        checks.append(
            Check(
                "Landmarks", "cal-landmarks", "no target (informational)",
                f"AKD {fmt(_num(lm.get('akd_px')))} px{at}", None, USED_BY["landmarks"],
            )
        )  # fmt: skip
    regions = [{"region": k, "px": _num(v)} for k, v in _dict(lm.get("per_region_px")).items()]
    expr = _dict(data.get("expression"))
    sets, expr_check = _expression(expr)
    if expr_check:
        checks.append(expr_check)
    prov = [(str(k), str(v)) for k, v in sorted(_dict(data.get("provenance")).items())]
    src = _dict(data.get("source"))
    source = [(str(k), str(v)) for k, v in src.items() if _scalar(v)]
    source += [(f"{k}.{kk}", str(vv)) for k, v in src.items() if isinstance(v, dict) for kk, vv in v.items()]
    return CalibrationView(
        data=data, checks=checks, pose_rows=pose_rows, pose_target=_num(pose.get("target_median_abs_deg")),
        pose_units=str(pose.get("units", "degrees")), placement_rows=placement, landmarks=landmarks,
        regions=regions, expression_target=_num(expr.get("target_spearman")), expression_note=str(expr.get("note", "")),
        expression_sets=sets, provenance=prov, source=source,
    )  # fmt: skip


def read_calibration(path: Path) -> CalibrationDoc:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputFileError(
            path, f"calibration table is not valid JSON ({exc})", "re-run `dexbench calibrate`"
        ) from exc
    v = view(data)
    if v is None:
        return CalibrationDoc(path.stem, path, blocks(data))
    rest = {k: val for k, val in data.items() if k not in KNOWN}
    return CalibrationDoc(str(data.get("dataset") or path.stem), path, blocks(rest) if rest else [], v)


def find_calibration(roots: list[Path], files: list[Path] | None = None) -> list[CalibrationDoc]:
    """`calibration/*.json` below each root, plus explicitly named files (each file once)."""
    paths: dict[Path, None] = {}
    for root in roots:
        for path in sorted((Path(root) / "calibration").glob("*.json")):
            paths[path.resolve()] = None
    for f in files or []:
        if not Path(f).is_file():
            raise InputFileError(Path(f), "calibration file not found", "run `dexbench calibrate --out` to write it")
        paths[Path(f).resolve()] = None
    return [read_calibration(p) for p in paths]


# the analyzer settings that must match for a calibration to describe the analyzer that scored the results
COMPARED = ("analyzer", "landmarker_name", "expression_space", "pose", "detector")


def analyzer_mismatches(doc: CalibrationDoc, results_provenance: dict[str, set[str]]) -> list[tuple[str, str, str]]:
    """(field, in the calibration, in the results) where the calibrated analyzer differs from the scoring one.

    `results_provenance` maps a face-analysis provenance field (without its "face." prefix) to every value the
    results recorded for it. Weights are compared by sha256; settings by name.
    """
    if doc.view is None:
        return []
    cal = dict(doc.view.provenance)
    keys = [k for k in cal if k in COMPARED or (k.startswith("weights_") and k.endswith("_sha256"))]
    out = []
    for k in keys:
        seen = results_provenance.get(k)
        if seen and seen != {cal[k]}:
            out.append((k, cal[k], ", ".join(sorted(seen))))
    return out

"""The metrics page: what each column of the leaderboards measures, as the results themselves declare it.

Direction, unit, level and range come from the result summaries; the one-line description from dexbench's metric
registry (a metric it does not know says so); the extractor, reduction and weights from the recorded provenance.
Every leaderboard header links here (`metrics.html#metric-<name>`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from dexbench.report.collect import Column, Leaderboard
from dexbench.report.format import slugify

# provenance fields worth a reader's eye (the rest stays in the details)
HEADLINE = ("extractor", "reduction", "reference", "reference_set", "convention", "note")
LEVELS = {
    "clip": "one value per clip; the table shows the mean over clips with a bootstrap 95% CI",
    "set": "one value over the whole test set (no per-clip values): no confidence interval, no significance test",
}


@dataclass
class MetricDoc:
    name: str
    slug: str
    description: str
    direction: str
    arrow: str
    unit: str
    level: str
    level_text: str
    value_range: str
    headline: list[tuple[str, str]]
    provenance: list[tuple[str, str]]
    available_in: list[str] = field(default_factory=list)
    unavailable: list[tuple[str, list[str]]] = field(default_factory=list)  # reason -> boards


def _description(name: str) -> str:
    from dexbench.metrics.registry import all_metrics

    spec = all_metrics().get(name)
    return spec.description if spec else "not a built-in metric of this dexbench version: see the submission's docs"


def _range(col: Column) -> str:
    if not col.value_range:
        return "–"
    lo, hi = col.value_range
    show = [("−∞" if v < 0 else "∞") if math.isinf(v) else f"{v:g}" for v in (lo, hi)]
    return f"[{show[0]}, {show[1]}]"


def metric_docs(boards: list[Leaderboard]) -> list[MetricDoc]:
    docs: dict[str, MetricDoc] = {}
    for b in boards:
        for col in b.columns:
            doc = docs.get(col.name)
            if doc is None:
                varying = {"n_clips", "n_frames", "n_frames_output", "n_frames_reference", "task_version"}
                prov = [(k, v) for k, v in sorted(col.provenance.items()) if k not in varying]
                doc = docs[col.name] = MetricDoc(
                    name=col.name, slug=slugify(col.name), description=_description(col.name),
                    direction=col.direction, arrow=col.arrow, unit=col.unit, level=col.level,
                    level_text=LEVELS.get(col.level, col.level), value_range=_range(col),
                    headline=[(k, col.provenance[k]) for k in HEADLINE if col.provenance.get(k)], provenance=prov,
                )  # fmt: skip
            elif not doc.headline and col.provenance:  # the first board's rows could not compute it
                doc.headline = [(k, col.provenance[k]) for k in HEADLINE if col.provenance.get(k)]
                doc.provenance = sorted(col.provenance.items())
            if any(r.cells.get(col.name) is not None and r.cells[col.name].value is not None for r in b.rows):
                doc.available_in.append(b.title)
            for r in b.rows:
                c = r.cells.get(col.name)
                if c is not None and c.value is None and c.reason:
                    entry = next((u for u in doc.unavailable if u[0] == c.reason), None)
                    if entry is None:
                        doc.unavailable.append((c.reason, []))
                        entry = doc.unavailable[-1]
                    if b.title not in entry[1]:
                        entry[1].append(b.title)
    return list(docs.values())


def weight_hashes(boards: list[Leaderboard]) -> list[dict[str, str]]:
    """Every network's weights sha256 once: network, sha256 and the metrics that used it."""
    found: dict[str, dict[str, object]] = {}
    for b in boards:
        for col in b.columns:
            for key, sha in col.provenance.items():
                if "sha256" not in key.lower() or not sha:
                    continue
                # "face.weights_yunet_sha256" names its network; "weights_sha256" is the metric's own extractor
                net = key.removeprefix("face.").removeprefix("weights_").removesuffix("_sha256")
                if net in ("weights", "", "sha256"):
                    net = col.provenance.get("extractor", col.name).split(" (")[0]
                entry = found.setdefault(sha, {"network": net, "metrics": []})
                if col.name not in entry["metrics"]:  # type: ignore[operator]
                    entry["metrics"].append(col.name)  # type: ignore[union-attr]
    return [
        {"network": str(v["network"]), "sha256": sha, "metrics": ", ".join(v["metrics"])}  # type: ignore[arg-type]
        for sha, v in sorted(found.items(), key=lambda kv: str(kv[1]["network"]).casefold())
    ]

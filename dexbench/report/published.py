"""Published numbers (as reported in papers, with citations): shown beside a leaderboard, never ranked with it.

They come from `dexbench.protocol.published.load_published()` when that module exists. Entries may be mappings or
objects; the fields read are method/name, dataset, task, metrics (name -> value or {mean, ci95}), citation (text
or a mapping with authors/title/venue/year), url/doi, protocol_version and notes. Anything else is ignored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from dexbench.report.format import safe_url


@dataclass
class PublishedRow:
    method: str
    dataset: str
    task: str
    values: dict[str, float | None]
    citation: str
    url: str = ""
    protocol_version: str = ""
    notes: str = ""
    extra: dict[str, str] = field(default_factory=dict)


def _get(entry: Any, *names: str) -> Any:
    for n in names:
        v = entry.get(n) if isinstance(entry, dict) else getattr(entry, n, None)
        if v is not None:
            return v
    return None


def _citation(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    parts = [_get(value, "authors", "author"), _get(value, "title"), _get(value, "venue", "journal", "booktitle")]
    year = _get(value, "year")
    text = ". ".join(", ".join(p) if isinstance(p, list) else str(p) for p in parts if p)
    return f"{text} ({year})" if year else text or str(value)


def _number(value: Any) -> float | None:
    if isinstance(value, dict) or (not isinstance(value, (int, float, str)) and value is not None):
        value = _get(value, "mean", "value")
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def normalize(entry: Any) -> PublishedRow | None:
    method, dataset, task = _get(entry, "method", "name"), _get(entry, "dataset"), _get(entry, "task")
    metrics = _get(entry, "metrics", "values")
    if not method or not dataset or not task or not metrics:
        return None
    if not isinstance(metrics, dict):
        metrics = dict(metrics)
    citation = _get(entry, "citation", "cite", "reference")
    structured = citation is not None and not isinstance(citation, str)
    url = _get(entry, "url", "link") or (_get(citation, "url") if structured else None) or ""
    doi = _get(entry, "doi") or (_get(citation, "doi") if structured else None)
    if not url and doi:
        url = f"https://doi.org/{doi}"
    return PublishedRow(
        method=str(method),
        dataset=str(dataset),
        task=str(task),
        values={str(k): _number(v) for k, v in metrics.items()},
        citation=_citation(citation),
        url=safe_url(str(url)),
        protocol_version=str(_get(entry, "protocol_version", "protocol") or ""),
        notes=str(_get(entry, "notes", "note") or ""),
    )


def load() -> tuple[list[PublishedRow], str]:
    """Every published row the protocol ships, and a note when the source is missing."""
    try:
        from dexbench.protocol.published import load_published
    except ImportError:
        return [], "no published numbers shipped (dexbench.protocol.published not found)"
    rows = [r for r in (normalize(e) for e in load_published()) if r is not None]
    return rows, ""

"""Published numbers, grouped for the site and the exports: paper -> setting -> main rows / ablation rows.

The rows come from `dexbench.protocol.published.load_published()` (numbers copied from papers, with citations).
They are measured on the papers' own test sets with metric extractors the papers do not always state, so they are
never matched to a leaderboard, never ranked and never marked best: the site shows them in their own section and
the exports write them to their own files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from dexbench.protocol.published import PublishedRow, load_published
from dexbench.report.format import safe_url

HEADING = (
    "Published numbers — copied from papers, not reproduced, not comparable with the rows above: "
    "different test sets/extractors"
)
KIND_TITLES = {"main": "main comparison", "ablation": "ablations (the paper's own variants)"}


@dataclass
class PublishedMetric:
    name: str
    higher_is_better: bool | None  # None: the paper does not say
    definition: str

    @property
    def arrow(self) -> str:
        return "" if self.higher_is_better is None else ("↑" if self.higher_is_better else "↓")


@dataclass
class PublishedEntry:
    method: str
    values: dict[str, float]
    note: str  # the row's own note (the source's transcription status is shown once per paper)


@dataclass
class PublishedTable:
    setting: str
    definition: str
    dexbench_task: str | None  # the dexbench task this setting corresponds to, None when there is none
    kind: str  # "main" or "ablation"
    metrics: list[PublishedMetric]
    entries: list[PublishedEntry]

    @property
    def kind_title(self) -> str:
        return KIND_TITLES.get(self.kind, self.kind)


@dataclass
class PublishedPaper:
    key: str
    title: str
    authors: str
    venue: str
    year: int | str
    url: str  # already checked by safe_url ("" when unsafe)
    table: str
    status: str  # how trustworthy the transcription is, e.g. "to be checked against the paper"
    test_set: str
    metrics: list[PublishedMetric]
    tables: list[PublishedTable] = field(default_factory=list)

    @property
    def citation(self) -> str:
        return f"{self.authors}. {self.title}. {self.venue}, {self.year}."

    @property
    def slug(self) -> str:
        from dexbench.report.format import slugify

        return "published-" + slugify(self.key)


def _row_note(row: PublishedRow) -> str:
    """The row's own note: `notes` is "<row note>; <source status>" and the status is shown once per paper."""
    status = row.source.status
    note = row.notes[: -len(status)] if status and row.notes.endswith(status) else row.notes
    return note.rstrip("; ").strip()


def group(rows: list[PublishedRow]) -> list[PublishedPaper]:
    """Papers in first-seen order; per paper its settings in the paper's order, main rows before ablations."""
    papers: dict[str, PublishedPaper] = {}
    settings: dict[str, list[str]] = {}
    for row in rows:
        src = row.source
        paper = papers.get(src.key)
        if paper is None:
            metrics = [
                PublishedMetric(
                    str(name),
                    None if (d or {}).get("higher_is_better") is None else bool(d["higher_is_better"]),
                    str((d or {}).get("definition", "")),
                )
                for name, d in src.metrics.items()
            ]
            paper = papers[src.key] = PublishedPaper(
                key=src.key, title=src.paper, authors=src.authors, venue=src.venue, year=src.year,
                url=safe_url(src.url), table=src.table, status=src.status, test_set=src.test_set, metrics=metrics,
            )  # fmt: skip
            settings[src.key] = list(src.settings)
        table = next((t for t in paper.tables if t.setting == row.setting and t.kind == row.kind), None)
        if table is None:
            setting = src.settings.get(row.setting) or {}
            table = PublishedTable(
                setting=row.setting,
                definition=str(setting.get("definition", "")),
                dexbench_task=row.task if row.is_dexbench_task else None,
                kind=row.kind,
                metrics=[],
                entries=[],
            )
            paper.tables.append(table)
        table.entries.append(PublishedEntry(row.method, dict(row.values), _row_note(row)))
    for paper in papers.values():
        order = {name: i for i, name in enumerate(settings[paper.key])}
        kinds = {"main": 0, "ablation": 1}
        paper.tables.sort(key=lambda t: (order.get(t.setting, len(order)), kinds.get(t.kind, 2)))
        for t in paper.tables:
            present = {m for e in t.entries for m in e.values}
            t.metrics = [m for m in paper.metrics if m.name in present]
    return list(papers.values())


def load(directory: str | Path | None = None) -> list[PublishedPaper]:
    """The published numbers dexbench ships (or those of `directory`), grouped; bad files raise InputFileError."""
    return group(load_published(directory))

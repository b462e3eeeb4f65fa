"""Every leaderboard as CSV, JSON, Markdown and LaTeX (booktabs; best in bold; with or without CIs).

Values are written at full precision in CSV/JSON and formatted for reading in Markdown/LaTeX. Text that came
from a submission is escaped for each format (LaTeX specials, Markdown table pipes, spreadsheet formulas).
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

from dexbench.io.atomic import dumps_json, write_text
from dexbench.report.board_view import board_view
from dexbench.report.collect import Cell, Leaderboard
from dexbench.report.format import fmt
from dexbench.report.published import PublishedPaper

_LATEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIALS.get(ch, ch) for ch in text)


def markdown_escape(text: str) -> str:
    out = text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("\r", " ")
    for ch in "*_`[]<>":
        out = out.replace(ch, "\\" + ch)
    return out


def csv_safe(text: str) -> str:
    """Spreadsheets run cells starting with = + - @ as formulas; a leading quote keeps them text."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _finite(x: float | None) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def board_records(board: Leaderboard) -> dict[str, Any]:
    """The board as plain data: what the JSON export and the leaderboard snapshot hold."""
    rows = []
    for r in board.rows:
        cells = {}
        for col in board.columns:
            c = r.cells.get(col.name)
            if c is None:
                cells[col.name] = {"available": False, "reason": "not computed by this submission"}
                continue
            entry: dict[str, Any] = {"available": c.available and c.value is not None}
            if entry["available"]:
                entry.update(
                    mean=_finite(c.mean),
                    ci95=[_finite(c.ci95[0]), _finite(c.ci95[1])] if c.ci95 else None,
                    best=c.best,
                    rank=c.rank,
                    tied_with_best=c.tied_with_best,
                    p_value_vs_best=c.p_value,
                    n_clips=c.n_clips,
                )
            else:
                entry["reason"] = c.reason or "no value"
            cells[col.name] = entry
        rows.append(
            {"method": r.method, "version": r.version, "dexbench_version": r.dexbench_version, "metrics": cells}
        )
    return {
        "dataset": board.dataset,
        "task": board.task,
        "task_version": board.task_version,
        "protocol_version": board.protocol_version,
        "manifest_sha256": board.manifest_sha256,
        "n_pairs": board.n_pairs,
        "columns": [
            {
                "name": c.name,
                "higher_is_better": c.higher_is_better,
                "unit": c.unit,
                "range": [_finite(v) for v in c.value_range] if c.value_range else None,  # null = unbounded
                "comparable": c.comparable,
                "level": c.level,
            }
            for c in board.columns
        ],
        "rows": rows,
    }


def to_json(board: Leaderboard) -> str:
    return dumps_json(board_records(board))


def to_csv(board: Leaderboard) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    header = ["method", "version"]
    for c in board.columns:
        header += [c.name, f"{c.name}_ci_low", f"{c.name}_ci_high", f"{c.name}_best", f"{c.name}_available"]
    w.writerow(header)
    for r in board.rows:
        line: list[Any] = [csv_safe(r.method), csv_safe(r.version)]
        for c in board.columns:
            cell = r.cells.get(c.name)
            ok = cell is not None and cell.value is not None
            lo, hi = (cell.ci95 if ok and cell.ci95 else (None, None)) if cell else (None, None)
            line += [
                repr(cell.value) if ok else "",
                repr(lo) if ok and lo is not None else "",
                repr(hi) if ok and hi is not None else "",
                int(bool(ok and cell.best)),
                int(ok),
            ]
        w.writerow(line)
    return buf.getvalue()


def _head(columns: list, escape) -> list[str]:
    return [escape(f"{c.name}{f' ({c.unit})' if c.unit else ''}") + f" {c.arrow}" for c in columns]


def _notes(board: Leaderboard) -> list[str]:
    """Plain-text notes under a paper table: set-level metrics, and metrics left out as unavailable everywhere."""
    view = board_view(board)
    notes = []
    if view.set_level:
        notes.append(f"{', '.join(c.name for c in view.set_level)}: one value over the test set (set-level), no CI")
    for u in view.hidden:
        why = "; ".join(reason for reason, _ in u.reasons)
        notes.append(f"{u.column.name} not shown: unavailable for every method ({why})")
    return notes


def _value(cell: Cell | None, ci: bool) -> str | None:
    if cell is None or cell.value is None:
        return None
    text = fmt(cell.value)
    if ci and cell.ci95 and cell.ci95[0] is not None and cell.ci95[1] is not None:
        text += f" [{fmt(cell.ci95[0])}, {fmt(cell.ci95[1])}]"
    return text


def to_markdown(board: Leaderboard, *, ci: bool = True) -> str:
    columns = board_view(board).columns
    lines = [
        f"### {markdown_escape(board.title)}",
        "",
        f"task v{board.task_version}, protocol {board.protocol_version}, {board.n_pairs} pairs, manifest "
        f"`{board.manifest_sha256[:12]}`. Mean over clips"
        + (" [bootstrap 95% CI]" if ci else "")
        + "; **bold** = best; ↑ higher / ↓ lower is better; ≈ = not significantly different from the best"
        " (paired bootstrap, p ≥ 0.05); n/a = unavailable.",
        "",
        "| method | " + " | ".join(_head(columns, markdown_escape)) + " |",
        "| --- |" + " ---: |" * len(columns),
    ]
    for r in board.rows:
        cells = []
        for c in columns:
            cell = r.cells.get(c.name)
            text = _value(cell, ci)
            if text is None:
                cells.append("n/a")
                continue
            if cell is not None and cell.best:
                text = f"**{text}**"
            elif cell is not None and cell.tied_with_best:
                text += " ≈"
            cells.append(text)
        name = markdown_escape(r.method) + (f" (v{markdown_escape(r.version)})" if r.version else "")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    notes = _notes(board)
    if notes:
        lines += [""] + [f"- {markdown_escape(n)}" for n in notes]
    return "\n".join(lines) + "\n"


def to_latex(board: Leaderboard, *, ci: bool = False) -> str:
    """A booktabs table to paste into a paper (needs \\usepackage{booktabs})."""
    columns = board_view(board).columns
    spec = "l" + "r" * len(columns)
    caption = (
        f"{latex_escape(board.dataset)}, {latex_escape(board.task)} (protocol {latex_escape(board.protocol_version)},"
        f" {board.n_pairs} pairs). Mean over clips"
        + (" with bootstrap 95\\% CI" if ci else "")
        + "; best in bold; $\\uparrow$ higher / $\\downarrow$ lower is better."
        + "".join(f" {latex_escape(n)}." for n in _notes(board))
    )
    lines = [
        "% generated by dexbench; requires \\usepackage{booktabs}",
        "\\begin{table}[t]",
        "\\centering",
        f"\\caption{{{caption}}}",
        f"\\label{{tab:{latex_escape(board.slug).replace(chr(92), '')}}}",
        f"\\begin{{tabular}}{{{spec}}}",
        "\\toprule",
        "Method & "
        + " & ".join(
            latex_escape(c.name + (f" ({c.unit})" if c.unit else ""))
            + (" $\\uparrow$" if c.higher_is_better else " $\\downarrow$")
            for c in columns
        )
        + " \\\\",
        "\\midrule",
    ]
    for r in board.rows:
        cells = []
        for c in columns:
            cell = r.cells.get(c.name)
            if cell is None or cell.value is None:
                cells.append("--")
                continue
            text = fmt(cell.value)
            if cell.best:
                text = f"\\textbf{{{text}}}"
            if ci and cell.ci95 and cell.ci95[0] is not None and cell.ci95[1] is not None:
                text += f" {{\\scriptsize [{fmt(cell.ci95[0])}, {fmt(cell.ci95[1])}]}}"
            cells.append(text.replace("–", "--"))
        lines.append(latex_escape(r.method) + " & " + " & ".join(cells) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}", "\\end{table}"]
    return "\n".join(lines) + "\n"


def write_exports(boards: list[Leaderboard], out_dir: str | Path) -> list[dict[str, str]]:
    """exports/<dataset>__<task>.{csv,json,md,tex} (+ _ci.tex) and all.{json,md}; returns the file list per board."""
    folder = Path(out_dir) / "exports"
    listing = []
    for b in boards:
        files = {
            "csv": (f"{b.slug}.csv", to_csv(b)),
            "json": (f"{b.slug}.json", to_json(b)),
            "md": (f"{b.slug}.md", to_markdown(b)),
            "tex": (f"{b.slug}.tex", to_latex(b, ci=False)),
            "tex (CI)": (f"{b.slug}_ci.tex", to_latex(b, ci=True)),
        }
        for name, text in files.values():
            write_text(folder / name, text)
        listing.append({"board": b.slug, **{k: f"exports/{v[0]}" for k, v in files.items()}})
    write_text(folder / "all.json", dumps_json([board_records(b) for b in boards]))
    write_text(folder / "all.md", "\n".join(to_markdown(b) for b in boards))
    return listing


# --- published numbers: their own files, never merged into a leaderboard table -------------------------------------

PUBLISHED_WARNING = (
    "Copied from papers, not reproduced by dexbench; measured on the papers' own test sets with their own metric "
    "extractors, so not comparable with dexbench leaderboard rows. Each source states how far its transcription "
    "has been checked."
)


def published_records(papers: list[PublishedPaper]) -> dict[str, Any]:
    return {
        "warning": PUBLISHED_WARNING,
        "sources": [
            {
                "key": p.key,
                "citation": {"authors": p.authors, "title": p.title, "venue": p.venue, "year": p.year, "url": p.url,
                             "table": p.table},
                "status": p.status,
                "test_set": p.test_set,
                "metrics": {m.name: {"higher_is_better": m.higher_is_better, "definition": m.definition}
                            for m in p.metrics},
                "tables": [
                    {
                        "setting": t.setting, "definition": t.definition, "dexbench_task": t.dexbench_task,
                        "kind": t.kind,
                        "rows": [{"method": e.method, "values": e.values, "note": e.note} for e in t.entries],
                    }
                    for t in p.tables
                ],
            }
            for p in papers
        ],
    }  # fmt: skip


def published_csv(papers: list[PublishedPaper]) -> str:
    """One line per paper x setting x method; metric columns are the union, in each paper's order."""
    names: list[str] = []
    for p in papers:
        names += [m.name for m in p.metrics if m.name not in names]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["source", "setting", "dexbench_task", "kind", "method", *names, "note", "status", "url"])
    for p in papers:
        for t in p.tables:
            for e in t.entries:
                w.writerow(
                    [csv_safe(p.key), csv_safe(t.setting), t.dexbench_task or "", t.kind, csv_safe(e.method)]
                    + [repr(e.values[n]) if n in e.values else "" for n in names]
                    + [csv_safe(e.note), csv_safe(p.status), p.url]
                )
    return buf.getvalue()


def published_markdown(papers: list[PublishedPaper]) -> str:
    lines = ["## Published numbers (not reproduced)", "", f"_{PUBLISHED_WARNING}_", ""]
    for p in papers:
        lines += [
            f"### {markdown_escape(p.citation)}",
            "",
            f"{markdown_escape(p.table)}; test set: {markdown_escape(p.test_set)}. "
            f"**Status: {markdown_escape(p.status)}.**" + (f" <{p.url}>" if p.url else ""),
            "",
        ]
        for t in p.tables:
            task = f"dexbench task {t.dexbench_task}" if t.dexbench_task else "no dexbench counterpart"
            lines += [
                f"#### {markdown_escape(t.setting)}: {markdown_escape(t.kind_title)} ({markdown_escape(task)})",
                "",
                "| method | "
                + " | ".join(f"{markdown_escape(m.name)} {m.arrow}".strip() for m in t.metrics)
                + " | note |",
                "| --- |" + " ---: |" * len(t.metrics) + " --- |",
            ]
            for e in t.entries:
                vals = [f"{e.values[m.name]:g}" if m.name in e.values else "–" for m in t.metrics]
                lines.append(f"| {markdown_escape(e.method)} | " + " | ".join(vals) + f" | {markdown_escape(e.note)} |")
            lines.append("")
    return "\n".join(lines)


def published_latex(papers: list[PublishedPaper]) -> str:
    """One booktabs table per paper and setting (main rows, then ablations below a rule); nothing in bold."""
    out = ["% generated by dexbench; requires \\usepackage{booktabs}", f"% {PUBLISHED_WARNING}"]
    for p in papers:
        for setting in dict.fromkeys(t.setting for t in p.tables):
            tables = [t for t in p.tables if t.setting == setting]
            metrics = [m for m in p.metrics if any(m in t.metrics for t in tables)]
            task = f"dexbench task {tables[0].dexbench_task}" if tables[0].dexbench_task else "no dexbench counterpart"
            caption = (
                f"Published numbers copied from {latex_escape(p.authors)}, {latex_escape(p.venue)} "
                f"({latex_escape(p.table)}), setting {latex_escape(setting)} ({latex_escape(task)}); not reproduced, "
                f"not comparable with dexbench results. Status: {latex_escape(p.status)}."
            )
            out += [
                "\\begin{table}[t]",
                "\\centering",
                f"\\caption{{{caption}}}",
                f"\\begin{{tabular}}{{l{'r' * len(metrics)}}}",
                "\\toprule",
                "Method & "
                + " & ".join(
                    latex_escape(m.name)
                    + (
                        ""
                        if m.higher_is_better is None
                        else (" $\\uparrow$" if m.higher_is_better else " $\\downarrow$")
                    )
                    for m in metrics
                )
                + " \\\\",
            ]
            for t in tables:
                out.append("\\midrule")
                for e in t.entries:
                    vals = [f"{e.values[m.name]:g}" if m.name in e.values else "--" for m in metrics]
                    out.append(latex_escape(e.method) + " & " + " & ".join(vals) + " \\\\")
            out += ["\\bottomrule", "\\end{tabular}", "\\end{table}", ""]
    return "\n".join(out)


def write_published_exports(papers: list[PublishedPaper], out_dir: str | Path) -> dict[str, str]:
    """exports/published.{csv,json,md,tex}; {} when there are no published numbers."""
    if not papers:
        return {}
    folder = Path(out_dir) / "exports"
    files = {
        "csv": ("published.csv", published_csv(papers)),
        "json": ("published.json", dumps_json(published_records(papers))),
        "md": ("published.md", published_markdown(papers)),
        "tex": ("published.tex", published_latex(papers)),
    }
    for name, text in files.values():
        write_text(folder / name, text)
    return {k: f"exports/{v[0]}" for k, v in files.items()}

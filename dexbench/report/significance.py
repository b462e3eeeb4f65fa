"""Which rows of a leaderboard column are statistically tied with the best one (paired bootstrap over clips).

Two methods evaluated on the same manifest score the same pairs, so their per-clip values are paired: the test
resamples pairs, not each method separately. The project's `dexbench.metrics.paired.paired_bootstrap` is used when
it exists; until then a local implementation of the same contract stands in (its name is recorded in the report).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from dexbench.report.collect import Leaderboard

ALPHA = 0.05


@dataclass(frozen=True)
class PairedDifference:
    """mean(a - b) with a percentile bootstrap CI and a two-sided bootstrap p-value."""

    diff: float
    ci_low: float
    ci_high: float
    p_value: float
    n: int

    @property
    def significant(self) -> bool:
        return self.p_value < ALPHA


def local_paired_bootstrap(
    a: np.ndarray, b: np.ndarray, *, higher_is_better: bool, n_resamples: int = 1000, seed: int = 0
) -> PairedDifference:
    """Paired percentile bootstrap of mean(a - b) over clips (pairs with a non-finite value in either are dropped)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    keep = np.isfinite(a) & np.isfinite(b)
    d = a[keep] - b[keep]
    if not higher_is_better:
        d = -d  # positive = a better, so the sign reads the same for every metric
    n = len(d)
    if n == 0:
        return PairedDifference(float("nan"), float("nan"), float("nan"), 1.0, 0)
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, n, size=(n_resamples, n))].mean(axis=1)
    lo, hi = np.quantile(means, [ALPHA / 2, 1 - ALPHA / 2])
    # two-sided: how often the resampled mean falls on the other side of zero (zero-width spread = identical)
    p = 1.0 if np.all(means == 0) else min(1.0, 2 * min(float(np.mean(means <= 0)), float(np.mean(means >= 0))))
    return PairedDifference(float(d.mean()), float(lo), float(hi), p, n)


def paired_test() -> tuple[Callable[..., Any], str]:
    """The paired bootstrap to use, and its qualified name for the report's provenance."""
    try:
        from dexbench.metrics.paired import paired_bootstrap
    except ImportError:
        return local_paired_bootstrap, "dexbench.report.significance.local_paired_bootstrap"
    return paired_bootstrap, "dexbench.metrics.paired.paired_bootstrap"


def _read(result: Any, name: str, default: Any = None) -> Any:
    if isinstance(result, dict):
        return result.get(name, default)
    return getattr(result, name, default)


def verdict(result: Any) -> tuple[bool, float | None]:
    """(significant, p-value) from a paired-bootstrap result, whatever shape it has (object or mapping)."""
    p = _read(result, "p_value")
    p = float(p) if p is not None and np.isfinite(p) else None
    sig = _read(result, "significant")
    if sig is not None:
        return bool(sig), p
    lo, hi = _read(result, "ci_low"), _read(result, "ci_high")
    ci = _read(result, "ci95")
    if lo is None and ci is not None:
        lo, hi = ci
    if lo is not None and hi is not None and np.isfinite(lo) and np.isfinite(hi):
        return not (lo <= 0.0 <= hi), p
    return (p is not None and p < ALPHA), p


def mark_ties(boards: list[Leaderboard], *, n_resamples: int = 1000, seed: int = 0) -> str:
    """Set `tied_with_best` and `p_value` on every comparable cell that has per-clip values; returns the test used."""
    test, name = paired_test()
    for board in boards:
        for col in board.columns:
            if not col.comparable:
                continue
            best = [r for r in board.rows if r.cells.get(col.name) is not None and r.cells[col.name].best]
            if len(best) != 1 or best[0].result is None:
                continue
            best_row = best[0]
            best_table = best_row.result.per_clip(board.task)
            if best_table is None or col.name not in best_table or "pair_id" not in best_table:
                continue
            ref = best_table.set_index("pair_id")[col.name]
            for row in board.rows:
                cell = row.cells.get(col.name)
                if row is best_row or cell is None or cell.value is None or row.result is None:
                    continue
                table = row.result.per_clip(board.task)
                if table is None or col.name not in table or "pair_id" not in table:
                    continue
                other = table.set_index("pair_id")[col.name]
                common = ref.index.intersection(other.index)
                if len(common) < 2:
                    continue
                res = test(
                    ref.loc[common].to_numpy(np.float64),
                    other.loc[common].to_numpy(np.float64),
                    higher_is_better=col.higher_is_better,
                    n_resamples=n_resamples,
                    seed=seed,
                )
                significant, p = verdict(res)
                cell.tied_with_best = not significant
                cell.p_value = p
    return name

"""Getis-Ord Gi* over hexagon cells, vectorised, with Benjamini-Hochberg classes.

Weights are binary: each cell with its (up to) six neighbours among the analysed cells,
the cell itself included (w_ii = 1). With x the counts of the n cells, x̄ their mean,
S = sqrt(Σx²/n - x̄²), W_i = Σ_j w_ij (= Σ_j w_ij², weights being 0/1):

    z_i = (Σ_j w_ij x_j - x̄ W_i) / (S sqrt((n W_i - W_i²) / (n - 1)))

(Getis and Ord 1992; Ord and Getis 1995), the analytical z that esda's
G_Local(star=True, transform="B") reports; tests check they agree to 1e-9. The p-value
is two-sided under the normal approximation. Each confidence level (90, 95, 99 %) gets
its own Benjamini-Hochberg false-discovery-rate threshold over all cells, and a cell is
classed by the highest level it passes and the sign of its z.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from patrolmap.analysis.hexgrid import neighbour_pairs

LEVELS = ((0.99, "99"), (0.95, "95"), (0.90, "90"))
CLASSES = ("hot_99", "hot_95", "hot_90", "not_significant", "cold_90", "cold_95", "cold_99")


@dataclass(frozen=True)
class GiStar:
    z: np.ndarray
    p_value: np.ndarray
    classes: np.ndarray  # of str, one of CLASSES
    weights_sum: np.ndarray  # W_i: the cell and its analysed neighbours


def gi_star_z(counts: np.ndarray, i: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gi* z-scores for values `counts` with binary neighbour pairs (i, j), i != j; self-weights added here.

    Returns (z, W_i). Where the statistic is undefined (all values equal, or a cell whose
    neighbourhood is every cell) z is 0.
    """
    x = np.asarray(counts, dtype=float)
    n = len(x)
    if n == 0:
        return np.zeros(0), np.zeros(0)
    lag = x + np.bincount(i, weights=x[j], minlength=n)
    w = 1.0 + np.bincount(i, minlength=n).astype(float)
    mean = x.mean()
    s = np.sqrt(max((x * x).mean() - mean * mean, 0.0))
    z = np.zeros(n)
    if n < 2 or s <= 1e-12 * max(1.0, abs(mean)):
        return z, w
    spread = (n * w - w * w) / (n - 1)
    ok = spread > 0
    z[ok] = (lag[ok] - mean * w[ok]) / (s * np.sqrt(spread[ok]))
    return z, w


def two_sided_p(z: np.ndarray) -> np.ndarray:
    return 2.0 * stats.norm.sf(np.abs(z))


def bh_significant(p: np.ndarray, alpha: float) -> np.ndarray:
    """Benjamini-Hochberg: which p-values are discoveries at false-discovery rate alpha."""
    m = len(p)
    if m == 0:
        return np.zeros(0, dtype=bool)
    order = np.argsort(p, kind="stable")
    ranked = p[order]
    passed = ranked <= alpha * np.arange(1, m + 1) / m
    if not passed.any():
        return np.zeros(m, dtype=bool)
    threshold = ranked[np.nonzero(passed)[0].max()]
    return p <= threshold


def classify(z: np.ndarray, p: np.ndarray, *, fdr: bool = True) -> np.ndarray:
    """hot_99 ... cold_99 per cell: the highest confidence level passed (after BH when fdr), by z's sign."""
    classes = np.full(len(z), "not_significant", dtype=object)
    for confidence, label in reversed(LEVELS):  # 90, then 95, then 99 overwrite
        alpha = 1.0 - confidence
        significant = bh_significant(p, alpha) if fdr else p <= alpha
        classes[significant & (z > 0)] = f"hot_{label}"
        classes[significant & (z < 0)] = f"cold_{label}"
    return classes


def gi_star(counts: np.ndarray, keys: np.ndarray, *, fdr: bool = True) -> GiStar:
    """Gi* over cells given by sorted distinct cell keys (patrolmap.analysis.hexgrid) and their counts."""
    i, j = neighbour_pairs(keys)
    z, w = gi_star_z(counts, i, j)
    p = two_sided_p(z)
    return GiStar(z, p, classify(z, p, fdr=fdr), w)

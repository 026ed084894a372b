"""Gi* against esda on the same weights, Benjamini-Hochberg against scipy, and the classes."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from patrolmap.analysis.gistar import bh_significant, classify, gi_star, gi_star_z, two_sided_p
from patrolmap.analysis.hexgrid import HexGrid, cell_keys, neighbour_pairs


def _cells(seed: int, n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """A ragged set of cells (holes and islands included) with clustered counts."""
    rng = np.random.default_rng(seed)
    q, r = rng.integers(-15, 15, n), rng.integers(-15, 15, n)
    keys = np.unique(cell_keys(q, r))
    counts = rng.poisson(3, len(keys)).astype(float)
    counts[: len(keys) // 20] += rng.poisson(25, len(keys) // 20)
    return keys, counts


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_z_scores_equal_esda_g_local_star(seed: int) -> None:
    esda = pytest.importorskip("esda")
    libpysal = pytest.importorskip("libpysal")
    keys, counts = _cells(seed)
    i, j = neighbour_pairs(keys)
    ours, w = gi_star_z(counts, i, j)
    # The same binary weights, the cell itself included (w_ii = 1), as esda's Gi* wants them.
    neighbours = {n: [n, *j[i == n].tolist()] for n in range(len(keys))}
    weights = libpysal.weights.W(neighbours, silence_warnings=True)
    theirs = esda.G_Local(counts, weights, transform="B", star=True, permutations=0)
    assert np.abs(theirs.Zs - ours).max() < 1e-9
    assert np.allclose(w, np.asarray(theirs.w.sparse.sum(axis=1)).ravel())
    # esda's p_norm is one-sided; ours is two-sided.
    assert np.allclose(two_sided_p(ours), 2 * theirs.p_norm)


def test_benjamini_hochberg_equals_scipy() -> None:
    rng = np.random.default_rng(5)
    p = np.concatenate([rng.uniform(0, 1, 900), rng.uniform(0, 0.002, 100)])
    adjusted = stats.false_discovery_control(p, method="bh")
    for alpha in (0.01, 0.05, 0.10):
        assert (bh_significant(p, alpha) == (adjusted <= alpha)).all()
    assert bh_significant(np.array([]), 0.05).tolist() == []
    assert not bh_significant(np.array([0.5, 0.9]), 0.05).any()


def test_classes_follow_the_highest_level_passed_and_the_sign() -> None:
    z = np.array([4.0, 2.2, 1.7, 0.1, -1.7, -2.2, -4.0])
    p = two_sided_p(z)
    assert classify(z, p, fdr=False).tolist() == [
        "hot_99", "hot_95", "hot_90", "not_significant", "cold_90", "cold_95", "cold_99"]
    # With the FDR correction the weaker ones need more: 7 tests, so BH thresholds are stricter.
    corrected = classify(z, p).tolist()
    assert corrected[0] == "hot_99" and corrected[-1] == "cold_99" and corrected[3] == "not_significant"


def test_constant_or_tiny_data_is_not_significant() -> None:
    keys = np.sort(cell_keys(np.arange(10), np.zeros(10, int)))
    flat = gi_star(np.full(10, 4.0), keys)
    assert (flat.z == 0).all() and (flat.classes == "not_significant").all()
    single = gi_star(np.array([5.0]), keys[:1])
    assert single.classes.tolist() == ["not_significant"]
    assert gi_star(np.zeros(0), keys[:0]).z.size == 0


def test_a_dense_cell_and_its_ring_are_hot() -> None:
    grid = HexGrid(50, (116.35, 40.0))
    q, r = grid.cells_in_box((-1000, -1000, 1000, 1000))
    keys = np.sort(cell_keys(q, r))
    counts = np.random.default_rng(2).poisson(2, len(keys)).astype(float)
    centre = np.searchsorted(keys, cell_keys(np.array([0]), np.array([0])))[0]
    counts[centre] += 60
    result = gi_star(counts, keys)
    assert result.classes[centre] == "hot_99"

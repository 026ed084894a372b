"""New sites: exact MILP against brute force, greedy with an honest gap, fixed chargers, exclusions, penalties."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import sparse

from patrolmap.placement.distances import WalkingDistances, walking_distances
from patrolmap.placement.mclp import (
    exact_max_cover,
    exact_min_sites,
    fewest_sites,
    greedy_max_cover,
    greedy_min_sites,
    suggest_sites,
)
from patrolmap.routing.network import build_network
from tests.placement.helpers import brute_max_cover, brute_min_sites, on_grid, points
from tests.routing.helpers import PROJ, grid_lines, layer


def random_instance(seed: int, n: int = 12, m: int = 30, density: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.random((n, m)) < density
    w = rng.integers(1, 50, m).astype(float)
    return a, w


def sets_of(a: np.ndarray) -> list[set[int]]:
    return [set(np.flatnonzero(row).tolist()) for row in a]


def test_greedy_trap_exact_finds_the_optimum_and_greedy_reports_its_gap() -> None:
    # S0 covers four unit demands; S1 and S2 each cover two of them plus one of weight 1.5 on its own
    a = np.array([[1, 1, 1, 1, 0, 0], [1, 1, 0, 0, 1, 0], [0, 0, 1, 1, 0, 1]], dtype=bool)
    w = np.array([1, 1, 1, 1, 1.5, 1.5])
    exact = exact_max_cover(a, w, 2)
    assert sorted(exact.chosen) == [1, 2] and exact.value == pytest.approx(7.0)
    assert exact.optimal and exact.gap == 0.0
    greedy = greedy_max_cover(a, w, 2, improve=False)
    assert greedy.method == "greedy" and greedy.chosen == [0, 1] and greedy.value == pytest.approx(5.5)
    assert not greedy.optimal
    assert greedy.bound >= 7.0 - 1e-9  # a true upper bound on the optimum
    assert greedy.gap == pytest.approx((greedy.bound - 5.5) / greedy.bound)
    assert greedy.gap >= (7.0 - 5.5) / 7.0 - 1e-9
    # the online and Lagrangian bounds alone (no LP) are still valid
    assert greedy_max_cover(a, w, 2, improve=False, lp_bound=False).bound >= 7.0 - 1e-9
    # the heuristic's swap search gets out of the trap, and the bound proves it
    swapped = greedy_max_cover(a, w, 2)
    assert swapped.method == "heuristic" and sorted(swapped.chosen) == [1, 2]
    assert swapped.optimal and swapped.gap == 0.0


@pytest.mark.parametrize("seed", range(8))
def test_exact_equals_brute_force_and_greedy_never_beats_it(seed: int) -> None:
    a, w = random_instance(seed)
    rng = np.random.default_rng(100 + seed)
    penalty = rng.uniform(0, 30, len(a)) if seed % 2 else None
    for k in (1, 2, 3, 4):
        best, _ = brute_max_cover(sets_of(a), w, k, penalty)
        exact = exact_max_cover(a, w, k, penalty)
        assert exact.value == pytest.approx(best, abs=1e-6)
        assert len(exact.chosen) <= k and exact.optimal
        for improve, lp in itertools.product((False, True), (False, True)):
            greedy = greedy_max_cover(a, w, k, penalty, improve=improve, lp_bound=lp)
            assert greedy.value <= best + 1e-6
            assert greedy.bound >= best - 1e-6  # online, Lagrangian and LP bounds are all valid
            assert greedy.gap == pytest.approx(max(0.0, (greedy.bound - greedy.value) / greedy.bound), abs=1e-12)
            if greedy.optimal:
                assert greedy.value == pytest.approx(best, abs=1e-6)


@pytest.mark.parametrize("seed", range(6))
def test_fewest_sites_equal_brute_force_greedy_is_never_fewer(seed: int) -> None:
    a, w = random_instance(seed, n=11, m=25, density=0.18)
    reach = float(w[a.any(axis=0)].sum())
    for frac in (0.3, 0.6, 0.9, 1.0):
        needed = frac * reach
        best = brute_min_sites(sets_of(a), w, needed)
        exact = exact_min_sites(a, w, needed)
        assert len(exact.chosen) == best and exact.optimal
        assert w[a[exact.chosen].any(axis=0)].sum() >= needed - 1e-6
        for improve in (False, True):
            greedy = greedy_min_sites(a, w, needed, improve=improve)
            assert len(greedy.chosen) >= best
            assert greedy.bound <= best  # a true lower bound
            assert w[a[greedy.chosen].any(axis=0)].sum() >= needed - 1e-6
            assert greedy.optimal == (greedy.bound == len(greedy.chosen))


def grid_problem(seed: int = 11, n_cand: int = 13) -> tuple[WalkingDistances, np.ndarray]:
    """7 x 7 grid of 100 m blocks, 40 weighted demand points, 2 existing chargers, n_cand candidates, 250 m."""
    rng = np.random.default_rng(seed)
    net = build_network(layer(grid_lines(7)), projection=PROJ)
    demand = points(on_grid(rng, 40, 7), "d")
    chargers = points([(0.0, 0.0), (600.0, 600.0)], "c")
    cands = points(on_grid(rng, n_cand, 7), "k")
    dist = walking_distances(net, demand, chargers, cands, 250.0)
    return dist, rng.integers(1, 100, 40).astype(float)


def brute_on(dist: WalkingDistances, w: np.ndarray, k: int, *, allowed: list[int] | None = None,
             penalty: dict[int, float] | None = None) -> float:
    within = dist.within().toarray()
    base = set(np.flatnonzero(within[dist.fixed].any(axis=0)).tolist())
    cands = allowed if allowed is not None else list(np.flatnonzero(~dist.fixed))
    sets = [set(np.flatnonzero(within[s]).tolist()) for s in cands]
    pen = [(penalty or {}).get(s, 0.0) for s in cands]
    return brute_max_cover(sets, w, k, pen, base)[0]


def test_suggest_sites_matches_brute_force_and_keeps_existing_chargers() -> None:
    dist, w = grid_problem()
    within = dist.within().toarray()
    greedy_short = []
    for k in (1, 2, 3, 4):
        best = brute_on(dist, w, k)
        exact = suggest_sites(dist, w, k, method="exact")
        greedy = suggest_sites(dist, w, k, method="greedy")
        assert exact.method == "exact" and greedy.method == "greedy"
        assert exact.objective == pytest.approx(best)
        assert exact.after.covered_weight - exact.before.covered_weight == pytest.approx(best)
        assert greedy.objective <= best + 1e-9 and greedy.bound >= best - 1e-9
        greedy_short.append(greedy.objective < best - 1e-9)
        assert greedy.optimal == (not greedy_short[-1])  # the LP bound proves it whenever greedy is optimal here
        heuristic = suggest_sites(dist, w, k, method="heuristic")
        assert heuristic.method == "heuristic" and heuristic.objective == pytest.approx(best)  # closes k = 4
        assert heuristic.optimal and heuristic.gap == pytest.approx(0.0, abs=1e-9)
        for s in (exact, greedy):
            chosen = [c.index for c in s.chosen]
            assert not dist.fixed[chosen].any()  # existing chargers are never "chosen", moved or dropped
            assert set(np.flatnonzero(dist.fixed)) <= set(s.after.sites.tolist())
            assert np.all(s.after.covered >= s.before.covered)  # what was covered stays covered
            # newly covered per site: disjoint, outside the existing coverage, adding up to the gain
            new = [i for c in s.chosen for i in c.newly_covered]
            assert len(new) == len(set(new)) and not s.before.covered[new].any()
            assert sum(c.newly_covered_weight for c in s.chosen) == pytest.approx(
                s.after.covered_weight - s.before.covered_weight)
            for c in s.chosen:
                assert within[c.index, c.newly_covered].all()
            gains = [c.newly_covered_weight for c in s.chosen]
            assert [c.order for c in s.chosen] == list(range(1, len(chosen) + 1))
            assert gains[0] == max(gains)
    assert greedy_short == [False, False, False, True]  # k = 4: greedy 1,654 against 1,723
    assert exact.before.share == pytest.approx(w[within[dist.fixed].any(axis=0)].sum() / w.sum())


def test_exclusions_are_respected_and_cost_what_brute_force_says() -> None:
    dist, w = grid_problem()
    top = suggest_sites(dist, w, 2, method="exact")
    banned = [c.id for c in top.chosen]
    again = suggest_sites(dist, w, 2, method="exact", exclude=banned)
    assert not {c.id for c in again.chosen} & set(banned)
    allowed = [s for s in np.flatnonzero(~dist.fixed) if dist.site_ids[s] not in banned]
    assert again.objective == pytest.approx(brute_on(dist, w, 2, allowed=allowed))
    greedy = suggest_sites(dist, w, 2, method="greedy", exclude=banned)
    assert not {c.id for c in greedy.chosen} & set(banned)
    with pytest.raises(ValueError, match="existing charger"):
        suggest_sites(dist, w, 2, exclude=["c0"])
    with pytest.raises(ValueError, match="unknown"):
        suggest_sites(dist, w, 2, exclude=["nowhere"])


def test_penalties_are_subtracted_per_chosen_site() -> None:
    dist, w = grid_problem()
    top = suggest_sites(dist, w, 1, method="exact")
    first = top.chosen[0]
    penalty = {first.id: first.newly_covered_weight}  # its whole gain: now worth nothing
    pen = suggest_sites(dist, w, 1, method="exact", penalty=penalty)
    assert pen.chosen[0].id != first.id
    assert pen.objective == pytest.approx(brute_on(dist, w, 1, penalty={first.index: first.newly_covered_weight}))
    # a penalty above every gain: nothing is worth building
    none = suggest_sites(dist, w, 3, method="exact", penalty=10_000.0)
    assert none.chosen == [] and none.after.covered_weight == pytest.approx(none.before.covered_weight)
    assert suggest_sites(dist, w, 3, method="greedy", penalty=10_000.0).chosen == []


def test_fewest_sites_on_walking_distances_match_brute_force() -> None:
    dist, w = grid_problem()
    within = dist.within().toarray()
    base = set(np.flatnonzero(within[dist.fixed].any(axis=0)).tolist())
    cands = list(np.flatnonzero(~dist.fixed))
    sets = [set(np.flatnonzero(within[s]).tolist()) for s in cands]
    total = w.sum()
    before = w[list(base)].sum()
    reachable = w[list(set().union(*sets) | base)].sum()
    for share in (before / total - 0.01, (before + reachable) / 2 / total, reachable / total):
        best = brute_min_sites(sets, w, share * total - before, base)
        exact = fewest_sites(dist, w, share, method="exact")
        assert len(exact.chosen) == best and exact.target_reached and exact.after.share >= share - 1e-9
        for method in ("greedy", "heuristic"):
            greedy = fewest_sites(dist, w, share, method=method)
            assert greedy.method == method and greedy.after.share >= share - 1e-9
            assert len(greedy.chosen) >= best and greedy.bound <= best
    out_of_reach = fewest_sites(dist, w, 1.0, method="exact")
    if reachable < total:
        assert not out_of_reach.target_reached and "out of reach" in out_of_reach.note
        assert out_of_reach.after.share == pytest.approx(reachable / total)


def test_auto_switches_to_greedy_above_the_size_threshold() -> None:
    dist, w = grid_problem()
    small = suggest_sites(dist, w, 3)
    assert small.method == "exact" and small.gap == 0.0 and small.optimal
    big = suggest_sites(dist, w, 3, exact_max_nonzeros=0)
    assert big.method == "heuristic" and big.gap is not None
    assert big.objective <= small.objective + 1e-9 and big.bound >= small.objective - 1e-9
    assert suggest_sites(dist, w, 0).chosen == []


def test_model_only_holds_uncovered_demand_and_useful_candidates() -> None:
    dist, w = grid_problem()
    s = suggest_sites(dist, w, 2)
    within = dist.within().toarray()
    open_ = ~within[dist.fixed].any(axis=0)
    assert s.model["uncovered_demand"] == int(open_.sum())
    useful = {tuple(np.flatnonzero(within[j] & open_)) for j in np.flatnonzero(~dist.fixed)} - {()}
    assert s.model["candidates"] == len(useful)  # identical candidates merged
    assert s.model["demand_groups"] <= s.model["uncovered_demand"]


def test_sparse_and_dense_inputs_agree() -> None:
    a, w = random_instance(42, n=10, m=20)
    for k in (2, 3):
        assert exact_max_cover(sparse.csr_array(a), w, k).value == pytest.approx(exact_max_cover(a, w, k).value)
    assert greedy_max_cover(a, w, 2).chosen == greedy_max_cover(sparse.csr_array(a), w, 2).chosen


def test_fewest_sites_heuristic_drops_the_greedy_first_pick_when_no_longer_needed() -> None:
    # C covers 1-4, A covers 0-2, B covers 3-5: greedy takes C, then A and B, which alone cover everything
    a = np.array([[0, 1, 1, 1, 1, 0], [1, 1, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1]], dtype=bool)
    w = np.ones(6)
    plain = greedy_min_sites(a, w, 6.0, improve=False)
    assert plain.method == "greedy" and plain.chosen == [0, 1, 2] and not plain.optimal
    assert plain.bound == 2.0  # LP: x_A = x_B = 1 is needed for items 0 and 5
    improved = greedy_min_sites(a, w, 6.0)
    assert sorted(improved.chosen) == [1, 2] and improved.optimal and improved.gap == 0.0
    assert sorted(exact_min_sites(a, w, 6.0).chosen) == [1, 2]


def test_fewest_sites_prefer_the_less_penalised_of_equally_few() -> None:
    a = np.array([[1, 1, 0], [1, 1, 0], [0, 0, 1]], dtype=bool)
    w = np.array([1.0, 1.0, 1.0])
    assert exact_min_sites(a, w, 2.0, np.array([5.0, 0.0, 0.0])).chosen == [1]
    assert exact_min_sites(a, w, 2.0, np.array([0.0, 5.0, 0.0])).chosen == [0]
    assert greedy_min_sites(a, w, 2.0, np.array([5.0, 0.0, 0.0])).chosen == [1]

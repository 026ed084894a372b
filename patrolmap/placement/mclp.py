"""Where to put K new chargers (maximal covering, MCLP) and how few reach a target share (set cover).

Why exact first: a planner compares a handful of suggestions and has to trust them; on campus
sizes (hundreds of candidates, thousands of demand points) HiGHS solves the MILP to optimality in
well under a second, so a heuristic is only the fallback for large models, and then its distance
from the optimum is reported, not guessed.

The model (existing chargers are fixed: they are never moved, their coverage is always counted):

* only demand that no existing charger covers and that weighs something enters it, and only
  candidates (not excluded) that cover some of it;
* demand points covered by exactly the same candidates are merged into one (weights summed), and
  candidates covering exactly the same demand keep only the least penalised one;
* ``max Σ w_i y_i − Σ p_j x_j`` s.t. ``y_i ≤ Σ_{j covers i} x_j``, ``Σ x_j ≤ k``, x binary, y in [0, 1]
  (y need not be integer: at an optimum it equals min(1, Σ x) anyway). ``≤ k``: a site that would
  cover nothing new, or less than its penalty, is not forced in;
* penalties ``p_j`` are in demand units (a penalised lot must cover that much more to be chosen);
  excluded candidates are left out.

Methods (the answer says which one produced it, and its gap):

* ``exact``: scipy.optimize.milp (HiGHS), ``mip_rel_gap`` `MIP_REL_GAP`, time limit `EXACT_TIME_LIMIT_S`.
  A MILP stopped by its time limit returns its incumbent (or the heuristic's answer if better) with the
  gap HiGHS proved. HiGHS checks the limit only between phases: the root LP of a very large model can
  overrun it many times over (5 s limit, 31 s on 670,000 pairs), one reason for the threshold below.
* ``heuristic``: lazy (CELF) greedy, then a best-improvement 1-swap local search (add / drop / swap, each
  chosen site's swaps priced for all candidates in one sparse product), restarted from the best solution
  the Lagrangian bound meets, the better kept.
* ``greedy``: the lazy greedy alone, for comparison ((1 - 1/e)-optimal in theory).
* ``auto`` (default): ``exact`` when the merged model has at most `EXACT_MAX_NONZEROS` coverage pairs,
  ``heuristic`` above. Measured on this 2-core machine (benchmarks/placement.py): exact takes 0.2-1 s at
  12,000 pairs, 1-11 s at 62,000 and hits its 10 s limit from 150,000 on (k = 10-30); the heuristic
  0.1-0.5 s up to 150,000 pairs and 1-2 s at 0.7-1.8 million, within 0.4% of the best known answer.

Upper bounds for the heuristics' gap, the smallest of: the greedy online bound (covered weight + the k
largest remaining gains, at every step; free), the Lagrangian bound (relaxing ``y_i ≤ Σ x_j``, deflected
subgradient steps, within ~0.1% of the LP bound; `LAGRANGE_ITERATIONS` / `LAGRANGE_TIME_S`), and the LP
relaxation itself for models up to `LP_BOUND_MAX_NONZEROS` pairs.

The reverse question (`fewest_sites`): fewest new sites so that the covered share reaches a target;
``min Σ x_j`` s.t. ``Σ w_i y_i ≥ needed``, same y constraints; ties between equally small answers go
to the least total penalty (a second MILP with the count fixed). Heuristic: the site covering most
each time, then sites the target no longer needs dropped; its gap against the larger of ceil(LP bound)
and, at every greedy step, the fewest remaining gains that could still reach the target. A target
beyond what all candidates together reach is answered with the fewest sites reaching that maximum,
and ``target_reached`` is False.
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from patrolmap.placement.coverage import Coverage, coverage
from patrolmap.placement.distances import WalkingDistances

Method = Literal["auto", "exact", "heuristic", "greedy"]
METHODS: tuple[str, ...] = ("auto", "exact", "heuristic", "greedy")
EXACT_MAX_NONZEROS = 30_000  # coverage pairs of the merged model solved exactly by "auto" (see benchmarks/placement.py)
LP_BOUND_MAX_NONZEROS = 20_000  # greedy also solves the LP relaxation up to this size (HiGHS' LP grows fast)
MAX_SWAP_PASSES = 100  # local search moves after the greedy (each pass: one sparse product per chosen site)
LAGRANGE_ITERATIONS = 1000  # subgradient steps for the Lagrangian bound (~0.1 s on 60,000 pairs) ...
LAGRANGE_TIME_S = 1.0  # ... or this long, whichever comes first
EXACT_TIME_LIMIT_S = 10.0
MIP_REL_GAP = 1e-6
_TOL = 1e-9


@dataclass
class Solution:
    """A solver's answer on a coverage matrix (rows = candidates)."""

    chosen: list[int]  # row indices
    value: float  # objective: covered weight - penalties (max cover) or number of sites (fewest sites)
    bound: float | None  # upper bound (max cover) / lower bound (fewest sites) on the optimum, None if unknown
    method: str  # "exact", "heuristic" or "greedy"
    optimal: bool
    seconds: float
    note: str = ""

    @property
    def gap(self) -> float | None:
        """Relative distance to the bound: 0 when proven optimal, None when there is no bound."""
        if self.bound is None:
            return None
        if self.method == "exact" and self.optimal:
            return 0.0
        big = max(abs(self.bound), abs(self.value))
        return 0.0 if big <= _TOL else max(0.0, abs(self.bound - self.value) / big)


@dataclass
class ChosenSite:
    index: int  # site index in the WalkingDistances
    id: str
    order: int  # 1 = build first (largest new coverage among the chosen)
    newly_covered: list[int]  # demand indices covered by this site and by no existing or earlier chosen site
    newly_covered_weight: float
    penalty: float


@dataclass
class Suggestion:
    """Answer to "K new sites" (``question="max_coverage"``) or "fewest sites" (``"fewest_sites"``)."""

    question: str
    chosen: list[ChosenSite]
    before: Coverage
    after: Coverage
    method: str  # "exact", "heuristic" or "greedy" (see the module docstring)
    optimal: bool  # proven optimal (for a heuristic: its bound says so)
    gap: float | None
    bound: float | None
    objective: float
    solve_s: float
    k: int | None = None
    target_share: float | None = None
    target_reached: bool = True
    model: dict[str, int] = field(default_factory=dict)  # sizes of the merged model
    note: str = ""

    @property
    def penalty(self) -> float:
        return float(sum(c.penalty for c in self.chosen))


@dataclass
class _Model:
    rows: np.ndarray  # site index of each model row
    a: sparse.csr_array  # bool (rows, groups)
    w: np.ndarray  # weight of each demand group
    p: np.ndarray  # penalty of each row
    sizes: dict[str, int]


# ---------------------------------------------------------------------------------------------- solvers


def _check(a: sparse.csr_array | np.ndarray, w: np.ndarray, p: np.ndarray | None) -> tuple[sparse.csr_array,
                                                                                            np.ndarray, np.ndarray]:
    a = sparse.csr_array(a, dtype=bool)
    w = np.asarray(w, dtype=float)
    p = np.zeros(a.shape[0]) if p is None else np.asarray(p, dtype=float)
    if w.shape != (a.shape[1],) or p.shape != (a.shape[0],):
        raise ValueError("weights must match the columns and penalties the rows of the coverage matrix")
    if (w < 0).any() or (p < 0).any():
        raise ValueError("weights and penalties must not be negative")
    return a, w, p


def _lazy_greedy(a: sparse.csr_array, w: np.ndarray, p: np.ndarray, k: int) -> tuple[list[int], float]:
    """Lazy (CELF) greedy: up to k rows, each time the largest covered weight gain - penalty, while positive.

    Also returns the online bound: for any set S, OPT <= covered(S) + the k largest positive
    (gain - penalty) of the other rows (submodularity); the heap keys are upper bounds on those gains,
    so stale keys keep it valid. Taken at every step.
    """
    n = a.shape[0]
    indptr, indices = a.indptr, a.indices
    covered = np.zeros(a.shape[1], dtype=bool)
    gain = a.astype(float) @ w
    heap = [(-(float(gain[j]) - p[j]), j) for j in range(n)]  # keys: -(upper bound on the current net gain)
    heapq.heapify(heap)
    fresh = np.zeros(n, dtype=np.int64)  # step at which each key was last computed
    chosen: list[int] = []
    covered_w = 0.0
    bound = math.inf
    for step in range(k):
        bound = min(bound, covered_w + sum(max(0.0, -key) for key, _ in heapq.nsmallest(k, heap)))
        while heap and fresh[heap[0][1]] != step:
            j = heap[0][1]
            cols = indices[indptr[j]:indptr[j + 1]]
            heapq.heapreplace(heap, (-(float(w[cols[~covered[cols]]].sum()) - p[j]), j))
            fresh[j] = step
        if not heap or -heap[0][0] <= _TOL:  # nothing left gains more than its penalty
            break
        _, j = heapq.heappop(heap)
        cols = indices[indptr[j]:indptr[j + 1]]
        new = cols[~covered[cols]]
        covered[new] = True
        covered_w += float(w[new].sum())
        chosen.append(j)
    if k > 0:
        bound = min(bound, covered_w + sum(max(0.0, -key) for key, _ in heapq.nsmallest(k, heap)))
    return chosen, bound


def _swap_search(a: sparse.csr_array, w: np.ndarray, p: np.ndarray, k: int, chosen: list[int]) -> list[int]:
    """Best-improvement local search: add (while fewer than k), drop, or swap one chosen row for another.

    The gain of every swap out of `s` is priced at once: groups covered by no chosen row, plus
    those covered by `s` alone, for every candidate row in one sparse product per chosen row.
    """
    chosen = list(chosen)
    n, m = a.shape
    at = a.T.tocsr().astype(np.int64)
    for _ in range(MAX_SWAP_PASSES):
        x = np.zeros(n, dtype=np.int64)
        x[chosen] = 1
        count = at @ x
        value = float(w[count > 0].sum() - p[chosen].sum())
        u0 = np.where(count == 0, w, 0.0)
        u1 = np.where(count == 1, w, 0.0)
        base = a @ u0 - p  # net gain of adding each row
        base[chosen] = -np.inf
        best_delta, move = _TOL * max(1.0, abs(value)), None
        if len(chosen) < k and n > len(chosen):
            c = int(np.argmax(base))
            if base[c] > best_delta:
                best_delta, move = float(base[c]), (None, c)
        for s in chosen:
            cols = a.indices[a.indptr[s]:a.indptr[s + 1]]
            loss = float(u1[cols].sum()) - p[s]  # value lost by dropping s
            if -loss > best_delta:
                best_delta, move = -loss, (s, None)
            v = np.zeros(m)
            v[cols] = u1[cols]
            delta = base + a @ v - loss
            c = int(np.argmax(delta))
            if delta[c] > best_delta:
                best_delta, move = float(delta[c]), (s, c)
        if move is None:
            break
        out, into = move
        if out is not None:
            chosen.remove(out)
        if into is not None:
            chosen.append(into)
    return chosen


def _value(a: sparse.csr_array, w: np.ndarray, p: np.ndarray, chosen: Sequence[int]) -> float:
    if not len(chosen):
        return 0.0
    x = np.zeros(a.shape[0])
    x[list(chosen)] = 1.0
    hit = (a.T.astype(float) @ x) > 0
    return float(w[hit].sum() - p[list(chosen)].sum())


def _lagrangian(a: sparse.csr_array, w: np.ndarray, p: np.ndarray, k: int,
                lower: float) -> tuple[float, list[int], float]:
    """Upper bound on max cover by Lagrangian relaxation of y_i <= Σ a_ij x_j.

    For any λ >= 0, L(λ) = Σ max(0, w_i - λ_i) + the k largest positive (Σ_i a_ij λ_i - p_j) bounds the
    optimum; its minimum equals the LP bound (the subproblem has integral solutions). Minimised by
    deflected subgradient steps (Polyak step towards the best known value, direction = subgradient +
    half the previous one, step factor halved after 20 steps without progress): on the benchmark
    models it ends within 0.1% of the LP bound, and every value on the way is a valid bound. Each step
    costs two sparse products, so it scales where the LP does not. The top-k rows of each step are
    also tried as solutions: returns (bound, best rows, their value).
    """
    n = a.shape[0]
    af, at = a.astype(float), a.T.tocsr().astype(float)
    lam = 0.5 * w
    best_ub, best_rows, best_val = math.inf, [], -math.inf  # best_*: the Lagrangian's own solutions
    theta, stall = 2.0, 0
    previous = np.zeros_like(w)
    kk = min(k, n)
    stop = time.perf_counter() + LAGRANGE_TIME_S
    for _ in range(LAGRANGE_ITERATIONS):
        if time.perf_counter() > stop:
            break
        r = af @ lam - p
        top = np.argpartition(-r, kk - 1)[:kk]
        top = top[r[top] > 0]
        ub = float(np.maximum(0.0, w - lam).sum() + r[top].sum())
        if ub < best_ub - 1e-12 * max(1.0, abs(ub)):
            best_ub, stall = ub, 0
        else:
            stall += 1
            if stall >= 20:
                theta, stall = theta / 2, 0
        x = np.zeros(n)
        x[top] = 1.0
        hit = at @ x
        val = float(w[hit > 0].sum() - p[top].sum())
        if val > best_val:
            best_val, best_rows = val, [int(j) for j in top]
        target = max(lower, best_val)
        if best_ub - target <= 1e-9 * max(1.0, abs(best_ub)) or theta < 1e-5:
            break
        direction = hit - (w > lam) + 0.5 * previous  # subgradient of L at λ, deflected
        previous = direction
        norm = float(direction @ direction)
        if norm == 0:
            break
        lam = np.clip(lam - theta * (ub - target) / norm * direction, 0.0, w)
    return best_ub, best_rows, best_val


def greedy_max_cover(a: sparse.csr_array | np.ndarray, w: np.ndarray, k: int, penalty: np.ndarray | None = None, *,
                     improve: bool = True, lp_bound: bool | None = None) -> Solution:
    """Heuristic for max Σ covered weight − Σ penalty with at most `k` rows, with a proven bound.

    Lazy greedy (method "greedy"); with `improve` (method "heuristic") a 1-swap local search from it and
    from the best solution met by the Lagrangian bound, keeping the better.
    Bound: the smallest of the greedy online bound, the Lagrangian bound and, when `lp_bound`
    (default: models up to `LP_BOUND_MAX_NONZEROS` pairs), the LP relaxation.
    """
    started = time.perf_counter()
    a, w, p = _check(a, w, penalty)
    a.sort_indices()
    k = max(int(k), 0)
    chosen, bound = _lazy_greedy(a, w, p, k)
    value = _value(a, w, p, chosen)
    note = "greedy"
    if improve and chosen:
        chosen = _swap_search(a, w, p, k, chosen)
        value = _value(a, w, p, chosen)
        note = "greedy + swaps"
    if k and a.shape[0] and a.nnz:
        lag, rows, _ = _lagrangian(a, w, p, k, value)
        bound = min(bound, lag)
        if improve and rows and sorted(rows) != sorted(chosen):  # a second start: the best Lagrangian rows
            rows = _swap_search(a, w, p, k, rows)
            if _value(a, w, p, rows) > value + _TOL * max(1.0, abs(value)):
                chosen, value = rows, _value(a, w, p, rows)
                note += " (from the Lagrangian solution)"
    bound_note = "online/Lagrangian bound"
    if lp_bound is None:
        lp_bound = a.nnz <= LP_BOUND_MAX_NONZEROS
    if lp_bound and a.shape[0] and k > 0:
        lp = _lp_max_cover(a, w, p, k)
        if lp is not None and lp < bound:
            bound, bound_note = lp, "LP bound"
    bound = 0.0 if k == 0 else max(bound, value)
    optimal = bound - value <= 1e-9 * max(1.0, abs(bound))
    return Solution(chosen, value, bound, "heuristic" if improve else "greedy", optimal, time.perf_counter() - started,
                    f"{note}; {bound_note}")


def _mc_arrays(a: sparse.csr_array, w: np.ndarray, p: np.ndarray, k: int) -> tuple[np.ndarray, list[LinearConstraint]]:
    n, m = a.shape
    c = np.concatenate([p, -w])  # minimise penalties - covered weight
    link = sparse.hstack([-a.T.astype(float), sparse.identity(m, format="csr")], format="csr")
    budget = sparse.csr_array(np.concatenate([np.ones(n), np.zeros(m)])[None, :])
    return c, [LinearConstraint(link, -np.inf, 0.0), LinearConstraint(budget, -np.inf, float(k))]


def _lp_max_cover(a: sparse.csr_array, w: np.ndarray, p: np.ndarray, k: int) -> float | None:
    c, cons = _mc_arrays(a, w, p, k)
    a_ub = sparse.vstack([cons[0].A, cons[1].A], format="csr")
    b_ub = np.concatenate([np.zeros(a.shape[1]), [float(k)]])
    res = linprog(c, A_ub=a_ub, b_ub=b_ub, bounds=(0, 1), method="highs")
    return float(-res.fun) if res.status == 0 else None


def exact_max_cover(a: sparse.csr_array | np.ndarray, w: np.ndarray, k: int, penalty: np.ndarray | None = None, *,
                    time_limit_s: float = EXACT_TIME_LIMIT_S) -> Solution:
    """MILP (HiGHS) for max Σ covered weight − Σ penalty with at most `k` rows ("optimal": within `MIP_REL_GAP`)."""
    started = time.perf_counter()
    a, w, p = _check(a, w, penalty)
    n, m = a.shape
    if n == 0 or k <= 0:
        return Solution([], 0.0, 0.0, "exact", True, time.perf_counter() - started)
    c, cons = _mc_arrays(a, w, p, k)
    integrality = np.concatenate([np.ones(n), np.zeros(m)])
    res = milp(c, constraints=cons, integrality=integrality, bounds=Bounds(0, 1),
               options={"time_limit": time_limit_s, "mip_rel_gap": MIP_REL_GAP})
    if res.x is None:
        fallback = greedy_max_cover(a, w, k, p)
        fallback.note = f"MILP found no solution ({res.message}); heuristic answer, {fallback.note}"
        fallback.seconds = time.perf_counter() - started
        return fallback
    chosen = [int(j) for j in np.flatnonzero(res.x[:n] > 0.5)]
    value = _value(a, w, p, chosen)
    dual = getattr(res, "mip_dual_bound", None)
    bound = -float(dual) if dual is not None and np.isfinite(dual) else None
    optimal = res.status == 0
    note = "" if optimal else f"MILP stopped: {res.message}"
    if not optimal:
        heuristic = greedy_max_cover(a, w, k, p, lp_bound=False)
        if heuristic.value > value:
            chosen, value, note = heuristic.chosen, heuristic.value, note + "; the heuristic's answer was better"
    if bound is not None:
        bound = max(bound, value)
    return Solution(chosen, value, bound, "exact", optimal, time.perf_counter() - started, note)


def greedy_min_sites(a: sparse.csr_array | np.ndarray, w: np.ndarray, needed: float,
                     penalty: np.ndarray | None = None, *, improve: bool = True,
                     lp_bound: bool | None = None) -> Solution:
    """Greedy for the fewest rows covering at least `needed` weight (largest new coverage first, ties: lower
    penalty); with `improve` (method "heuristic") rows no longer needed are then dropped, most penalised first.

    Lower bound: after i picks covering f(S_i), an optimum of m rows covers at most f(S_i) + the m largest
    remaining gains (submodularity), so m is at least the fewest of those reaching `needed`; the largest such
    m over all steps, and ceil(LP bound) for models up to `LP_BOUND_MAX_NONZEROS` pairs.
    """
    started = time.perf_counter()
    a, w, p = _check(a, w, penalty)
    n = a.shape[0]
    a.sort_indices()
    indptr, indices = a.indptr, a.indices
    gain = a.astype(float) @ w
    covered = np.zeros(a.shape[1], dtype=bool)
    heap = [(-gain[j], p[j], j) for j in range(n)]
    heapq.heapify(heap)
    fresh = np.zeros(n, dtype=np.int64)
    chosen: list[int] = []
    got = 0.0
    step = 0
    lower = 0
    target = needed - _TOL * max(1.0, needed)

    def fewest_reaching() -> int:  # keys are upper bounds on the current gains
        tops = np.cumsum(sorted((-key for key, _, _ in heap), reverse=True))
        return int(np.searchsorted(tops, target - got) + 1)

    while got < target and heap:
        if fresh[heap[0][2]] != step:
            _, pen, j = heap[0]
            cols = indices[indptr[j]:indptr[j + 1]]
            heapq.heapreplace(heap, (-float(w[cols[~covered[cols]]].sum()), pen, j))
            fresh[j] = step
            continue
        lower = max(lower, fewest_reaching())
        key, _, j = heapq.heappop(heap)
        if -key <= _TOL:
            break
        cols = indices[indptr[j]:indptr[j + 1]]
        covered[cols] = True
        got += -key
        chosen.append(j)
        step += 1
    for j in sorted(chosen, key=lambda r: -p[r]) if improve else []:  # drop what the target no longer needs
        rest = [r for r in chosen if r != j]
        if rest and _value(a, w, np.zeros(n), rest) >= target:
            chosen = rest
    note = "bound: remaining gains"
    if lp_bound is None:
        lp_bound = a.nnz <= LP_BOUND_MAX_NONZEROS
    if lp_bound and n and needed > _TOL:
        lp = _lp_min_sites(a, w, needed)
        if lp is not None:
            lower = max(lower, math.ceil(lp - 1e-6))
            note = "bound: LP relaxation and remaining gains"
    lower = min(lower, len(chosen)) if needed > _TOL else 0
    method = "heuristic" if improve else "greedy"
    return Solution(chosen, float(len(chosen)), float(lower), method, lower == len(chosen),
                    time.perf_counter() - started, note)


def _ms_arrays(a: sparse.csr_array, w: np.ndarray, needed: float) -> list[LinearConstraint]:
    n, m = a.shape
    link = sparse.hstack([-a.T.astype(float), sparse.identity(m, format="csr")], format="csr")
    reach = sparse.csr_array(np.concatenate([np.zeros(n), w])[None, :])
    return [LinearConstraint(link, -np.inf, 0.0), LinearConstraint(reach, needed, np.inf)]


def _lp_min_sites(a: sparse.csr_array, w: np.ndarray, needed: float) -> float | None:
    n, m = a.shape
    cons = _ms_arrays(a, w, needed)
    a_ub = sparse.vstack([cons[0].A, -cons[1].A], format="csr")
    b_ub = np.concatenate([np.zeros(m), [-needed]])
    res = linprog(np.concatenate([np.ones(n), np.zeros(m)]), A_ub=a_ub, b_ub=b_ub, bounds=(0, 1), method="highs")
    return float(res.fun) if res.status == 0 else None


def exact_min_sites(a: sparse.csr_array | np.ndarray, w: np.ndarray, needed: float,
                    penalty: np.ndarray | None = None, *, time_limit_s: float = EXACT_TIME_LIMIT_S) -> Solution:
    """MILP (HiGHS): fewest rows covering at least `needed` weight, then the least total penalty among those."""
    started = time.perf_counter()
    a, w, p = _check(a, w, penalty)
    n, m = a.shape
    if needed <= _TOL:
        return Solution([], 0.0, 0.0, "exact", True, time.perf_counter() - started)
    scale = float(w.max()) if m and w.max() > 0 else 1.0  # weights near 1: HiGHS tolerances are absolute
    ws, need = w / scale, needed / scale * (1 - 1e-9)
    cons = _ms_arrays(a, ws, need)
    integrality = np.concatenate([np.ones(n), np.zeros(m)])
    res = milp(np.concatenate([np.ones(n), np.zeros(m)]), constraints=cons, integrality=integrality,
               bounds=Bounds(0, 1), options={"time_limit": time_limit_s, "mip_rel_gap": MIP_REL_GAP})
    if res.x is None:
        fallback = greedy_min_sites(a, w, needed, p)
        fallback.note = f"MILP found no solution ({res.message}); heuristic answer, {fallback.note}"
        fallback.seconds = time.perf_counter() - started
        return fallback
    chosen = [int(j) for j in np.flatnonzero(res.x[:n] > 0.5)]
    optimal = res.status == 0
    note = "" if optimal else f"MILP stopped: {res.message}"
    count = len(chosen)
    if optimal and count and (p[chosen].sum() > 0):  # among the fewest, the least penalised
        fix = LinearConstraint(sparse.csr_array(np.concatenate([np.ones(n), np.zeros(m)])[None, :]), count, count)
        res2 = milp(np.concatenate([p, np.zeros(m)]), constraints=[*cons, fix], integrality=integrality,
                    bounds=Bounds(0, 1), options={"time_limit": time_limit_s, "mip_rel_gap": MIP_REL_GAP})
        if res2.x is not None:
            chosen = [int(j) for j in np.flatnonzero(res2.x[:n] > 0.5)]
    # numerical safety: complete greedily if the rounded answer falls short of the target
    hit = np.asarray(a[chosen].sum(axis=0)).ravel() > 0 if chosen else np.zeros(m, dtype=bool)
    if float(w[hit].sum()) < needed - 1e-7 * max(1.0, needed):
        rest = greedy_min_sites(a[:, ~hit], w[~hit], needed - float(w[hit].sum()), p, lp_bound=False)
        chosen += [j for j in rest.chosen if j not in chosen]
        optimal, note = False, (note + "; completed greedily after rounding").lstrip("; ")
    dual = getattr(res, "mip_dual_bound", None)
    lower = float(math.ceil(dual - 1e-6)) if dual is not None and np.isfinite(dual) else None
    if optimal:
        lower = float(len(chosen))
    return Solution(chosen, float(len(chosen)), lower, "exact", optimal, time.perf_counter() - started, note)


# ------------------------------------------------------------------------------------ on walking distances


def _penalties(dist: WalkingDistances, penalty: float | Mapping[str, float] | None) -> np.ndarray:
    p = np.zeros(len(dist.site_ids))
    if penalty is None:
        return p
    if isinstance(penalty, Mapping):
        index = {s: i for i, s in enumerate(dist.site_ids)}
        for sid, value in penalty.items():
            if sid not in index:
                raise ValueError(f"unknown candidate site {sid!r}")
            p[index[sid]] = float(value)
    else:
        p[~dist.fixed] = float(penalty)
    if (p < 0).any() or not np.isfinite(p).all():
        raise ValueError("penalties must be finite and not negative")
    p[dist.fixed] = 0.0
    return p


def _excluded(dist: WalkingDistances, exclude: Iterable[str]) -> np.ndarray:
    index = {s: i for i, s in enumerate(dist.site_ids)}
    mask = np.zeros(len(dist.site_ids), dtype=bool)
    for sid in exclude:
        if sid not in index:
            raise ValueError(f"unknown candidate site {sid!r}")
        if dist.fixed[index[sid]]:
            raise ValueError(f"{sid!r} is an existing charger: existing chargers are never moved or removed")
        mask[index[sid]] = True
    return mask


def _model(dist: WalkingDistances, w: np.ndarray, before: Coverage, within: sparse.csr_array,
           exclude: np.ndarray, p: np.ndarray) -> _Model:
    open_demand = np.flatnonzero(~before.covered & (w > 0))
    rows = np.flatnonzero(~dist.fixed & ~exclude)
    sub = within[rows][:, open_demand].tocsr() if len(rows) and len(open_demand) else \
        sparse.csr_array((len(rows), len(open_demand)), dtype=bool)
    useful = np.flatnonzero(np.diff(sub.indptr) > 0)
    rows, sub = rows[useful], sub[useful]
    # merge demand columns covered by the same candidates
    csc = sub.tocsc()
    csc.sort_indices()
    groups: dict[bytes, int] = {}
    col_group = np.full(len(open_demand), -1, dtype=np.int64)
    for c in range(csc.shape[1]):
        rs = csc.indices[csc.indptr[c]:csc.indptr[c + 1]]
        if len(rs):
            col_group[c] = groups.setdefault(rs.tobytes(), len(groups))
    keep = col_group >= 0
    gw = np.bincount(col_group[keep], weights=w[open_demand[keep]], minlength=len(groups))
    coo = sub.tocoo()
    a = sparse.csr_array((np.ones(coo.nnz, dtype=bool), (coo.row, col_group[coo.col])),
                         shape=(len(rows), len(groups)))
    a.sum_duplicates()
    a.sort_indices()
    # candidates covering the very same groups: keep the least penalised (then the first)
    best: dict[bytes, int] = {}
    for r in range(a.shape[0]):
        key = a.indices[a.indptr[r]:a.indptr[r + 1]].tobytes()
        if key not in best or p[rows[r]] < p[rows[best[key]]]:
            best[key] = r
    kept = np.array(sorted(best.values()), dtype=np.int64)
    a = a[kept] if len(kept) else sparse.csr_array((0, len(groups)), dtype=bool)
    rows = rows[kept] if len(kept) else rows[:0]
    sizes = {"uncovered_demand": len(open_demand), "demand_groups": len(groups), "candidates": len(rows),
             "nonzeros": int(a.nnz)}
    return _Model(rows, sparse.csr_array(a), gw, p[rows], sizes)


def _report(dist: WalkingDistances, w: np.ndarray, within: sparse.csr_array, before: Coverage,
            chosen_sites: list[int], p: np.ndarray) -> list[ChosenSite]:
    """Chosen sites in build order (largest new coverage first) with the demand each newly covers."""
    covered = before.covered.copy()
    left = list(chosen_sites)
    out: list[ChosenSite] = []
    while left:
        gains = [(float(w[within[[s]].indices[~covered[within[[s]].indices]]].sum()), -p[s], -s) for s in left]
        best = left[int(max(range(len(left)), key=lambda i: gains[i]))]
        cols = within[[best]].indices
        new = cols[~covered[cols]]
        new = new[np.argsort(-w[new], kind="stable")]
        covered[new] = True
        out.append(ChosenSite(int(best), dist.site_ids[best], len(out) + 1, [int(i) for i in new],
                              float(w[new].sum()), float(p[best])))
        left.remove(best)
    return out


def _choose_method(method: str, model: _Model, exact_max_nonzeros: int) -> str:
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, not {method!r}")
    if method == "auto":
        return "exact" if model.a.nnz <= exact_max_nonzeros else "heuristic"
    return method


def suggest_sites(dist: WalkingDistances, weights: Sequence[float] | np.ndarray, k: int, *,
                  walk_m: float | None = None, exclude: Iterable[str] = (),
                  penalty: float | Mapping[str, float] | None = None, method: Method = "auto",
                  time_limit_s: float = EXACT_TIME_LIMIT_S,
                  exact_max_nonzeros: int = EXACT_MAX_NONZEROS) -> Suggestion:
    """The (at most) `k` new sites covering the most demand not covered by the existing chargers.

    `penalty`: demand units subtracted per chosen site, one number for all candidates or per site id.
    `exclude`: candidate ids that must not be chosen. Existing chargers always count, are never moved.
    """
    if k < 0:
        raise ValueError("k must not be negative")
    started = time.perf_counter()
    before = coverage(dist, weights, None, walk_m)
    w = before.weights
    within = dist.within(before.walk_m)
    p = _penalties(dist, penalty)
    model = _model(dist, w, before, within, _excluded(dist, exclude), p)
    use = _choose_method(method, model, exact_max_nonzeros)
    if use == "exact":
        sol = exact_max_cover(model.a, model.w, k, model.p, time_limit_s=time_limit_s)
    else:
        sol = greedy_max_cover(model.a, model.w, k, model.p, improve=use == "heuristic")
    sites = [int(model.rows[j]) for j in sol.chosen]
    chosen = _report(dist, w, within, before, sites, p)
    after = coverage(dist, w, [*np.flatnonzero(dist.fixed).tolist(), *sites], before.walk_m)
    return Suggestion("max_coverage", chosen, before, after, sol.method, sol.optimal, sol.gap, sol.bound, sol.value,
                      time.perf_counter() - started, k=k, model=model.sizes, note=sol.note)


def fewest_sites(dist: WalkingDistances, weights: Sequence[float] | np.ndarray, target_share: float, *,
                 walk_m: float | None = None, exclude: Iterable[str] = (),
                 penalty: float | Mapping[str, float] | None = None, method: Method = "auto",
                 time_limit_s: float = EXACT_TIME_LIMIT_S,
                 exact_max_nonzeros: int = EXACT_MAX_NONZEROS) -> Suggestion:
    """The fewest new sites so that the covered share of all demand (existing chargers included) reaches
    `target_share` (0-1); among equally few, the least penalised. See the module docstring when it cannot."""
    if not 0.0 <= target_share <= 1.0:
        raise ValueError("target_share must lie between 0 and 1")
    started = time.perf_counter()
    before = coverage(dist, weights, None, walk_m)
    w = before.weights
    within = dist.within(before.walk_m)
    p = _penalties(dist, penalty)
    model = _model(dist, w, before, within, _excluded(dist, exclude), p)
    needed = target_share * before.total_weight - before.covered_weight
    reachable = float(model.w.sum())
    reached = needed <= reachable + 1e-9 * max(1.0, before.total_weight)
    needed = min(max(needed, 0.0), reachable)
    use = _choose_method(method, model, exact_max_nonzeros)
    if use == "exact":
        sol = exact_min_sites(model.a, model.w, needed, model.p, time_limit_s=time_limit_s)
    else:
        sol = greedy_min_sites(model.a, model.w, needed, model.p, improve=use == "heuristic")
    sites = [int(model.rows[j]) for j in sol.chosen]
    chosen = _report(dist, w, within, before, sites, p)
    after = coverage(dist, w, [*np.flatnonzero(dist.fixed).tolist(), *sites], before.walk_m)
    note = sol.note if reached else (f"the target is out of reach: all candidates together cover "
                                     f"{after.share:.1%}; these are the fewest sites reaching that. {sol.note}").strip()
    return Suggestion("fewest_sites", chosen, before, after, sol.method, sol.optimal, sol.gap, sol.bound, sol.value,
                      time.perf_counter() - started, target_share=target_share, target_reached=reached,
                      model=model.sizes, note=note)

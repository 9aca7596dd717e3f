"""Planning statistics from distance traces: success rates with Wilson intervals, distances,
steps to success.

An episode succeeds at radius ``r`` when the agent comes within ``r`` px of its goal at some step
of the budget (PLDM ends an episode there; stable-worldmodel counts the environment's ``done``
within the budget). Episodes already within ``r`` at step 0 are not counted in that radius's rate
and are reported as ``solved_at_start``.
"""

from __future__ import annotations

import math

import numpy as np

Z95 = 1.959963984540054  # two-sided 95% normal quantile


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval (lo, hi) of a success rate; (nan, nan) when ``n`` is 0."""
    if n < 0 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n, got {successes} of {n}")
    if n == 0:
        return math.nan, math.nan
    p = successes / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    # exact at the ends (rounding would put lo a hair above 0 at k = 0), and around p always
    lo = 0.0 if successes == 0 else min(p, centre - half)
    hi = 1.0 if successes == n else max(p, centre + half)
    return lo, hi


def rate(dists: np.ndarray, r: float) -> dict[str, float]:
    """Success at radius ``r`` over distances (E, T+1): rate, Wilson bounds, counts, steps."""
    start = dists[:, 0] <= r
    live = dists[~start]
    hit = live[:, 1:] <= r  # (E', T)
    ok = hit.any(1)
    k, n = int(ok.sum()), len(live)
    lo, hi = wilson(k, n)
    first = np.argmax(hit, axis=1) + 1  # first step within r
    return {
        "success": k / n if n else math.nan,
        "success_lo": lo,
        "success_hi": hi,
        "successes": float(k),
        "episodes": float(n),
        "solved_at_start": float(start.sum()),
        "steps_to_success": float(first[ok].mean()) if k else math.nan,
        "success_final": float(np.mean(live[:, -1] <= r)) if n else math.nan,
    }


def summarise(dists: np.ndarray, radius: float, loose_radius: float) -> dict[str, float]:
    """Every per-case number of docs/planning.md from distances (E, T+1)."""
    tight, loose = rate(dists, radius), rate(dists, loose_radius)
    out = dict(tight)
    for key, value in loose.items():
        if key.startswith("success"):
            out[key.replace("success", "success_loose", 1)] = value
    out.update(
        steps_to_success_loose=loose["steps_to_success"],
        solved_at_start_loose=loose["solved_at_start"],
        episodes_loose=loose["episodes"],
        final_dist=float(dists[:, -1].mean()),
        progress=float(np.mean(dists[:, 0] - dists[:, -1])),  # px closer than at the start
        min_dist=float(dists.min(1).mean()),
        initial_dist=float(dists[:, 0].mean()),
    )
    return out

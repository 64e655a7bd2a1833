"""Acquisition scores over a candidate pool and the batch-aware picks (numpy only).

Every score is unit-free: uncertainty and disagreement are divided by each target's scale, so rigidity
(0-1) and crew time (minutes) weigh alike.

- explore: per recipe, the uncertainty of the measured correction (its cross-fitted fold models' spread
  over the spread of the served values, per target; the relative interval width before there is a
  correction), then `coverage_pick`: weighted facility location over the pool, so the picks cover where
  uncertain recipes are, far from every measured or planned recipe;
- verify: a preset's `p_meets` (models.predictive), the recipe most likely to meet it is worth measuring;
- disagreement: mean over targets of the spread of several predictions (ensemble members, or challenger
  and champion) / scale.

`diverse_pick` takes verify's and disagreement's quotas greedily: the best remaining score whose distance
to every recipe already picked (any purpose) is at least `min_distance`, the score discounted while the
recipe is within twice that distance of a pick (max-min flavour: among good candidates, the far ones go first).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

Prediction = Mapping[str, Mapping[str, np.ndarray]]
# Distances are computed in blocks of this many candidates (bounded memory for 20,000 x thousands).
BLOCK = 2048


def standardiser(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean, std) per feature of X, a constant feature's std set to 1 so it never divides by zero."""
    X = np.asarray(X, dtype=float)
    std = X.std(axis=0)
    return X.mean(axis=0), np.where(std > 0, std, 1.0)


def standardise(X: np.ndarray, stats: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    return (np.asarray(X, dtype=float) - stats[0]) / stats[1]


def nearest_distance(Z: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Per row of Z, the Euclidean distance to the nearest row of `reference` (inf when it is empty)."""
    if len(reference) == 0:
        return np.full(len(Z), np.inf)
    ref_sq = np.einsum("ij,ij->i", reference, reference)
    out = np.empty(len(Z))
    for start in range(0, len(Z), BLOCK):
        block = Z[start:start + BLOCK]
        sq = np.einsum("ij,ij->i", block, block)[:, None] + ref_sq[None, :] - 2.0 * block @ reference.T
        out[start:start + BLOCK] = np.sqrt(np.maximum(sq.min(axis=1), 0.0))
    return out


def target_scales(pred: Prediction, targets: Sequence[str]) -> dict[str, float]:
    """Each target's scale: the standard deviation of the served values over the pool (floored above 0)."""
    out = {}
    for t in targets:
        sd = float(np.nanstd(np.asarray(pred[t]["value"], dtype=float)))
        out[t] = sd if sd > 1e-12 else 1.0
    return out


def interval_uncertainty(pred: Prediction, scales: Mapping[str, float]) -> np.ndarray:
    """Mean over targets of the served interval width / the target's scale."""
    return np.mean([(np.asarray(pred[t]["hi"], float) - np.asarray(pred[t]["lo"], float)) / s
                    for t, s in scales.items()], axis=0)


def explore_uncertainty(pred: Prediction, scales: Mapping[str, float], spread: np.ndarray | None,
                        served_on_scale: np.ndarray | None) -> np.ndarray:
    """Per recipe, how unsure the model is there, unit-free: per target the correction committee's spread
    over the spread of the served values (both on the correction's scale) where the target has a committee,
    else the relative interval width; the mean over targets.

    Why not the interval alone: once measured rows calibrate it, a conformal interval is one width on each
    target's scale (absolute for rigidity/tightness, relative for costs), so it says nothing about *where*
    reality departs from the simulator; the fold models of the correction disagree exactly there."""
    per_target = []
    for j, (t, s) in enumerate(scales.items()):
        relative = committee_spread(spread, served_on_scale, j)
        per_target.append(relative if relative is not None
                          else (np.asarray(pred[t]["hi"], float) - np.asarray(pred[t]["lo"], float)) / s)
    return np.mean(per_target, axis=0)


def committee_spread(spread: np.ndarray | None, served_on_scale: np.ndarray | None, j: int) -> np.ndarray | None:
    """Target j's correction committee spread over the spread of the served values (both on the correction's
    scale); None while the target has no committee."""
    if spread is None or served_on_scale is None or not np.any(spread[:, j] > 0):
        return None
    sd = float(np.std(served_on_scale[:, j]))
    return spread[:, j] / (sd if sd > 1e-12 else 1.0)


def pairwise_distances(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """[len(A), len(B)] Euclidean distances (one matrix product)."""
    sq = np.einsum("ij,ij->i", A, A)[:, None] + np.einsum("ij,ij->i", B, B)[None, :] - 2.0 * A @ B.T
    return np.sqrt(np.maximum(sq, 0.0))


def coverage_pick(weight: np.ndarray, Z: np.ndarray, k: int, candidates: np.ndarray, covered: np.ndarray,
                  min_distance: float) -> list[tuple[int, float]]:
    """Up to `k` (position, gain) among `candidates` (pool positions, also the demand points): greedy weighted
    facility location, each pick the recipe that most lowers sum_j weight_j x (distance from j to the nearest
    recipe measured, planned or picked), `covered` holding those recipes' standardised features.

    Why: the error that matters is over recipes as they occur, so picks go where many uncertain recipes are
    far from any measurement; an outlier covers only itself and is rarely worth a run (distance to the
    nearest measured recipe alone sends the lab to the edges of feature space). Near copies gain nothing,
    and no pick is within `min_distance` of a covered recipe or an earlier pick."""
    candidates = np.asarray(candidates, dtype=int)
    if k <= 0 or len(candidates) == 0:
        return []
    D = pairwise_distances(Z[candidates], Z[candidates])
    near = nearest_distance(Z[candidates], covered)
    # Nothing measured yet: every recipe starts as far as the farthest pair, so the first pick is a medoid.
    near = np.where(np.isfinite(near), near, float(D.max()) if D.size else 0.0)
    w = np.maximum(np.asarray(weight, dtype=float)[candidates], 0.0)
    chosen: list[tuple[int, float]] = []
    floor = max(min_distance, 1e-12)  # a recipe at distance 0 is covered already
    alive = near >= floor
    gain = np.maximum(near[None, :] - D, 0.0) @ w
    while len(chosen) < k and alive.any():
        best = int(np.argmax(np.where(alive, gain, -np.inf)))
        chosen.append((int(candidates[best]), float(gain[best] / len(candidates))))
        # Only demand points the pick moved closer change anyone's gain: update those columns (exact).
        moved = np.flatnonzero(D[best] < near)
        before, after = near[moved], D[best, moved]
        sub = D[:, moved]
        gain -= (np.maximum(before[None, :] - sub, 0.0) - np.maximum(after[None, :] - sub, 0.0)) @ w[moved]
        near[moved] = after
        alive &= near >= floor
    return chosen


def disagreement_scores(predictions: Sequence[np.ndarray], scales: Mapping[str, float]) -> np.ndarray:
    """Mean over targets of the spread (std) of several [n, n_targets] predictions, relative to each scale.

    With two predictions (challenger and champion) this is |a - b| / 2 / scale."""
    stack = np.stack([np.asarray(p, dtype=float) for p in predictions])     # [k, n, T]
    if len(stack) < 2:
        raise ValueError("disagreement needs at least two predictions")
    relative = stack.std(axis=0) / np.array([scales[t] for t in scales])[None, :]
    return relative.mean(axis=1)


def quotas(total: int, shares: Mapping[str, float]) -> dict[str, int]:
    """Split `total` by `shares` (largest remainders, ties in the mapping's order)."""
    weight = sum(shares.values())
    exact = {k: total * v / weight for k, v in shares.items()}
    out = {k: int(np.floor(v)) for k, v in exact.items()}
    order = sorted(exact, key=lambda k: -(exact[k] - out[k]))
    for key in order[:total - sum(out.values())]:
        out[key] += 1
    return out


def diverse_pick(scores: np.ndarray, Z: np.ndarray, k: int, min_distance: float, picked: list[int],
                 eligible: np.ndarray, shortlist: int) -> list[int]:
    """Up to `k` positions, greedily: best discounted score among the shortlist at least `min_distance`
    from every position in `picked` (updated in place)."""
    scores = np.where(eligible & np.isfinite(scores), scores, -np.inf)
    order = np.argsort(-scores, kind="stable")[:max(shortlist, k)]
    order = order[np.isfinite(scores[order])]
    if len(order) == 0 or k <= 0:
        return []
    near = nearest_distance(Z[order], Z[picked]) if picked else np.full(len(order), np.inf)
    chosen: list[int] = []
    alive = np.ones(len(order), dtype=bool)
    while len(chosen) < k:
        # Within 2 x min_distance of a pick the score is discounted linearly: far good candidates first.
        factor = np.clip(near / (2.0 * min_distance), 0.0, 1.0) if min_distance > 0 else np.ones(len(near))
        value = np.where(alive & (near >= min_distance), scores[order] * np.where(scores[order] > 0, factor, 1.0), -np.inf)
        best = int(np.argmax(value))
        if not np.isfinite(value[best]):
            break
        position = int(order[best])
        alive[best] = False
        chosen.append(position)
        picked.append(position)
        near = np.minimum(near, np.linalg.norm(Z[order] - Z[position], axis=1))
    return chosen

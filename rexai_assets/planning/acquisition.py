"""Acquisition scores over a candidate pool and the diverse, batch-aware pick (numpy only).

Every score is unit-free: uncertainty and disagreement are divided by each target's scale (the spread of
the served values over the pool), so rigidity (0-1) and crew time (minutes) weigh alike.

- explore: mean over targets of interval width / scale, times (1 + novelty_weight x novelty), novelty the
  distance to the nearest measured recipe in standardised feature space over its median in the pool;
- verify: a preset's `p_meets` (models.predictive), the recipe most likely to meet it is worth measuring;
- disagreement: mean over targets of the spread of several predictions (ensemble members, or challenger
  and champion) / scale.

`diverse_pick` takes a purpose's quota greedily: the best remaining score whose distance to every recipe
already picked (any purpose) is at least `min_distance`, the score discounted while the recipe is within
twice that distance of a pick (max-min flavour: among good candidates, the far ones go first).
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


def relative_novelty(distance: np.ndarray) -> np.ndarray:
    """Distance to the nearest measured recipe over its median in the pool; 0 everywhere with nothing measured."""
    finite = distance[np.isfinite(distance)]
    if len(finite) == 0:
        return np.zeros(len(distance))
    median = float(np.median(finite))
    return np.nan_to_num(distance / (median if median > 0 else 1.0), posinf=0.0)


def explore_scores(pred: Prediction, scales: Mapping[str, float], novelty: np.ndarray,
                   novelty_weight: float) -> np.ndarray:
    """Mean relative interval width, boosted by novelty."""
    width = np.mean([(np.asarray(pred[t]["hi"], float) - np.asarray(pred[t]["lo"], float)) / s
                     for t, s in scales.items()], axis=0)
    return width * (1.0 + novelty_weight * np.asarray(novelty, dtype=float))


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

"""The nearest-neighbour step of the `peers` family (module doc of `peers`): z-scores and the
exact k nearest districts of each district by the documented distance.

Exact and fast: the points of a group are split into the leaves of a k-d tree (median splits
on the widest coordinate, ≤ LEAF_SIZE points each), taken a block of neighbouring leaves at a
time. For each point of the block, its k-th nearest among the block and the leaves beside it
is an upper bound r of its true k-th nearest distance. The candidates are the points of the
leaves whose boxes lie within the largest r of the block's box; a matrix product screens
them per point (|a|² + |b|² − 2a·b ≤ r² plus far more than its rounding error), the
distances of what passes are computed exactly as documented, and each point keeps its k
smallest, equal distances ordered by row (leaid).
"""

from __future__ import annotations

import math

import numpy as np

LEAF_SIZE = 16
BLOCK = 16  # query points handled together (a larger block widens every point's candidates)
# Box distances are computed in floating point too: a candidate leaf is kept when its box
# is within R plus far more than their rounding error.
SLACK = 1e-9


def z_scores(columns: list[list[float]]) -> np.ndarray:
    """(n, len(columns)) array of z-scores: (x − mean) / population SD, mean and sum of
    squares added exactly (`math.fsum`); a column with SD 0 gives 0 everywhere."""
    out = np.empty((len(columns[0]), len(columns)))
    for k, values in enumerate(columns):
        x = np.asarray(values, dtype=np.float64)
        n = len(values)
        mean = math.fsum(values) / n
        centred = x - mean
        sd = math.sqrt(math.fsum((centred * centred).tolist()) / n)
        out[:, k] = centred / sd if sd > 0 else 0.0
    return out


def distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) distances sqrt(((d₁² + d₂²) + d₃²) + d₄²), added in that order."""
    diff = a[:, 0][:, None] - b[:, 0][None, :]
    total = diff * diff
    for f in range(1, a.shape[1]):
        diff = a[:, f][:, None] - b[:, f][None, :]
        total += diff * diff
    return np.sqrt(total)


def _leaves(z: np.ndarray) -> list[np.ndarray]:
    """Row indices of the leaves (at most LEAF_SIZE rows each)."""
    pending, leaves = [np.arange(len(z))], []
    while pending:
        rows = pending.pop()
        if len(rows) <= LEAF_SIZE:
            leaves.append(rows)
            continue
        points = z[rows]
        axis = int(np.argmax(points.max(axis=0) - points.min(axis=0)))
        half = len(rows) // 2
        order = np.argpartition(points[:, axis], half)
        pending += [rows[order[:half]], rows[order[half:]]]
    return leaves


def _box_distance(low: np.ndarray, high: np.ndarray, box_low: np.ndarray, box_high: np.ndarray) -> np.ndarray:
    """Smallest distance between the box [box_low, box_high] and each box [low, high]."""
    gap = np.maximum(0.0, np.maximum(low - box_high, box_low - high))
    return np.sqrt((gap * gap).sum(axis=1))


def _pick(rows: np.ndarray, cols: np.ndarray, dist: np.ndarray, n: int, k: int):
    """Of the pairs (row, col, distance), the k of each row 0…n−1 with the smallest
    (distance, col); every row has at least k pairs."""
    order = np.lexsort((cols, dist, rows))
    cols, dist = cols[order], dist[order]
    counts = np.bincount(rows, minlength=n)
    first = np.concatenate(([0], np.cumsum(counts)[:-1]))
    take = first[:, None] + np.arange(k)[None, :]
    return cols[take], dist[take]


def _blocks(leaves: list[np.ndarray]) -> list[tuple[int, int]]:
    """(first, last) leaf of each block: neighbouring leaves of at most BLOCK points."""
    blocks, first, size = [], 0, 0
    for index, rows in enumerate(leaves):
        if size and size + len(rows) > BLOCK:
            blocks.append((first, index - 1))
            first, size = index, 0
        size += len(rows)
    blocks.append((first, len(leaves) - 1))
    return blocks


def nearest(z: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest rows of each row of `z` (module doc), itself excluded, ties by row:
    (indices (n, k'), distances (n, k')), k' = min(k, n − 1)."""
    n = len(z)
    kk = min(k, n - 1)
    out_i = np.empty((n, max(kk, 0)), np.int64)
    out_d = np.empty((n, max(kk, 0)))
    if kk <= 0:
        return out_i, out_d
    leaves = _leaves(z)
    low = np.array([z[rows].min(axis=0) for rows in leaves])
    high = np.array([z[rows].max(axis=0) for rows in leaves])
    sizes = np.array([len(rows) for rows in leaves])
    for first, last in _blocks(leaves):
        rows = np.concatenate(leaves[first:last + 1])
        points = z[rows]
        # An upper bound of each point's k-th nearest distance: its k-th nearest among the
        # points of the leaves nearest to the block (enough for 2k per point).
        reach = _box_distance(low, high, points.min(axis=0), points.max(axis=0))
        order = np.argsort(reach, kind="stable")
        enough = int(np.searchsorted(np.cumsum(sizes[order]), min(n, len(rows) + 2 * kk))) + 1
        guess = np.concatenate([leaves[j] for j in order[:enough]])
        near = distances(points, z[guess])
        near[guess[None, :] == rows[:, None]] = np.inf
        bound = np.partition(near, kk - 1, axis=1)[:, kk - 1]
        # Every point within a bound lies in a leaf whose box is that near to the block's.
        chosen = np.nonzero(reach <= bound.max() * (1 + SLACK) + SLACK)[0]
        candidates = np.sort(np.concatenate([leaves[j] for j in chosen]))
        dist = distances(points, z[candidates])
        dist[candidates[None, :] == rows[:, None]] = np.inf  # itself
        limit = np.partition(dist, kk - 1, axis=1)[:, kk - 1]
        r, c = np.nonzero(dist <= limit[:, None])
        out_i[rows], out_d[rows] = _pick(r, candidates[c], dist[r, c], len(rows), kk)
    return out_i, out_d


def peer_lists(z: np.ndarray, keys: list[tuple], k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row of `z`: its peers among the rows with the same key, as (peers (n, k) row
    indices padded with −1, distances (n, k) padded with NaN, counts (n,))."""
    n = len(z)
    peers = np.full((n, k), -1, np.int64)
    dist = np.full((n, k), np.nan)
    counts = np.zeros(n, np.int64)
    members: dict[tuple, list[int]] = {}
    for index, key in enumerate(keys):
        members.setdefault(key, []).append(index)
    for indices in members.values():
        index = np.asarray(indices)
        found, d = nearest(z[index], k)
        width = found.shape[1]
        peers[index, :width] = index[found]
        dist[index, :width] = d
        counts[index] = width
    return peers, dist, counts

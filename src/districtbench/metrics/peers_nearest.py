"""The nearest-neighbour step of the `peers` family (module doc of `peers`): z-scores and the
exact k nearest districts of each district by the documented distance.

Exact and fast: a k-d tree in C (`pykdtree`, exact search) finds K = k + 1 + MARGIN
candidates per point by its own distances d'. The documented distances of those candidates
are computed here (`distances`' formula, itself excluded); L is the k-th smallest. The point
is settled when its largest d' exceeds L·(1 + SLACK) + SLACK: its peers are then the k
candidates with the smallest (distance, row).

Why that is exact: pykdtree returns the K smallest by d' and skips a subtree only when its
running squared box distance is not below its current K-th d'². Both are sums of squares
(the box distance updated a coordinate at a time, each update replacing a term by one at
least as large), so each value it compares is within a relative rounding error of a few
ulps per tree level of the true one; the documented distance is within a few ulps of the
true distance too. Every point it did not return is thus at a documented distance of at
least max d'·(1 − 1e-13) or so: more than L when max d' > L·(1 + 1e-9), and more than 0
when L = 0 and max d' > 1e-9 (the absolute term also keeps the squares clear of underflow).
So no point left out can be among the k nearest, nor tie with the k-th.

A point that is not settled (a tie or near-tie reaching past its K candidates, e.g. many
identical points) and every group of at most K points are searched by brute force against
the whole group, a chunk of rows at a time, with the same formula and (distance, row) order.
"""

from __future__ import annotations

import math

import numpy as np
from pykdtree.kdtree import KDTree

MARGIN = 8  # candidates beyond k + 1 (itself), so that most near-ties are settled by the tree
SLACK = 1e-9  # relative and absolute; far more than the rounding of either distance (module doc)
CHUNK = 1 << 21  # distances per brute-force block (rows × group size)


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


def _distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """sqrt(((d₁² + d₂²) + d₃²) + d₄²), added in that order, of a − b (broadcast; the
    features on the last axis)."""
    diff = a[..., 0] - b[..., 0]
    total = diff * diff
    for f in range(1, a.shape[-1]):
        diff = a[..., f] - b[..., f]
        total += diff * diff
    return np.sqrt(total)


def distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) distances sqrt(((d₁² + d₂²) + d₃²) + d₄²), added in that order."""
    return _distance(a[:, None, :], b[None, :, :])


def _pick(rows: np.ndarray, cols: np.ndarray, dist: np.ndarray, n: int, k: int):
    """Of the pairs (row, col, distance), the k of each row 0…n−1 with the smallest
    (distance, col); every row has at least k pairs."""
    order = np.lexsort((cols, dist, rows))
    cols, dist = cols[order], dist[order]
    counts = np.bincount(rows, minlength=n)
    first = np.concatenate(([0], np.cumsum(counts)[:-1]))
    take = first[:, None] + np.arange(k)[None, :]
    return cols[take], dist[take]


def _exhaustive(z: np.ndarray, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k nearest of each of `rows` among all rows of `z`, by brute force."""
    n = len(z)
    out_i = np.empty((len(rows), k), np.int64)
    out_d = np.empty((len(rows), k))
    step = max(1, CHUNK // n)
    for start in range(0, len(rows), step):
        chunk = rows[start:start + step]
        dist = distances(z[chunk], z)
        dist[np.arange(len(chunk)), chunk] = np.inf  # itself
        limit = np.partition(dist, k - 1, axis=1)[:, k - 1]
        r, c = np.nonzero(dist <= limit[:, None])  # the k nearest and whatever ties the k-th
        out_i[start:start + step], out_d[start:start + step] = _pick(r, c, dist[r, c], len(chunk), k)
    return out_i, out_d


def nearest(z: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest rows of each row of `z` (module doc), itself excluded, ties by row:
    (indices (n, k'), distances (n, k')), k' = min(k, n − 1)."""
    z = np.ascontiguousarray(z, dtype=np.float64)
    n = len(z)
    kk = min(k, n - 1)
    if kk <= 0:
        return np.empty((n, 0), np.int64), np.empty((n, 0))
    want = kk + 1 + MARGIN
    if n <= want:
        return _exhaustive(z, np.arange(n), kk)
    found_d, found = KDTree(z).query(z, k=want)
    found = found.astype(np.int64)
    exact = _distance(z[:, None, :], z[found])
    exact[found == np.arange(n)[:, None]] = np.inf  # itself
    order = np.lexsort((found, exact), axis=1)[:, :kk]  # by (distance, row)
    out_i = np.take_along_axis(found, order, axis=1)
    out_d = np.take_along_axis(exact, order, axis=1)
    # L = out_d[:, -1], the k-th smallest documented distance among the candidates
    rows = np.nonzero(found_d.max(axis=1) <= out_d[:, -1] * (1 + SLACK) + SLACK)[0]  # not settled
    if len(rows):
        out_i[rows], out_d[rows] = _exhaustive(z, rows, kk)
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

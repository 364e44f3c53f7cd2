"""The nearest-neighbour step of `peers` (`peers_nearest`) against a plain-Python brute force:
each row's k nearest other rows by sqrt(((d₁² + d₂²) + d₃²) + d₄²) (added in that order),
sorted by (distance, row). Results must be identical: same rows, same doubles, same order."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from districtbench.metrics import peers_nearest

K = 20


def distance(a, b) -> float:
    total = (a[0] - b[0]) * (a[0] - b[0])
    for f in range(1, 4):
        total = total + (a[f] - b[f]) * (a[f] - b[f])
    return math.sqrt(total)


def ranked(points: list[tuple[float, ...]], i: int) -> list[tuple[int, float]]:
    """All other rows as (row, distance) from row i, by (distance, row)."""
    return [(j, d) for d, j in sorted((distance(points[i], points[j]), j) for j in range(len(points)) if j != i)]


def brute(points: list[tuple[float, ...]], k: int, rows=None) -> dict[int, list[tuple[int, float]]]:
    """Row → its min(k, n − 1) nearest (row, distance), itself excluded, by (distance, row)."""
    return {i: ranked(points, i)[:k] for i in (range(len(points)) if rows is None else rows)}


def as_lists(found, dist, rows) -> dict[int, list[tuple[int, float]]]:
    return {i: [(int(j), float(d)) for j, d in zip(found[i], dist[i])] for i in rows}


@pytest.fixture
def fallback_rows(monkeypatch):
    """The rows the brute-force fallback handled, per call of `nearest` (a spy; results unchanged)."""
    seen: list[set[int]] = []
    original = peers_nearest._exhaustive

    def spy(z, rows, k):
        seen.append({int(r) for r in rows})
        return original(z, rows, k)

    monkeypatch.setattr(peers_nearest, "_exhaustive", spy)
    return seen


def skewed_points(n: int, seed: int) -> list[tuple[float, ...]]:
    """Four z-score-like features: log-normal, gamma, many zeros, normal (not real data)."""
    rng = random.Random(seed)
    rows = [(math.log(rng.lognormvariate(7, 1.4)), rng.gammavariate(4, 4.5),
             0.0 if rng.random() < 0.3 else rng.expovariate(0.25), rng.gauss(14, 3.5)) for _ in range(n)]
    columns = list(zip(*rows))
    means = [math.fsum(c) / n for c in columns]
    sds = [math.sqrt(math.fsum((x - m) * (x - m) for x in c) / n) for c, m in zip(columns, means)]
    return [tuple((x - m) / s for x, m, s in zip(row, means, sds)) for row in rows]


def test_random_points_match_the_brute_force_with_no_fallback(fallback_rows):
    points = skewed_points(1200, seed=3)
    found, dist = peers_nearest.nearest(np.array(points), K)
    assert found.shape == dist.shape == (1200, K)
    assert as_lists(found, dist, range(1200)) == brute(points, K)
    assert fallback_rows == []  # all settled by the tree's candidates


def test_a_larger_random_group_matches_the_brute_force_on_a_sample_of_rows():
    points = skewed_points(4000, seed=11)
    sample = random.Random(5).sample(range(4000), 150)
    found, dist = peers_nearest.nearest(np.array(points), K)
    assert as_lists(found, dist, sample) == brute(points, K, sample)


def test_points_on_a_grid_with_many_equal_distances_are_ordered_by_row():
    rng = random.Random(8)
    points = [tuple(0.5 * rng.randrange(5) for _ in range(4)) for _ in range(1200)]  # ~2 per cell
    full = {i: ranked(points, i) for i in range(1200)}
    expected = {i: others[:K] for i, others in full.items()}
    # the test means something: most rows' k-th distance is shared with rows left out
    assert sum(others[K][1] == others[K - 1][1] for others in full.values()) > 600
    found, dist = peers_nearest.nearest(np.array(points), K)
    assert as_lists(found, dist, range(1200)) == expected


def test_many_identical_points_go_to_the_fallback_and_keep_the_row_order(fallback_rows):
    rng = random.Random(21)
    others = [tuple(rng.uniform(-2, 2) for _ in range(4)) for _ in range(60)]
    twin = (0.25, -1.0, 0.5, 0.125)
    copies = set(rng.sample(range(360), 300))  # 300 identical points scattered among the rows
    points = [twin if i in copies else others.pop() for i in range(360)]
    found, dist = peers_nearest.nearest(np.array(points), K)
    expected = brute(points, K)
    assert as_lists(found, dist, range(360)) == expected
    # each copy's peers: the 20 lowest other rows among the copies, at distance 0
    first = sorted(copies)[:K + 1]
    some = sorted(copies)[-1]
    assert expected[some] == [(j, 0.0) for j in first[:K]]
    # 299 ties at distance 0 cannot fit in the tree's k + 1 + MARGIN candidates
    assert len(fallback_rows) == 1 and copies <= fallback_rows[0]


@pytest.mark.parametrize("size", [1, 2, K, K + 1, K + 2, K + peers_nearest.MARGIN, K + peers_nearest.MARGIN + 1,
                                  K + peers_nearest.MARGIN + 2])
def test_small_groups_give_everyone_all_the_others_or_the_k_nearest(size):
    points = skewed_points(size, seed=size) if size > 1 else [(0.5, 0.25, -1.0, 2.0)]
    found, dist = peers_nearest.nearest(np.array(points), K)
    width = min(K, size - 1)
    assert found.shape == dist.shape == (size, width)
    assert found.dtype == np.int64
    assert as_lists(found, dist, range(size)) == brute(points, K)


def test_peer_lists_per_group_with_padding_counts_and_the_groups_rows():
    rng = random.Random(4)
    sizes = {("a",): 1, ("b",): 2, ("c",): K, ("d",): K + 1, ("e",): K + 2, ("f",): 300}
    keys = [key for key, size in sizes.items() for _ in range(size)]
    rng.shuffle(keys)
    points = skewed_points(len(keys), seed=9)
    peers, dist, counts = peers_nearest.peer_lists(np.array(points), keys, K)
    assert peers.shape == dist.shape == (len(keys), K)
    for key in sizes:
        rows = [i for i, other in enumerate(keys) if other == key]
        expected = brute([points[i] for i in rows], K)
        for local, i in enumerate(rows):
            want = [(rows[j], d) for j, d in expected[local]]
            width = len(want)
            assert counts[i] == width == min(K, len(rows) - 1)
            assert [(int(j), float(d)) for j, d in zip(peers[i, :width], dist[i, :width])] == want
            assert (peers[i, width:] == -1).all() and np.isnan(dist[i, width:]).all()


def test_distances_follow_the_documented_order_to_the_last_bit():
    # v and its coordinates reversed are equally far from 0 in real numbers; added in the
    # documented order the doubles often differ in the last bit, and that decides the order
    rng = random.Random(13)
    vectors = [tuple(rng.uniform(0.1, 3) for _ in range(4)) for _ in range(40)]
    points = [(0.0, 0.0, 0.0, 0.0)]
    for v in vectors:
        points += [v[::-1], v]
    differ = sum(distance(points[0], v) != distance(points[0], v[::-1]) for v in vectors)
    assert differ >= 5
    found, dist = peers_nearest.nearest(np.array(points), K)
    assert as_lists(found, dist, range(len(points))) == brute(points, K)


class Rounded:
    """pykdtree's tree, but its distances moved by up to 1e-12 (relative) and each row's
    candidates handed back in reverse: the result must not depend on either."""

    def __init__(self, data):
        self.tree = TREE(data)
        self.rng = np.random.default_rng(2)

    def query(self, points, k):
        d, i = self.tree.query(points, k=k)
        d = d * (1 + self.rng.uniform(-1e-12, 1e-12, d.shape))
        return d[:, ::-1].copy(), i[:, ::-1].copy()


TREE = peers_nearest.KDTree


@pytest.mark.parametrize("make", ["random", "grid"])
def test_the_trees_own_distances_and_order_do_not_matter(monkeypatch, fallback_rows, make):
    rng = random.Random(17)
    points = (skewed_points(800, seed=17) if make == "random"
              else [tuple(0.25 * rng.randrange(6) for _ in range(4)) for _ in range(800)])
    expected = brute(points, K)
    monkeypatch.setattr(peers_nearest, "KDTree", Rounded)
    found, dist = peers_nearest.nearest(np.array(points), K)
    assert as_lists(found, dist, range(800)) == expected
    if make == "random":  # still settled by the tree's candidates, not all by brute force
        assert fallback_rows == []


def test_any_layout_of_the_input_gives_the_same_result():
    points = skewed_points(500, seed=23)
    plain = peers_nearest.nearest(np.array(points), K)
    wide = np.zeros((500, 7))
    wide[:, 1:5] = points
    for z in (np.asfortranarray(np.array(points)), wide[:, 1:5], np.array(points)[::-1][::-1],
              [list(p) for p in points]):
        found, dist = peers_nearest.nearest(z, K)
        assert np.array_equal(found, plain[0]) and np.array_equal(dist, plain[1])

"""Themes from vectors: found without being told how many, named by their words, ids kept across
re-clustering, and one concern at a time online. Synthetic unit vectors: no model needed."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray
from sklearn.metrics import adjusted_mutual_info_score

from ombud.advocacy import clustering
from ombud.advocacy.clustering import OnlineThemes, cluster, describe, match


def _groups(
    sizes: list[int], *, spread: float = 0.35, dims: int = 64, seed: int = 0
) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """Well separated groups of unit vectors around random directions (cosine to the centre ~0.9)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(sizes), dims))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    rows, truth = [], []
    for group, size in enumerate(sizes):
        noise = rng.normal(size=(size, dims)) * spread / np.sqrt(dims)
        rows.append(centres[group] + noise)
        truth += [group] * size
    vectors = np.vstack(rows).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors, np.array(truth)


def test_separated_groups_are_found_without_being_told_how_many() -> None:
    vectors, truth = _groups([40, 25, 12, 7, 3])
    labels = cluster(vectors)
    assert len(set(labels.tolist()) - {-1}) == 5
    assert adjusted_mutual_info_score(truth, labels) == pytest.approx(1.0)
    # The largest theme is 0, the next 1, ...
    assert (labels[:40] == 0).all() and (labels[40:65] == 1).all()


def test_an_isolated_concern_is_noise_and_duplicates_are_not() -> None:
    vectors, _ = _groups([20, 20], seed=1)
    lonely = np.random.default_rng(9).normal(size=(1, vectors.shape[1])).astype(np.float32)
    labels = cluster(np.vstack([vectors, lonely, lonely]))
    # Two identical concerns are a (small) theme; one on its own is -1.
    assert labels[-1] == labels[-2] != -1
    labels = cluster(np.vstack([vectors, lonely]))
    assert labels[-1] == -1
    assert (labels[:-1] >= 0).all()


def test_the_two_stage_path_for_large_inputs_finds_the_same_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    vectors, truth = _groups([300, 200, 150, 100, 50], seed=2)
    monkeypatch.setattr(clustering, "DIRECT_LIMIT", 100)
    labels = cluster(vectors)
    assert adjusted_mutual_info_score(truth, labels) > 0.97


def test_weighted_average_linkage_matches_scipy_on_unit_weights() -> None:
    vectors, _ = _groups([30, 20, 10], spread=1.2, seed=3)
    direct = clustering._agglomerate(vectors, 0.5)
    chained = clustering._nn_chain_average(vectors, np.ones(len(vectors)), 0.5)
    assert adjusted_mutual_info_score(direct, chained) == pytest.approx(1.0)


def test_empty_and_single_inputs() -> None:
    assert cluster(np.zeros((0, 8), dtype=np.float32)).shape == (0,)
    assert cluster(np.ones((1, 8), dtype=np.float32)).tolist() == [-1]
    with pytest.raises(ValueError, match="2-d"):
        cluster(np.ones(8, dtype=np.float32))


def test_labels_name_the_words_that_set_a_theme_apart_and_quotes_are_distinct() -> None:
    texts = [
        "my card has not arrived yet",
        "the card has not arrived after two weeks",
        "card not arrived, where is my card delivery",
        "my card has not arrived yet",
        "I was charged twice for the same purchase",
        "a duplicate charge appeared on my statement",
        "charged twice for one order, refund the duplicate charge",
    ]
    labels = np.array([0, 0, 0, 0, 1, 1, 1])
    vectors, _ = _groups([4, 3], seed=4)
    summaries = describe(texts, labels, vectors)
    assert set(summaries) == {0, 1}
    assert "arrived" in summaries[0].label and "card" in summaries[0].label
    assert "charge" in summaries[1].label or "twice" in summaries[1].label
    assert not {"my", "the", "has"} & set(" ".join(summaries[0].key_phrases).split())
    quotes = [texts[i] for i in summaries[0].quotes]
    assert len(quotes) == len(set(quotes)) == 3
    assert summaries[0].size == 4 and summaries[1].size == 3


def test_insults_never_name_a_theme_but_the_quotes_keep_the_words() -> None:
    texts = [
        "You useless idiots, my AirBrew 2 leaks water",
        "useless idiots at support, the AirBrew 2 leaks again",
        "AirBrew 2 leaks water on the counter, you morons",
        "fucking idiots",
        "wifi keeps dropping upstairs",
        "the wifi keeps dropping every evening",
    ]
    labels = np.array([0, 0, 0, 1, 2, 2])
    vectors, _ = _groups([3, 1, 2], seed=6)
    summaries = describe(texts, labels, vectors)
    for summary in summaries.values():
        assert not clustering.RUDE.search(summary.label), summary.label
        assert not any(clustering.RUDE.search(phrase) for phrase in summary.key_phrases)
    assert "leaks" in summaries[0].label or "airbrew" in summaries[0].label.lower()
    assert summaries[1].label == "unlabelled theme"
    assert any("idiots" in texts[i] for i in summaries[0].quotes)


def test_online_assignment_joins_the_nearest_theme_or_opens_one() -> None:
    vectors, truth = _groups([20, 20], seed=5)
    _, centres = clustering.centroids(vectors, truth)
    themes = OnlineThemes.from_centroids([101, 202], centres, [20, 20])
    near = vectors[0] + 0.01
    joined = themes.assign(near)
    assert (joined.theme, joined.created) == (101, False)
    assert themes.size(101) == 21
    stranger = np.random.default_rng(6).normal(size=(1, vectors.shape[1]))[0]
    opened = themes.assign(stranger, new_id=lambda: 303)
    assert (opened.theme, opened.created) == (303, True)
    # The new theme's centroid is that concern: a similar one joins it.
    again = themes.assign(stranger + 0.01)
    assert (again.theme, again.created) == (303, False)
    assert themes.size(303) == 2
    assert sorted(themes.ids) == [101, 202, 303]


def test_online_centroid_is_the_running_mean() -> None:
    vectors, _ = _groups([10], seed=7)
    themes = OnlineThemes(threshold=-1.0, dimensions=vectors.shape[1])
    for vector in vectors:
        themes.assign(vector)
    assert themes.ids == [0]
    assert np.allclose(themes.centroid(0), vectors.mean(axis=0), atol=1e-5)
    themes.remove(0)
    assert len(themes) == 0 and themes.nearest(vectors[0]) == (None, 0.0)


def test_online_threshold_is_on_the_same_scale_as_clustering() -> None:
    """Members of a batch cluster would join its centroid online, and other clusters' members would not."""
    vectors, _ = _groups([30, 30, 30], spread=0.6, seed=8)
    labels = cluster(vectors)
    assert (labels >= 0).all()
    ids, centres = clustering.centroids(vectors, labels)
    themes = OnlineThemes.from_centroids(ids, centres, [int((labels == i).sum()) for i in ids])
    joined = [themes.nearest(v) for v in vectors]
    assert all(similarity >= themes.threshold for _, similarity in joined)
    assert [theme for theme, _ in joined] == labels.tolist()


def test_match_keeps_the_id_of_a_theme_that_grew_and_of_the_bigger_part_of_a_split() -> None:
    vectors, _ = _groups([20, 20, 20], seed=9)
    old_members = [set(range(0, 15)), set(range(20, 40)), set(range(40, 60))]
    old_centroids = np.vstack([vectors[sorted(m)].mean(axis=0) for m in old_members])
    # New clustering: label 7 = the first theme grown (0-19); theme 2 split into 5 (40-54) and 6 (55-59);
    # theme at 20-39 is relabelled 3.
    new_members = [set(range(0, 20)), set(range(20, 40)), set(range(40, 55)), set(range(55, 60))]
    new_labels = [7, 3, 5, 6]
    new_centroids = np.vstack([vectors[sorted(m)].mean(axis=0) for m in new_members])
    mapping = match(
        [11, 22, 33],
        old_centroids,
        new_labels,
        new_centroids,
        old_members=old_members,
        new_members=new_members,
    )
    assert mapping == {7: 11, 3: 22, 5: 33}


def test_match_by_centroids_alone_and_unrelated_clusters_are_new() -> None:
    vectors, truth = _groups([20, 20, 20], seed=10)
    _, centres = clustering.centroids(vectors, truth)
    mapping = match([5, 6], centres[:2], [0, 1, 2], centres[[1, 0, 2]])
    assert mapping == {0: 6, 1: 5}
    assert match([], np.zeros((0, 64)), [0], centres[:1]) == {}

"""Reciprocal-rank fusion: the pure logic behind fused text search."""

from __future__ import annotations

import pytest

from core.fusion import competition_ranks, rrf


def ids(fused) -> list[str]:  # type: ignore[no-untyped-def]
    return [f.id for f in fused]


def test_an_item_two_sources_agree_on_beats_one_only_a_single_source_ranks_first() -> None:
    fused = rrf({"image": [("a", 0.9), ("b", 0.8)], "caption": [("c", 0.9), ("b", 0.7)]})
    assert ids(fused) == ["b", "a", "c"]
    assert fused[0].score == pytest.approx(1 / 62 + 1 / 62)
    assert fused[0].sources == ("image", "caption")
    assert fused[1].sources == ("image",)


def test_a_single_source_keeps_its_own_order() -> None:
    ranked = [("x", 0.5), ("y", 0.4), ("z", -0.1)]
    assert ids(rrf({"image": ranked})) == ["x", "y", "z"]


def test_scores_follow_the_formula_with_the_given_k() -> None:
    [fused] = rrf({"a": [("x", 1.0)], "b": [("y", 1.0), ("x", 0.5)]}, k=1)[:1]
    assert fused.id == "x"
    assert fused.score == pytest.approx(1 / 2 + 1 / 3)


def test_weights_decide_which_source_wins_a_disagreement() -> None:
    sources = {"image": [("a", 0.9), ("b", 0.1)], "fulltext": [("b", 3.0), ("a", 1.0)]}
    assert ids(rrf(sources, {"image": 1.0, "fulltext": 0.5}))[0] == "a"
    assert ids(rrf(sources, {"image": 0.5, "fulltext": 1.0}))[0] == "b"


def test_a_source_weighing_nothing_is_left_out() -> None:
    fused = rrf({"image": [("a", 0.9)], "fulltext": [("b", 2.0)]}, {"fulltext": 0.0})
    assert ids(fused) == ["a"]
    assert fused[0].sources == ("image",)


def test_a_source_that_returns_nothing_changes_nothing() -> None:
    image = [("a", 0.9), ("b", 0.8), ("c", 0.7)]
    alone = rrf({"image": image})
    with_empty = rrf({"image": image, "caption": [], "fulltext": []})
    assert [(f.id, f.score, f.sources) for f in with_empty] == [
        (f.id, f.score, f.sources) for f in alone
    ]


def test_no_sources_fuse_to_nothing() -> None:
    assert rrf({}) == []
    assert rrf({"image": [], "caption": []}) == []


def test_equal_scores_inside_a_source_share_a_rank() -> None:
    assert competition_ranks([("a", 0.9), ("b", 0.7), ("c", 0.7), ("d", 0.5)]) == [
        ("a", 1),
        ("b", 2),
        ("c", 2),
        ("d", 4),
    ]
    fused = rrf({"fulltext": [("b", 0.3), ("a", 0.3)]})
    assert fused[0].score == fused[1].score


def test_fused_ties_break_by_best_rank_then_id_whatever_the_input_order() -> None:
    # a and b each rank 1 in one source and 2 in the other: equal scores, equal best rank
    first = rrf({"s": [("b", 1.0), ("a", 0.5)], "t": [("a", 1.0), ("b", 0.5)]})
    second = rrf({"t": [("a", 1.0), ("b", 0.5)], "s": [("b", 1.0), ("a", 0.5)]})
    assert first[0].score == first[1].score
    assert ids(first) == ids(second) == ["a", "b"]
    # both best at rank 1 and tied: the id decides
    assert ids(rrf({"s": [("z", 1.0)], "t": [("y", 1.0)]})) == ["y", "z"]


def test_an_id_listed_twice_by_one_source_counts_once_at_its_best_place() -> None:
    fused = rrf({"s": [("a", 0.9), ("b", 0.8), ("a", 0.1)]})
    assert fused[0].score == pytest.approx(1 / 61)
    assert ids(fused) == ["a", "b"]


def test_k_below_one_is_refused() -> None:
    with pytest.raises(ValueError):
        rrf({"s": [("a", 1.0)]}, k=0)

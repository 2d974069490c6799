"""Charts the labs draw."""

from __future__ import annotations

from lab_kit.lab.plots import distribution


def test_distribution_draws_the_given_names_first_in_their_order():
    fig = distribution(["b", "a", "b", "c"], "t", pods=["c", "b"], ylabel="questions")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["c", "b", "a"]
    assert [p.get_height() for p in ax.patches] == [1, 2, 1] and ax.get_ylabel() == "questions"

"""The named checks the notebooks call: each passes on what a working lab shows and fails,
saying what it saw, on what a broken one would."""

from __future__ import annotations

import pytest

from lab_kit.lab.checks import CheckFailed, expect
from lab_kit.lab.checks.common import check_spread
from lab_kit.lab.checks.lab00 import check_spread_over_nodes


def test_expect_names_the_expectation_and_what_was_seen():
    expect(True, "never shown")
    with pytest.raises(CheckFailed, match=r"^4 pods; saw 3$"):
        expect(False, "4 pods", 3)


def test_an_even_spread_passes_and_prints_one_line(capsys):
    answered = ["a"] * 75 + ["b"] * 80 + ["c"] * 70 + ["d"] * 75
    assert check_spread(answered, pods=4) == {"a": 75, "b": 80, "c": 70, "d": 75}
    assert capsys.readouterr().out.startswith("✓ 300 requests over 4 pods")


@pytest.mark.parametrize(
    ("answered", "complaint"),
    [
        (["a"] * 150 + ["b"] * 150, "answers from 4 pods"),
        (["a"] * 75 + ["b"] * 75 + ["c"] * 75 + ["d"] * 74 + ["ERR"], "every request answered"),
        (["a"] * 150 + ["b"] * 50 + ["c"] * 50 + ["d"] * 50, r"each pod between 30 and 120"),
    ],
)
def test_an_uneven_or_failed_spread_fails(answered, complaint):
    with pytest.raises(CheckFailed, match=complaint):
        check_spread(answered, pods=4)


def pod(node: str, ip: str) -> dict:
    return {"spec": {"nodeName": node}, "status": {"podIP": ip}}


def test_pods_must_cover_the_nodes_with_addresses_from_their_own_range():
    good = [pod("node1", "10.244.1.2"), pod("node2", "10.244.2.2"), pod("node3", "10.244.3.2"),
            pod("node1", "10.244.1.3")]  # fmt: skip
    check_spread_over_nodes(good)
    with pytest.raises(CheckFailed, match="node2's pods have addresses from 10.244.2.0/24"):
        check_spread_over_nodes([*good[:1], pod("node2", "10.244.1.9"), *good[2:]])
    with pytest.raises(CheckFailed, match="pods on every node"):
        check_spread_over_nodes([pod("node1", f"10.244.1.{i}") for i in range(2, 6)])

"""Lab 07's named checks that read only data (answers, captures, a timeline): each passes on
what a working lab shows and fails, saying what it saw, on what a broken one would."""

from __future__ import annotations

import pytest

from lab_kit.lab.checks import CheckFailed
from lab_kit.lab.checks.lab07 import (
    check_answers_directly,
    check_every_pod_answered,
    check_no_traffic_to_victim,
    check_timeline,
)
from lab_kit.lab.packets import PacketRow, PacketTable

PODS = {"rg-a": {}, "rg-b": {}, "rg-c": {}}


def syn(src: str, dst: str) -> PacketRow:
    return PacketRow(0.0, src, 40000, dst, 8080, "TCP", 74, "S")


class FakeCapture:
    def __init__(self, rows: list[PacketRow]):
        self.rows = rows

    def packets(self) -> PacketTable:
        return PacketTable(self.rows)


class FakeCaptures(dict):
    def with_connections(self) -> list[str]:
        return [name for name, cap in self.items() if cap.packets().syns()]


def captures(**rows: list[PacketRow]) -> FakeCaptures:
    return FakeCaptures({name: FakeCapture(rows.get(name.replace("-", "_"), [])) for name in PODS})


def test_every_pod_answered_counts_per_pod(capsys):
    answered = ["rg-a"] * 25 + ["rg-b"] * 20 + ["rg-c"] * 15
    check_every_pod_answered(answered, PODS)
    assert capsys.readouterr().out == "✓ 60 requests: {'rg-a': 25, 'rg-b': 20, 'rg-c': 15}\n"


@pytest.mark.parametrize("answered", [["rg-a"] * 30 + ["rg-b"] * 30,
                                      ["rg-a", "rg-b", "rg-c", "ERR"]])  # fmt: skip
def test_a_pod_missing_or_a_failure_fails(answered):
    with pytest.raises(CheckFailed, match=r"answers from exactly \['rg-a', 'rg-b', 'rg-c'\]"):
        check_every_pod_answered(answered, PODS)


def test_no_traffic_to_the_victim(capsys):
    answered = ["rg-b"] * 30 + ["rg-c"] * 30
    caps = captures(rg_b=[syn("10.244.1.2", "10.244.2.3")], rg_c=[syn("10.244.1.2", "10.244.3.3")])
    check_no_traffic_to_victim(answered, caps, "rg-a", PODS)
    assert "{'rg-a': 0, 'rg-b': 30, 'rg-c': 30}; nothing reached rg-a" in capsys.readouterr().out


def test_an_answer_or_a_packet_from_the_victim_fails():
    caps = captures(rg_b=[syn("10.244.1.2", "10.244.2.3")], rg_c=[syn("10.244.1.2", "10.244.3.3")])
    with pytest.raises(CheckFailed, match="no answer from rg-a; saw 1"):
        check_no_traffic_to_victim(["rg-a"] + ["rg-b"] * 59, caps, "rg-a", PODS)
    with pytest.raises(CheckFailed, match="every request answered; saw 1"):
        check_no_traffic_to_victim(["ERR"] + ["rg-b", "rg-c"] * 30, caps, "rg-a", PODS)
    caps["rg-a"] = FakeCapture([syn("10.244.1.2", "10.244.1.3")])
    with pytest.raises(CheckFailed, match="no packet captured on rg-a; saw 1"):
        check_no_traffic_to_victim(["rg-b", "rg-c"] * 30, caps, "rg-a", PODS)


def test_the_victim_answers_at_its_own_address():
    check_answers_directly(["rg-a"], "rg-a", "10.244.1.3")
    with pytest.raises(CheckFailed, match=r"the answer from rg-a; saw \['ERR'\]"):
        check_answers_directly(["ERR"], "rg-a", "10.244.1.3")


def timeline(victim_at: list[float]) -> list[tuple[float, str]]:
    samples = [(t, "rg-a") for t in victim_at]
    samples += [(i * 0.1, "rg-b") for i in range(180 - len(samples))]
    return sorted(samples)


def test_the_timeline_shows_the_victim_before_and_after_only(capsys):
    check_timeline(timeline([1.0, 2.0, 9.0]), "rg-a", off=3.0, on=8.0)
    assert "rg-a: 2 answers before, 0 while not ready, 1 after" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("victim_at", "complaint"),
    [
        ([1.0, 5.0, 9.0], r"no answer from rg-a between 3.0 s and 8.0 s; saw \[5.0\]"),
        ([1.0, 2.0], "answers from rg-a after 8.0 s"),
        ([9.0], "answers from rg-a before 3.0 s"),
    ],
)
def test_an_answer_while_not_ready_or_none_around_it_fails(victim_at, complaint):
    with pytest.raises(CheckFailed, match=complaint):
        check_timeline(timeline(victim_at), "rg-a", off=3.0, on=8.0)


def test_the_timeline_needs_all_180_answers():
    with pytest.raises(CheckFailed, match="180 requests; saw 179"):
        check_timeline(timeline([1.0, 9.0])[:-1], "rg-a", off=3.0, on=8.0)
    with pytest.raises(CheckFailed, match="every request answered; saw 1"):
        check_timeline([(0.0, "ERR"), *timeline([1.0, 9.0])[1:]], "rg-a", off=3.0, on=8.0)

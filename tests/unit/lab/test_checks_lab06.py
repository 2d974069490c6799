"""Lab 06's named checks over data (the Service's spec, answers, kube-proxy's rules, a
request stream's times, the clients before and after a silence): each passes on what a working
lab shows and fails, saying what it saw, on what a broken one would."""

from __future__ import annotations

import pytest

from lab_kit.lab.checks import CheckFailed
from lab_kit.lab.checks.lab06 import (
    check_client_ip,
    check_kept_connecting,
    check_none_spreads,
    check_rebalanced,
    check_recent_rules,
    check_timeline,
    check_window_refused,
    check_window_rules,
)
from lab_kit.lab.proxy_view import RulesText

CHAIN, CLUSTER_IP = "KUBE-SVC-FLNJ4FGQ5UX5NSDC", "10.96.0.50"
SEP_OF = {f"pod-{i}": f"KUBE-SEP-{i}" for i in range(4)}


class FakeLab:
    def __init__(self, spec: dict):
        self.spec = spec

    def get(self, kind: str, name: str | None = None, **kwargs) -> dict:
        return {"metadata": {"name": name}, "spec": self.spec}


def test_none_spreads_over_four_pods():
    spread = [f"pod-{i % 4}" for i in range(100)]
    check_none_spreads({"sessionAffinity": "None"}, spread)
    with pytest.raises(CheckFailed, match="sessionAffinity None"):
        check_none_spreads({"sessionAffinity": "ClientIP"}, spread)
    with pytest.raises(CheckFailed, match="more than 5"):
        check_none_spreads(
            {"sessionAffinity": "None"}, ["pod-0"] * 97 + ["pod-1", "pod-2", "pod-3"]
        )


def test_client_ip_sticks_with_the_default_window():
    spec = {"sessionAffinity": "ClientIP", "clusterIP": CLUSTER_IP,
            "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10800}}}  # fmt: skip
    assert check_client_ip(FakeLab(spec), CLUSTER_IP, ["pod-2"] * 100) == "pod-2"
    with pytest.raises(CheckFailed, match="one pod answered all 100"):
        check_client_ip(FakeLab(spec), CLUSTER_IP, ["pod-2"] * 99 + ["pod-1"])
    with pytest.raises(CheckFailed, match="10800"):
        check_client_ip(
            FakeLab({**spec, "sessionAffinityConfig": None}), CLUSTER_IP, ["pod-2"] * 100
        )


def recent_rules(
    seconds: int = 10800, checks_first: bool = True, set_on_dnat: bool = True
) -> RulesText:
    checks = [f"-A {CHAIN} -m recent --rcheck --seconds {seconds} --reap --name {sep} --mask "
              f"255.255.255.255 --rsource -j {sep}" for sep in SEP_OF.values()]  # fmt: skip
    randoms = [
        f"-A {CHAIN} -m statistic --mode random --probability 0.25 -j {sep}"
        for sep in SEP_OF.values()
    ]
    lines = checks + randoms if checks_first else randoms + checks
    recent = "-m recent --set --name {} --mask 255.255.255.255 --rsource " if set_on_dnat else ""
    lines += [f"-A {sep} -p tcp {recent.format(sep)}-m tcp -j DNAT --to-destination 10.244.1.{i}:8080"
              for i, sep in enumerate(SEP_OF.values())]  # fmt: skip
    return RulesText("\n".join(lines))


def test_recent_rules_before_the_random_ones():
    check_recent_rules(recent_rules(), CHAIN, SEP_OF)
    with pytest.raises(CheckFailed, match="before the random ones"):
        check_recent_rules(recent_rules(checks_first=False), CHAIN, SEP_OF)
    with pytest.raises(CheckFailed, match="--sets its list"):
        check_recent_rules(recent_rules(set_on_dnat=False), CHAIN, SEP_OF)


def test_window_refused_and_its_seconds():
    refused = "spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: 86401: must be..."
    config = {"sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10800}}}
    check_window_refused(FakeLab(config), refused)
    with pytest.raises(CheckFailed, match="86401 refused"):
        check_window_refused(FakeLab(config), "")
    check_window_rules(recent_rules(seconds=3), CHAIN)
    with pytest.raises(CheckFailed, match="--seconds 3"):
        check_window_rules(recent_rules(), CHAIN)


def stream(times: list[float]) -> list[str]:
    return [f"{t} {{}}" for t in times]


def test_kept_connecting_longer_than_the_window():
    times = [i * 0.5 for i in range(10)]  # 4.5 s, gaps of 0.5 s
    assert check_kept_connecting(stream(times), {"pod-1"}) == times
    with pytest.raises(CheckFailed, match="no gap near 3 s"):
        check_kept_connecting(stream([0, 0.5, 3.2, 3.7]), {"pod-1"})
    with pytest.raises(CheckFailed, match="all to one pod"):
        check_kept_connecting(stream(times), {"pod-1", "pod-2"})


def test_rebalanced_after_the_silence():
    before = {"a": ["pod-1"] * 5, "b": ["pod-2"] * 5}
    after = {"a": ["pod-3"] * 5, "b": ["pod-2"] * 5}
    check_rebalanced(before, after, ["a"])
    with pytest.raises(CheckFailed, match="some client re-balanced"):
        check_rebalanced(before, before, [])
    with pytest.raises(CheckFailed, match="sticky in each burst"):
        check_rebalanced(before, {**after, "b": ["pod-1", "pod-2"]}, ["a"])


def test_timeline_silence_then_one_pod():
    samples = [(0.0, "pod-1"), (1.0, "pod-1"), (4.5, "pod-2"), (4.6, "pod-2")]
    check_timeline(samples, 2, 1.0, ["pod-2", "pod-2"])
    with pytest.raises(CheckFailed, match="a silence longer than the window"):
        check_timeline(samples, 2, 2.0, ["pod-2"])
    with pytest.raises(CheckFailed, match="one pod again"):
        check_timeline(samples[:3] + [(4.7, "pod-3")], 2, 1.0, ["pod-2"])

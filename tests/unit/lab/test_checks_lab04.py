"""Lab 04's named checks over data (resolv.conf, dig replies, getent results, DNS questions):
each passes on what a working lab shows and fails, saying what it saw, on what a broken one
would."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from lab_kit.lab.checks import CheckFailed
from lab_kit.lab.checks.lab04 import (
    FQDN,
    check_forwarded,
    check_full_name,
    check_getent,
    check_late_service,
    check_resolv_conf,
    check_short_names,
    check_trailing_dot,
)

CLUSTER_IP = "10.96.0.70"
RESOLV = """search default.svc.cluster.local svc.cluster.local cluster.local
nameserver 10.96.0.10
options ndots:5
"""


def run(returncode: int = 0, stdout: str = "") -> SimpleNamespace:
    return SimpleNamespace(returncode=returncode, stdout=stdout)


def reply(status: str = "NOERROR", answers: list | None = None, flags=("qr", "aa", "rd"),
          server: str = "10.96.0.10#53(10.96.0.10)") -> SimpleNamespace:  # fmt: skip
    return SimpleNamespace(status=status, answers=answers or [], flags=list(flags), server=server)


def test_resolv_conf_of_a_cluster_first_pod():
    assert check_resolv_conf(RESOLV).servers == ["10.96.0.10"]
    with pytest.raises(CheckFailed, match="ndots:5"):
        check_resolv_conf(RESOLV.replace("ndots:5", "ndots:1"))


def test_full_name_authoritative_with_ttl_30():
    good = reply(answers=[(FQDN, 30, "A", CLUSTER_IP)])
    check_full_name(good, CLUSTER_IP)
    with pytest.raises(CheckFailed, match="authoritative"):
        check_full_name(reply(answers=good.answers, flags=("qr", "rd")), CLUSTER_IP)
    with pytest.raises(CheckFailed, match="answered by kube-dns"):
        check_full_name(reply(answers=good.answers, server="8.8.8.8#53"), CLUSTER_IP)


def test_short_names_through_the_search_list():
    short = {
        "random-generator": reply(answers=[(FQDN, 30, "A", CLUSTER_IP)]),
        "random-generator.default": reply(answers=[(FQDN, 30, "A", CLUSTER_IP)]),
        "kube-dns.kube-system": reply(
            answers=[("kube-dns.kube-system.svc.cluster.local.", 30, "A", "10.96.0.10")]
        ),
        "kube-dns": reply("NXDOMAIN"),
    }
    check_short_names(short, CLUSTER_IP)
    with pytest.raises(CheckFailed, match="kube-dns alone: NXDOMAIN"):
        check_short_names({**short, "kube-dns": short["kube-dns.kube-system"]}, CLUSTER_IP)


def test_getent_finds_the_short_name_not_the_bare_other_namespace():
    check_getent(run(0, f"{CLUSTER_IP}       {FQDN.rstrip('.')}\n"), run(2), CLUSTER_IP)
    with pytest.raises(CheckFailed, match="getent exit 2"):
        check_getent(
            run(0, f"{CLUSTER_IP} {FQDN.rstrip('.')}"), run(0, "10.96.0.10 kube-dns"), CLUSTER_IP
        )


def test_forwarded_and_the_trailing_dot():
    check_forwarded([("A", "example.com."), ("AAAA", "example.com.")])
    with pytest.raises(CheckFailed, match="example.com. only"):
        check_forwarded([("A", "example.com.cluster.local."), ("A", "example.com.")])
    asked = [(t, n) for t in ("AAAA", "A") for n in ("a.", "b.", "c.", "example.com.")]
    dotted = [("AAAA", "example.com."), ("A", "example.com.")]
    check_trailing_dot(asked, dotted, run(0, "203.0.113.10 example.com"))
    with pytest.raises(CheckFailed, match="example.com. only"):
        check_trailing_dot(asked, asked, run(0, "203.0.113.10 example.com"))


def test_late_service_in_dns_not_in_the_environment():
    late_ip = "10.96.0.71"
    late = reply(answers=[("random-generator-late.default.svc.cluster.local.", 30, "A", late_ip)])
    env = f"RANDOM_GENERATOR_SERVICE_HOST={CLUSTER_IP}\nHOME=/root"
    check_late_service(late, late_ip, env, CLUSTER_IP)
    with pytest.raises(CheckFailed, match="the later one never"):
        check_late_service(
            late, late_ip, env + f"\nRANDOM_GENERATOR_LATE_SERVICE_HOST={late_ip}", CLUSTER_IP
        )
    with pytest.raises(CheckFailed, match="NOERROR"):
        check_late_service(reply("NXDOMAIN"), late_ip, env, CLUSTER_IP)

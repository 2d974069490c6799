"""Reading cluster names: CoreDNS parse_test.go's shapes, dashed addresses, reverse names."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lab_kit.render.dns import is_cluster_name, is_reverse_name
from lab_kit.render.dns.names import (
    Request,
    dashed_ip,
    is_ip,
    is_ipv4,
    parse_request,
    pod_label_ip,
    reverse_ipv4,
)


def rel(name: str) -> tuple[str, ...]:
    return tuple(name.split(".")) if name else ()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("", Request()),
        ("svc", Request()),
        ("pod", Request()),
        ("testns.svc", Request("svc", "testns")),
        ("svc1.testns.svc", Request("svc", "testns", "svc1")),
        ("ep1a.svc1.testns.svc", Request("svc", "testns", "svc1", endpoint="ep1a")),
        (
            "_http._tcp.svc1.testns.svc",
            Request("svc", "testns", "svc1", port="http", protocol="tcp"),
        ),
        # Two labels are a port and a protocol, underscores or not (no multicluster).
        ("http.tcp.svc1.testns.svc", Request("svc", "testns", "svc1", port="http", protocol="tcp")),
        (
            "__http._tcp.svc1.testns.svc",
            Request("svc", "testns", "svc1", port="_http", protocol="tcp"),
        ),
        ("10-244-1-5.default.pod", Request("pod", "default", "10-244-1-5")),
        ("default.pod", Request("pod", "default")),
    ],
)
def test_parse_request_shapes(name, expected):
    assert parse_request(rel(name)) == expected


@pytest.mark.parametrize(
    "name",
    [
        "foo",  # neither svc nor pod
        "dns-version",
        "a.b.c.svc1.testns.svc",  # too long
        "x.y._http._tcp.svc1.testns.svc",
        "svc1.testns.svx",
    ],
)
def test_parse_request_rejects(name):
    assert parse_request(rel(name)) is None


def test_dashed_ip_is_the_default_endpoint_name():
    assert dashed_ip("10.244.1.5") == "10-244-1-5"
    assert dashed_ip("5678:abcd::1") == "5678-abcd--1"


@pytest.mark.parametrize(
    ("label", "ip"),
    [
        ("10-244-1-5", "10.244.1.5"),
        ("172-0-0-2", "172.0.0.2"),
        ("fd00--1", "fd00::1"),  # not three dashes: read as IPv6
        ("256-1-1-1", None),
        ("10-244-1", None),
        ("blah", None),
        ("010-1-1-1", None),  # leading zeros are not an address (Go's ParseIP agrees)
        ("1-2-3-4-5", None),
    ],
)
def test_pod_label_ip(label, ip):
    assert pod_label_ip(label) == ip


def test_reverse_ipv4():
    assert reverse_ipv4(("1", "0", "96", "10")) == "10.96.0.1"
    assert reverse_ipv4(("0", "96", "10")) is None  # a partial name holds no address
    assert reverse_ipv4(("1", "0", "96", "300")) is None
    assert reverse_ipv4(("01", "0", "96", "10")) is None


def test_is_cluster_name_is_case_insensitive_and_label_exact():
    assert is_cluster_name("web.default.svc.cluster.local.")
    assert is_cluster_name("WEB.Default.SVC.Cluster.Local")
    assert is_cluster_name("cluster.local")
    assert not is_cluster_name("notcluster.local")
    assert not is_cluster_name("example.com")
    assert not is_cluster_name("1.0.96.10.in-addr.arpa")
    assert is_cluster_name("web.default.svc.lab.test", "lab.test.")


def test_is_reverse_name():
    assert is_reverse_name("1.0.96.10.in-addr.arpa.")
    assert is_reverse_name("IN-ADDR.ARPA")
    assert is_reverse_name("1.0.0.0.ip6.arpa")
    assert not is_reverse_name("in-addr.arpa.example.com")


def _parses(text: str, parse) -> bool:
    try:
        parse(text)
    except ValueError:
        return False
    return True


def _label_by_ipaddress(label: str) -> str | None:
    """pod_label_ip as it was, through ipaddress only (its regex must agree with it)."""
    if label.count("-") == 3 and "--" not in label:
        text = label.replace("-", ".")
    else:
        text = label.replace("-", ":")
    return str(ipaddress.ip_address(text)) if _parses(text, ipaddress.ip_address) else None


OCTETS = st.sampled_from(["0", "00", "01", "1", "9", "10", "99", "100", "199", "249", "250",
                          "255", "256", "260", "300", "999", "1000", "", "a", "fd00", "\u0663",
                          "\u00b2", " 1", "1\n"])  # fmt: skip


@given(st.lists(OCTETS, min_size=1, max_size=6), st.sampled_from(["-", ".", "--", ":"]))
def test_the_quick_ipv4_checks_agree_with_ipaddress(octets, separator):
    text = separator.join(octets)
    assert pod_label_ip(text) == _label_by_ipaddress(text)
    assert is_ipv4(text) == _parses(text, ipaddress.IPv4Address)
    assert is_ip(text) == _parses(text, ipaddress.ip_address)

"""Reading the Corefile: kubeadm's as the lab deploys it, and what CoreDNS refuses."""

from __future__ import annotations

import pytest

from lab_kit.render.dns.corefile import KUBEADM_COREFILE, CorefileError, parse


def test_kubeadms_corefile():
    config = parse(KUBEADM_COREFILE)
    assert (config.port, config.domain, config.ttl, config.pods_mode) == (
        53,
        "cluster.local",
        30,
        "insecure",
    )
    assert config.forward_to == ["/etc/resolv.conf"]
    assert config.cache_s == 30 and config.cache_disabled == {
        "success": ["cluster.local"],
        "denial": ["cluster.local"],
    }
    assert config.loadbalance
    assert (config.health_port, config.ready_port, config.metrics_port) == (8080, 8181, 9153)
    assert config.ignored == ["errors", "loop", "reload"]


def test_the_plugins_defaults_when_options_are_left_out():
    config = parse(".:1053 {\n kubernetes example.local\n forward . 203.0.113.10:5353\n}\n")
    assert (config.port, config.domain, config.ttl, config.pods_mode) == (
        1053,
        "example.local",
        5,
        "disabled",
    )
    assert config.forward_to == ["203.0.113.10:5353"]
    assert (config.cache_s, config.loadbalance, config.ready_port) == (0, False, None)


def test_comments_are_ignored_and_a_block_must_end_its_line():
    config = parse(
        "# the lab\n.:53 { # server\n kubernetes cluster.local { # zone\n ttl 7\n }\n}\n"
    )
    assert config.ttl == 7
    with pytest.raises(CorefileError, match="Corefile:2 - Error during parsing: unexpected brace"):
        parse(".:53 {\n kubernetes cluster.local { ttl 7 }\n}\n")


@pytest.mark.parametrize(
    "body,message",
    [
        (
            "kubernetes cluster.local {\n pods sometimes\n }",
            "Corefile:3 - Error during parsing: wrong value for pods: sometimes",
        ),
        ("kubernetes cluster.local {\n ttl 4000\n }", "ttl must be in range [0, 3600]: 4000"),
        ("kubernetes cluster.local {\n ttl -1\n }", "ttl must be in range [0, 3600]: -1"),
        ("forward .", "plugin/forward: Corefile:2 - Error during parsing: Wrong argument count"),
        ("kubernetes cluster.local {\n ttl 5", "unmatched open brace"),
    ],
)
def test_what_coredns_refuses_names_the_line(body, message):
    with pytest.raises(CorefileError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse(f".:53 {{\n{body}\n}}\n")


def test_an_empty_corefile_is_an_error():
    with pytest.raises(CorefileError, match="no server block"):
        parse("# nothing\n")

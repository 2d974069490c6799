"""Reading the Corefile: kubeadm's as the lab deploys it, and what CoreDNS 1.11.3 refuses,
in its words (cases from plugin/kubernetes/setup_test.go and caddy's parser)."""

from __future__ import annotations

import pytest

from lab_kit.render.dns.corefile import KUBEADM_COREFILE, CorefileError, lex, parse, zone_names

PATH = "/etc/coredns/Corefile"  # what kubeadm's Deployment passes as -conf


def test_kubeadms_corefile():
    config = parse(KUBEADM_COREFILE)
    assert (config.port, config.domain, config.ttl, config.pods_mode) == (
        53,
        "cluster.local",
        30,
        "insecure",
    )
    assert config.zones == ["cluster.local", "in-addr.arpa", "ip6.arpa"]
    assert config.server_zone == "."  # what `prometheus` labels every request with
    assert config.fallthrough == ["in-addr.arpa", "ip6.arpa"]
    assert config.forward_to == ["/etc/resolv.conf"]
    assert config.cache_s == 30 and config.cache_disabled == {
        "success": ["cluster.local"],
        "denial": ["cluster.local"],
    }
    assert config.loadbalance and config.reload
    assert (config.health_port, config.ready_port, config.metrics_port) == (8080, 8181, 9153)
    assert config.ignored == ["errors", "loop"]
    assert config.unsupported == []  # nothing kubeadm writes is left undone


def test_the_plugins_defaults_when_options_are_left_out():
    config = parse(".:1053 {\n kubernetes example.local\n forward . 203.0.113.10:5353\n}\n")
    assert (config.port, config.domain, config.ttl, config.pods_mode) == (
        1053,
        "example.local",
        5,
        "disabled",
    )
    assert (config.zones, config.fallthrough) == (["example.local"], None)
    assert parse("Example.Local:1053 {\n errors\n}\n").server_zone == "example.local."
    assert config.forward_to == ["203.0.113.10:5353"]
    assert (config.cache_s, config.loadbalance, config.ready_port, config.reload) == (
        0,
        False,
        None,
        False,
    )


def test_comments_quotes_and_one_line_blocks_read_as_caddy_reads_them():
    config = parse(
        '# the lab\n.:53 { # server\n kubernetes "cluster.local" { # zone\n ttl 7\n }\n}\n'
    )
    assert (config.domain, config.ttl) == ("cluster.local", 7)
    assert parse(".:53 {\n kubernetes cluster.local { ttl 9 }\n}\n").ttl == 9
    assert [(t.line, t.text) for t in lex('a "b c"\n# x\nd#e\n')] == [
        (1, "a"),
        (1, "b c"),
        (3, "d"),
    ]


def test_zones_and_fallthrough_are_normalized_as_coredns_does():
    config = parse(".:53 {\n kubernetes Cluster.Local. 10.96.0.0/12 {\n fallthrough\n }\n}\n")
    assert config.domain == "cluster.local" and config.fallthrough == ["."]
    assert config.zones[1] == "96.10.in-addr.arpa" and config.zones[16] == "111.10.in-addr.arpa"
    assert zone_names("192.168.0.0/16") == ["168.192.in-addr.arpa"]
    assert zone_names("10.0.0.0/7") == ["10.in-addr.arpa", "11.in-addr.arpa"]
    assert zone_names("fd00::/8") == ["d.f.ip6.arpa"]
    assert parse(".:53 {\n kubernetes {\n }\n}\n").zones == ["."]  # the server block's zone
    fall = parse(".:53 {\n kubernetes cluster.local {\n fallthrough ip6.arpa foo.com\n }\n}")
    assert fall.fallthrough == ["ip6.arpa", "foo.com"]


def test_options_coredns_knows_but_the_lab_does_not_do_are_named():
    config = parse(
        ".:53 {\n kubernetes cluster.local {\n namespaces demo test\n noendpoints\n"
        " ignore empty_service\n }\n forward . 1.1.1.1 {\n policy sequential\n }\n}\n"
    )
    assert config.unsupported == [
        "kubernetes namespaces",
        "kubernetes noendpoints",
        "kubernetes ignore empty_service",
        "forward policy",
    ]


def body(text: str) -> str:
    return f".:53 {{\n{text}\n}}\n"


@pytest.mark.parametrize(
    ("corefile", "message", "syntax"),
    [
        # Unknown options and plugins (regression, issue 12: the lab accepted them silently).
        (
            body("kubernetes cluster.local {\n podz insecure\n}"),
            f"plugin/kubernetes: {PATH}:3 - Error during parsing: unknown property 'podz'",
            False,
        ),
        (
            body("kubernets cluster.local"),
            f"{PATH}:2 - Error during parsing: Unknown directive 'kubernets'",
            False,
        ),
        (
            body("forward . 1.1.1.1 {\n max_concurent 10\n}"),
            f"plugin/forward: {PATH}:3 - Error during parsing: unknown property 'max_concurent'",
            False,
        ),
        (
            body("cache 30 {\n disable successes cluster.local\n}"),
            'plugin/cache: cache type for disable must be "success" or "denial"',
            False,
        ),
        (
            body("cache 30 {\n prefech 10\n}"),
            f"plugin/cache: {PATH}:3 - Error during parsing: Wrong argument count or unexpected"
            " line ending after 'prefech'",
            False,
        ),
        (
            body("health {\n lameduck\n}"),
            f"plugin/health: {PATH}:3 - Error during parsing: Wrong argument count",
            False,
        ),
        # setup_test.go's negative cases
        (
            body("kubernetes coredns.local {\n endpoint\n}"),
            "Wrong argument count or unexpected line ending after 'endpoint'",
            False,
        ),
        (
            body("kubernetes coredns.local {\n namespaces\n}"),
            "Wrong argument count or unexpected line ending",
            False,
        ),
        (
            body("kubernetes coredns.local {\n pods giant_seed\n}"),
            "plugin/kubernetes: wrong value for pods: giant_seed,  must be one of: disabled,"
            " verified, insecure",
            False,
        ),
        (
            body("kubernetes coredns.local\nkubernetes cluster.local"),
            "plugin/kubernetes: this plugin can only be used once per Server Block",
            False,
        ),
        (
            body("kubernetes coredns.local {\n namespaces foo bar\n namespace_labels a=b\n}"),
            "Error during parsing: namespaces and namespace_labels cannot both be set",
            False,
        ),
        (
            body("kubernetes 10.0.0.0/8 1.in-addr.arpa"),
            "plugin/kubernetes: non-reverse zone name must be used",
            False,
        ),
        (
            body("kubernetes cluster.local {\n ttl 4000\n}"),
            "ttl must be in range [0, 3600]: 4000",
            False,
        ),  # fmt: skip
        (
            body("kubernetes cluster.local {\n ttl -1\n}"),
            "ttl must be in range [0, 3600]: -1",
            False,
        ),  # fmt: skip
        (
            body("kubernetes cluster.local {\n ttl 3s\n}"),
            'plugin/kubernetes: strconv.Atoi: parsing "3s": invalid syntax',
            False,
        ),
        (
            body("forward ."),
            f"plugin/forward: {PATH}:2 - Error during parsing: Wrong argument count or"
            " unexpected line ending after '.'",
            False,
        ),
        # caddy's parser
        (
            ".:53 {\n errors\n",
            f"{PATH}:2 - Syntax error: Unexpected token 'errors', expecting '}}'",
            True,
        ),  # fmt: skip
        (
            ".:53 {\n kubernetes cluster.local {\n ttl 5\n",
            f"{PATH}:3 - Error during parsing: Unexpected EOF",
            True,
        ),
        (
            body("kubernetes cluster.local }"),
            "Unexpected '}' because no matching opening brace",
            True,
        ),
    ],
)
def test_what_coredns_refuses_in_its_words(corefile, message, syntax):
    with pytest.raises(CorefileError) as refused:
        parse(corefile, PATH)
    assert message in str(refused.value)
    assert refused.value.syntax == syntax  # the reload plugin tells these apart


def test_plugins_are_set_up_in_plugin_cfg_order():
    """Two mistakes: CoreDNS reports the one of the plugin set up first (cache before
    kubernetes), not the one written first."""
    with pytest.raises(CorefileError, match="plugin/cache"):
        parse(body("kubernetes cluster.local {\n podz\n}\ncache 30 {\n prefech\n}"))


def test_a_missing_last_brace_after_a_block_is_accepted_as_caddy_accepts_it():
    """caddy's parser stops at the end of the file on the block's own `}`: CoreDNS loads
    this (a quirk, kept so the lab refuses nothing CoreDNS loads)."""
    config = parse(".:53 {\n kubernetes cluster.local {\n ttl 7\n }\n")
    assert config.ttl == 7


def test_an_empty_corefile_is_an_error():
    with pytest.raises(CorefileError, match="no server block"):
        parse("# nothing\n")

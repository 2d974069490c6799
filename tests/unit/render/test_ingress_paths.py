"""Path matching: the Kubernetes docs' table (website ingress.md), the conformance suite's
path_rules.feature, and a property: the nginx locations we render choose what the spec says."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ingress_objects import backed, config, ingress, path, rule

from lab_kit.render.ingress import route
from lab_kit.render.ingress.match import best_path, normalize_uri, path_matches

# --- the docs' table (kubernetes/website content/en/docs/concepts/services-networking/ingress.md)
DOCS_TABLE = [
    # (pathType, rule paths, request path, matches?)
    ("Prefix", ["/"], "/aaa/bbb", True),
    ("Exact", ["/foo"], "/foo", True),
    ("Exact", ["/foo"], "/bar", False),
    ("Exact", ["/foo"], "/foo/", False),
    ("Exact", ["/foo/"], "/foo", False),
    ("Prefix", ["/foo"], "/foo", True),
    ("Prefix", ["/foo"], "/foo/", True),
    ("Prefix", ["/foo/"], "/foo", True),
    ("Prefix", ["/foo/"], "/foo/", True),
    ("Prefix", ["/aaa/bb"], "/aaa/bbb", False),
    ("Prefix", ["/aaa/bbb"], "/aaa/bbb", True),
    ("Prefix", ["/aaa/bbb/"], "/aaa/bbb", True),
    ("Prefix", ["/aaa/bbb"], "/aaa/bbb/", True),
    ("Prefix", ["/aaa/bbb"], "/aaa/bbb/ccc", True),
    ("Prefix", ["/aaa/bbb"], "/aaa/bbbxyz", False),
    ("Prefix", ["/", "/aaa"], "/aaa/ccc", True),
    ("Prefix", ["/", "/aaa", "/aaa/bbb"], "/aaa/bbb", True),
    ("Prefix", ["/", "/aaa", "/aaa/bbb"], "/ccc", True),
    ("Prefix", ["/aaa"], "/ccc", False),
]


def _one_host(path_type: str, rule_paths: list[str]) -> list:
    paths = [path(p, path_type, f"svc{i}") for i, p in enumerate(rule_paths)]
    services = [o for i in range(len(rule_paths)) for o in backed(f"svc{i}")]
    return [ingress("docs", rule("docs.example", *paths)), *services]


@pytest.mark.parametrize(("path_type", "rule_paths", "request_path", "matches"), DOCS_TABLE)
def test_the_docs_table(
    path_type: str, rule_paths: list[str], request_path: str, matches: bool
) -> None:
    decision = route(
        config(*_one_host(path_type, rule_paths)), host="docs.example", path=request_path
    )
    assert decision.status == (200 if matches else 404)
    if matches:  # the spec's winner, computed independently
        winner = best_path([(path_type, p) for p in rule_paths], request_path)
        assert winner is not None and decision.path == winner[1]


def test_longest_prefix_wins_whatever_the_order() -> None:
    for order in (["/", "/aaa", "/aaa/bbb"], ["/aaa/bbb", "/", "/aaa"]):
        c = config(*_one_host("Prefix", order))
        assert route(c, host="docs.example", path="/aaa/ccc").path == "/aaa"
        assert route(c, host="docs.example", path="/aaa/bbb").path == "/aaa/bbb"
        assert route(c, host="docs.example", path="/ccc").path == "/"


# --- ingress-controller-conformance features/path_rules.feature ------------------------------
def _conformance() -> list:
    return [
        ingress(
            "path-rules",
            rule("exact-path-rules", path("/foo", "Exact", "foo-exact")),
            rule(
                "prefix-path-rules",
                path("/foo", "Prefix", "foo-prefix"),
                path("/aaa/bbb", "Prefix", "aaa-slash-bbb-prefix"),
                path("/aaa", "Prefix", "aaa-prefix"),
            ),
            rule(
                "mixed-path-rules",
                path("/foo", "Prefix", "foo-prefix"),
                path("/foo", "Exact", "foo-exact"),
            ),
            rule(
                "trailing-slash-path-rules",
                path("/aaa/bbb/", "Prefix", "aaa-slash-bbb-slash-prefix"),
                path("/foo/", "Exact", "foo-slash-exact"),
            ),
        ),
        *(
            o
            for name in (
                "foo-exact",
                "foo-prefix",
                "aaa-slash-bbb-prefix",
                "aaa-prefix",
                "aaa-slash-bbb-slash-prefix",
                "foo-slash-exact",
            )
            for o in backed(name)
        ),
    ]


CONFORMANCE = [
    ("exact-path-rules", "/foo", "foo-exact"),
    ("exact-path-rules", "/foo/", None),
    ("exact-path-rules", "/FOO", None),
    ("exact-path-rules", "/bar", None),
    ("prefix-path-rules", "/foo", "foo-prefix"),
    ("prefix-path-rules", "/foo/", "foo-prefix"),
    ("prefix-path-rules", "/FOO", None),
    ("prefix-path-rules", "/aaa/bbb", "aaa-slash-bbb-prefix"),
    ("prefix-path-rules", "/aaa/bbb/ccc", "aaa-slash-bbb-prefix"),
    ("prefix-path-rules", "/aaa/ccc", "aaa-prefix"),
    ("prefix-path-rules", "/aaaccc", None),
    ("mixed-path-rules", "/foo", "foo-exact"),
    ("trailing-slash-path-rules", "/aaa/bbb", "aaa-slash-bbb-slash-prefix"),
    ("trailing-slash-path-rules", "/aaa/bbb/", "aaa-slash-bbb-slash-prefix"),
    ("trailing-slash-path-rules", "/foo", None),
]


@pytest.mark.parametrize(("host", "request_path", "service"), CONFORMANCE)
def test_conformance_path_rules(host: str, request_path: str, service: str | None) -> None:
    decision = route(config(*_conformance()), host=host, path=request_path)
    if service is None:
        assert decision.status == 404
        assert decision.service == ""
    else:
        assert (decision.status, decision.service) == (200, service)
        assert decision.upstream_uri == request_path  # "the request path must be ..."


def test_the_mixed_host_renders_exact_as_the_equal_location() -> None:
    server = config(*_conformance()).server("mixed-path-rules")
    blocks = {b.text: (b.location.path_type, b.location.service) for b in server.nginx}
    assert blocks["= /foo"] == ("Exact", "foo-exact")
    assert blocks["/foo/"] == ("Prefix", "foo-prefix")


def test_an_exact_path_with_a_trailing_slash_gets_no_nginx_auto_redirect() -> None:
    """nginx would answer /foo with a 301 to /foo/ (location `= /foo/` proxies and nothing is
    named /foo); an `= /foo` to where /foo goes anyway keeps the conformance 404."""
    server = config(*_conformance()).server("trailing-slash-path-rules")
    blocks = {b.text: b.location for b in server.nginx}
    assert blocks["= /foo/"].service == "foo-slash-exact"
    assert blocks["= /foo"].is_default and blocks["= /foo"] == blocks["/"]
    c = config(
        ingress("e", rule("h", path("/foo/", "Exact", "slash"), path("/", "Prefix", "root"))),
        *backed("slash"),
        *backed("root"),
    )
    assert {b.text: b.location.service for b in c.server("h").nginx}["= /foo"] == "root"
    assert route(c, host="h", path="/foo").service == "root"


def test_implementation_specific_is_read_as_prefix_as_ingress_nginx_does() -> None:
    c = config(
        ingress("is", rule("h", path("/foo", "ImplementationSpecific", "svc"))), *backed("svc")
    )
    assert route(c, host="h", path="/foo/x").status == 200
    assert route(c, host="h", path="/foo").status == 200
    assert route(c, host="h", path="/foobar").status == 404
    assert "reads ImplementationSpecific as Prefix" in route(c, host="h", path="/foo").why[-2]


def test_nginx_normalizes_the_uri_before_matching() -> None:
    assert normalize_uri("/a//b/./c/../d?x=/y") == "/a/b/d"
    assert normalize_uri("/foo%2Fbar") == "/foo/bar"
    assert normalize_uri("/..") is None
    c = config(*_one_host("Exact", ["/foo/bar"]))
    assert route(c, host="docs.example", path="//foo//bar?q=1").status == 200
    assert route(c, host="docs.example", path="/../x").status == 400


# --- property: rendered nginx locations == the spec -------------------------------------------
SEGMENTS = st.sampled_from(["a", "aa", "b", "ab"])
PATHS = st.lists(SEGMENTS, min_size=0, max_size=3).map(lambda s: "/" + "/".join(s))
RULE_PATHS = st.tuples(PATHS, st.booleans()).map(
    lambda t: t[0] + "/" if t[1] and t[0] != "/" else t[0]
)
RULES = st.lists(
    st.tuples(st.sampled_from(["Exact", "Prefix"]), RULE_PATHS), min_size=1, max_size=5, unique=True
)


@settings(max_examples=300, deadline=None)
@given(rules=RULES, request=st.tuples(PATHS, st.booleans()))
def test_nginx_locations_choose_what_the_spec_chooses(
    rules: list[tuple[str, str]], request: tuple[str, bool]
) -> None:
    request_path = request[0] + ("/" if request[1] and request[0] != "/" else "")
    paths = [path(p, t, f"svc{i}") for i, (t, p) in enumerate(rules)]
    c = config(
        ingress("prop", rule("h", *paths)),
        *(o for i in range(len(rules)) for o in backed(f"svc{i}")),
    )
    decision = route(c, host="h", path=request_path)
    kept = [(loc.path_type, loc.path) for loc in c.server("h").locations if not loc.is_default]
    winner = best_path(kept, request_path)
    if winner is None:
        assert decision.status == 404
    else:
        assert path_matches(decision.path_type, decision.path, request_path)
        # Equal after the trailing slash is ignored: the spec cannot tell /a from /a/ apart.
        assert (decision.path_type, decision.path.rstrip("/")) == (winner[0], winner[1].rstrip("/"))

"""Lab 14's named checks over data (answers through the Ingress address, the controller's
explanations, its nginx.conf, the drawing): each passes on what a working lab shows and fails,
saying what it saw, on what a broken one would."""

from __future__ import annotations

import json
from collections import Counter
from types import SimpleNamespace

import pytest

from lab_kit.lab.checks import CheckFailed
from lab_kit.lab.checks.lab14 import (
    ADDRESS,
    ROUTED,
    check_default_backend_answers,
    check_default_backend_explained,
    check_explanations_agree,
    check_ingress_drawn,
    check_no_pods_503,
    check_not_found,
    check_routed,
    check_www_locations,
)
from lab_kit.lab.ingress_lab import Answer
from lab_kit.lab.ingress_view import Explanation
from lab_kit.render.ingress.model import Endpoint
from lab_kit.render.ingress.route import Decision

HOSTS = ["shop.example.com", "api.example.com", "blog.example.com", *["www.example.com"] * 6,
         "a.b.example.com", "example.com", "nothing.test"]  # fmt: skip
PATHS = ["/", "/users", "/", "/", "/api", "/api/", "/apiary", "/api/orders", "/api/orders/7",
         "/", "/", "/"]  # fmt: skip


def echo(service: str, host: str = "", path: str = "/", status: int = 200) -> Answer:
    if service == "random-generator":
        body = json.dumps({"id": "1", "random": 7})
    else:
        body = json.dumps({"service": service, "pod": f"{service}-7d9f-x2k4p"})
    return Answer(ADDRESS, host, path, status, body)


def explained(
    status: int, service: str = "", pods: tuple[str, ...] = (), **decision
) -> Explanation:
    endpoints = tuple(Endpoint("10.244.1.9", 3000, pod) for pod in pods)
    return Explanation("GET /", Decision(status, decision.pop("server", "_"), service=service,
                                         endpoints=endpoints, **decision))  # fmt: skip


def test_the_default_backend_answers_from_four_replicas():
    answers = [echo("random-generator")] * 20
    check_default_backend_answers(answers, Counter({"a": 5, "b": 5, "c": 5, "d": 5}))
    with pytest.raises(CheckFailed, match="answers from the book's 4 replicas"):
        check_default_backend_answers(answers, Counter({"a": 10, "b": 10}))
    with pytest.raises(CheckFailed, match=r"all 200; saw \{200, 502\}"):
        check_default_backend_answers([*answers[:19], echo("random-generator", status=502)],
                                      Counter({"a": 5, "b": 5, "c": 5, "d": 5}))  # fmt: skip


def test_the_default_backend_is_explained():
    pods = ("rg-1", "rg-2", "rg-3", "rg-4")
    check_default_backend_explained(
        explained(200, "random-generator", pods, ingress="default/random-generator")
    )
    with pytest.raises(CheckFailed, match="on server _"):
        check_default_backend_explained(explained(200, "web", pods, ingress="default/by-host"))
    with pytest.raises(CheckFailed, match="4 pods"):
        check_default_backend_explained(
            explained(200, "random-generator", pods[:2], ingress="default/random-generator")
        )


def table(served=ROUTED) -> list[Answer]:
    return [echo(s, h, p) for s, h, p in zip(served, HOSTS, PATHS, strict=True)]


def test_each_request_goes_where_its_rule_says():
    check_routed(table())
    wrong = list(ROUTED)
    wrong[5] = "web"  # /api/ to web: Prefix /api should have taken it
    with pytest.raises(CheckFailed, match="served by"):
        check_routed(table(wrong))
    stray = [
        *table()[:-1],
        Answer(ADDRESS, "nothing.test", "/", 200, '{"service": "web", "pod": "api-1"}'),
    ]
    with pytest.raises(CheckFailed, match="served by"):
        check_routed(stray)
    odd = table()
    odd[0] = Answer(ADDRESS, HOSTS[0], "/", 200, '{"service": "shop", "pod": "web-5c-abcde"}')
    with pytest.raises(
        CheckFailed, match=r"each answer from a pod of that Service; saw \[\('shop'"
    ):
        check_routed(odd)


def test_the_explanations_agree_with_the_answers():
    answers = table()

    def ingress_explain(url: str, host: str) -> Explanation:
        path = url.split(ADDRESS, 1)[1]
        if (host, path) == ("www.example.com", "/api/orders"):
            return explained(
                200, "shop", ("shop-7d9f-x2k4p",), path="/api/orders", path_type="Exact"
            )
        if (host, path) == ("www.example.com", "/api/orders/7"):
            return explained(200, "api", ("api-7d9f-x2k4p",), path="/api", path_type="Prefix")
        served = ROUTED[list(zip(HOSTS, PATHS, strict=True)).index((host, path))]
        pods = () if served == "random-generator" else (f"{served}-7d9f-x2k4p",)
        rule_host = "*.example.com" if host == "blog.example.com" else host
        return explained(200, served, pods, rule_host=rule_host)

    check_explanations_agree(SimpleNamespace(ingress_explain=ingress_explain), answers)
    answers[2] = echo("shop", "blog.example.com", "/")
    with pytest.raises(
        CheckFailed, match="blog.example.com/: the explanation says 200 from 'shop'"
    ):
        check_explanations_agree(SimpleNamespace(ingress_explain=ingress_explain), answers)


def test_404_and_503_from_the_controller():
    page404 = Answer(ADDRESS, "a.b.example.com", "/", 404, "<h1>404 Not Found</h1>")
    check_not_found([page404] * 3, explained(404))
    with pytest.raises(CheckFailed, match="explained: 404 from server _, no Service"):
        check_not_found([page404] * 3, explained(404, "web"))
    page503 = Answer(
        ADDRESS, "shop.example.com", "/", 503, "<h1>503 Service Temporarily Unavailable</h1>"
    )
    down = [page503, page503, echo("api", "www.example.com", "/api/orders/7")]
    why = explained(503, "shop", why=("shop has no ready endpoints",))
    check_no_pods_503(down, why)
    with pytest.raises(CheckFailed, match=r"503, 503, then 200; saw \[503, 200, 200\]"):
        check_no_pods_503([page503, echo("shop"), down[2]], why)
    with pytest.raises(CheckFailed, match="the reason: no ready endpoints"):
        check_no_pods_503(down, explained(503, "shop", why=("no such host",)))


def test_the_drawing_and_the_locations():
    shown = "shop.example.com *.example.com /api/orders (Exact) /api (Prefix) no ready endpoints"
    check_ingress_drawn(SimpleNamespace(draw_ingress=lambda: SimpleNamespace(source=shown)))
    with pytest.raises(CheckFailed, match="no random-generator: its Ingress is gone"):
        check_ingress_drawn(
            SimpleNamespace(
                draw_ingress=lambda: SimpleNamespace(source=shown + " random-generator")
            )
        )
    www = """    ## server www.example.com
    server {
        location = "/api/orders" {
            return 503;
        }
        location "/api/" {
            proxy_pass http://upstream_balancer;
        }
        location = "/api" {
            proxy_pass http://upstream_balancer;
        }
        location "/" {
            proxy_pass http://upstream_balancer;
        }
    }"""
    check_www_locations(www)
    with pytest.raises(CheckFailed, match="return 503; in the = /api/orders location"):
        check_www_locations(www.replace("return 503;", "proxy_pass http://upstream_balancer;"))
    with pytest.raises(CheckFailed, match="the locations"):
        check_www_locations(www.replace('location = "/api" {', 'location "/api" {'))

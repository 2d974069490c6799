"""Lab 14's checks: the ingress controller behind one LoadBalancer address, the book's Ingress
as its default backend, host and path rules routing as the Ingress spec says (and as
`ingress_explain` says), one load balancer for many Services, the controller's own 404 and
503, the client's address passed on in X-Forwarded-For, and the nginx locations it renders."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from lab_kit.lab.checks._base import expect, passed
from lab_kit.lab.ingress_lab import http_requests

if TYPE_CHECKING:
    from lab_kit.lab.ingress_lab import Answer
    from lab_kit.lab.ingress_view import Explanation
    from lab_kit.lab.lab import Lab

ADDRESS, CLIENT_IP = "198.51.100.32", "192.0.2.10"
CONTROLLER = "ingress-nginx/ingress-nginx-controller"
# who serves the notebook's REQUESTS, in order: by-host, by-path, then the book's defaultBackend
ROUTED = ["shop", "api", "web", "web", "api", "api", "web", "shop", "api",
          *["random-generator"] * 3]  # fmt: skip


def check_controller_installed(lab: Lab) -> None:
    """The IngressClass nginx is the default one, of the controller k8s.io/ingress-nginx; the
    controller's Service is a LoadBalancer (policy Local) with the address 198.51.100.32."""
    cls = lab.get("ingressclasses", "nginx")
    controller = cls["spec"]["controller"]
    expect(controller == "k8s.io/ingress-nginx", "the controller k8s.io/ingress-nginx", controller)
    default = (
        cls["metadata"].get("annotations", {}).get("ingressclass.kubernetes.io/is-default-class")
    )
    expect(default == "true", "nginx marked the default class", default)
    svc = lab.get("services", "ingress-nginx-controller", namespace="ingress-nginx")
    kind = (svc["spec"]["type"], svc["spec"].get("externalTrafficPolicy"))
    expect(
        kind == ("LoadBalancer", "Local"), "a LoadBalancer with externalTrafficPolicy Local", kind
    )
    ingress = svc.get("status", {}).get("loadBalancer", {}).get("ingress") or [{}]
    expect(ingress[0].get("ip") == ADDRESS, f"the address {ADDRESS}", ingress)
    passed(f"IngressClass nginx (default) -> controller Service {ADDRESS}:80,443")


def check_book_ingress(lab: Lab) -> None:
    """The book's Ingress, which names no class, got the default class nginx from the
    admission, and the controller's address in its status."""
    book = lab.get("ingresses", "random-generator")
    cls = book["spec"].get("ingressClassName")
    expect(cls == "nginx", "ingressClassName nginx, filled in by the admission", cls)
    ingress = book.get("status", {}).get("loadBalancer", {}).get("ingress")
    expect(ingress == [{"ip": ADDRESS}], f"ADDRESS {ADDRESS} in the status", ingress)
    passed(f"random-generator: class nginx, ADDRESS {ADDRESS}")


def check_default_backend_answers(answers: list[Answer], replicas: Counter) -> None:
    """Every request answered 200 by the book's random generator, from all 4 replicas (the
    controller spreads them over the pods itself)."""
    statuses = {a.status for a in answers}
    expect(statuses == {200}, "all 200", statuses)
    served = {a.served_by for a in answers}
    expect(served == {"random-generator"}, "all from random-generator", served)
    expect(len(replicas) == 4, "answers from the book's 4 replicas", dict(replicas))
    passed(f"{len(answers)} requests to {ADDRESS}: all 200, from {len(replicas)} replicas "
           f"{sorted(replicas.values())}")  # fmt: skip


def check_default_backend_explained(why: Explanation) -> None:
    """No rule host, no rule path: the catch-all server `_` and the book's defaultBackend,
    its Service random-generator with 4 pods."""
    d = why.decision
    seen = (why.status, d.ingress, d.server, d.service)
    expect(seen == (200, "default/random-generator", "_", "random-generator"),
           "200 from default/random-generator's defaultBackend on server _", seen)  # fmt: skip
    expect(len(why.pods) == 4, "4 pods", why.pods)
    passed("no rule host, no rule path: the defaultBackend of default/random-generator, 4 pods")


def check_routed(answers: list[Answer]) -> None:
    """Each request of the table served by the Service its host and path rules name (the rest
    by the book's defaultBackend), all 200, each by a pod of that Service."""
    served = [a.served_by for a in answers]
    expect(served == ROUTED, f"served by {ROUTED}", served)
    statuses = [a.status for a in answers]
    expect(all(s == 200 for s in statuses), "all 200", statuses)
    strays = [(a.service, a.pod) for a in answers if a.service and not a.pod.startswith(a.service + "-")]  # fmt: skip
    expect(not strays, "each answer from a pod of that Service", strays)
    passed(f"{len(answers)} requests to {ADDRESS}: {dict(Counter(served))}")


def check_explanations_agree(lab: Lab, answers: list[Answer]) -> None:
    """For every request, ingress_explain names the status and Service the client got, and
    lists the pod that answered; Exact /api/orders beats Prefix /api, which (the longest
    match) takes /api/orders/7; blog.example.com is served by the *.example.com rule."""
    for a in answers:
        why = lab.ingress_explain(a.url, host=a.host)
        said = (why.status, why.decision.service)
        expect(said == (a.status, a.served_by),
               f"{a.host}{a.path}: the explanation says {a.status} from {a.served_by!r}", said)  # fmt: skip
        expect(not a.service or a.pod in why.pods, f"{a.host}{a.path}: {a.pod} among the pods",
               why.pods)  # fmt: skip
    exact, longest = (lab.ingress_explain(f"http://{ADDRESS}{p}", host="www.example.com").decision
                      for p in ("/api/orders", "/api/orders/7"))  # fmt: skip
    paths = (exact.path, exact.path_type, longest.path, longest.path_type)
    expect(paths == ("/api/orders", "Exact", "/api", "Prefix"),
           "/api/orders by the Exact path, /api/orders/7 by the Prefix /api", paths)  # fmt: skip
    blog = lab.ingress_explain(f"http://{ADDRESS}/", host="blog.example.com").decision.rule_host
    expect(blog == "*.example.com", "blog.example.com by the rule host *.example.com", blog)
    passed(f"{len(answers)} requests: the explanation named what the client got, every time")


def check_one_load_balancer(lab: Lab, lbs: list[tuple[str, str]], behind: list[str]) -> None:
    """One LoadBalancer Service (the controller's) and one load balancer, in front of the
    four Services the Ingresses route to."""
    expect(lbs == [(CONTROLLER, ADDRESS)], f"one LoadBalancer Service: {CONTROLLER}", lbs)
    want = ["default/api", "default/random-generator", "default/shop", "default/web"]
    expect(behind == want, f"the Services behind it {want}", behind)
    view = lab.load_balancer()
    expect(len(view) == 1, "one load balancer address", len(view))
    service = view.address(ADDRESS).get("service")
    expect(service == CONTROLLER, f"{ADDRESS} balances {CONTROLLER}", service)
    passed(f"{len(behind)} Services, 1 load balancer: {len(behind) - 1} saved")


def check_not_found(unmatched: list[Answer], why: Explanation) -> None:
    """Without the book's defaultBackend, a host no rule names gets the controller's own 404,
    from the catch-all server `_` and no Service, as the explanation says."""
    statuses = [a.status for a in unmatched]
    expect(statuses == [404] * 3, "three 404s", statuses)
    expect("404 Not Found" in unmatched[0].body, "the controller's 404 Not Found page",
           unmatched[0].body[:200])  # fmt: skip
    d = why.decision
    seen = (why.status, d.server, d.service)
    expect(why.status == 404 and d.server == "_" and not d.service,
           "explained: 404 from server _, no Service", seen)  # fmt: skip
    passed("no rule host, no defaultBackend: 404 from the controller, as explained")


def check_no_pods_503(down: list[Answer], why: Explanation) -> None:
    """With shop at 0 replicas both of its rules answer 503 (the controller's own page) while
    /api/orders/7 still reaches api; the explanation says shop has no ready endpoints."""
    statuses = [a.status for a in down]
    expect(statuses == [503, 503, 200], "503, 503, then 200", statuses)
    expect(down[2].served_by == "api", "/api/orders/7 served by api", down[2].served_by)
    expect("503 Service Temporarily Unavailable" in down[0].body,
           "the controller's 503 Service Temporarily Unavailable page", down[0].body[:200])  # fmt: skip
    seen = (why.status, why.decision.service, why.pods)
    expect(seen == (503, "shop", []), "explained: 503 for shop, no pods", seen)
    expect(any("no ready endpoints" in line for line in why.decision.why),
           "the reason: no ready endpoints", why.decision.why)  # fmt: skip
    passed("shop scaled to 0: both of its rules answer 503; /api/orders/7 still goes to api")


def check_forwarded_for(lab: Lab, at_client, at_controller, at_pod, answer: Answer,
                        controller: str, api_pod: str) -> None:  # fmt: skip
    """Two connections: the client to the address:80, arriving at the controller pod with the
    client's own address (no X-Forwarded-For yet); then the controller's own connection to
    the api pod's port 3000, same Host, with X-Forwarded-For and X-Real-IP naming the client.
    The pod received exactly those headers, and its echo shows the client's address."""
    pods = [*lab.get("pods", namespace="ingress-nginx"), *lab.get("pods", selector="app=api")]
    ips = {p["metadata"]["name"]: p["status"]["podIP"] for p in pods}
    syns = at_client.packets().syns()
    expect(len(syns) == 1, "one connection from the client", len(syns))
    (sent,) = syns
    at_ctl = http_requests(at_controller)
    expect(len(at_ctl) == 2, "two requests at the controller: in and out", len(at_ctl))
    outer, inner = at_ctl
    # the kubelet's readiness probes (GET /health every second, from the node) may be in the
    # pod's capture too: the request that matters is the controller's
    from_controller = [r for r in http_requests(at_pod) if r.src == ips[controller]]
    expect(len(from_controller) == 1, "one request from the controller at the pod",
           len(from_controller))  # fmt: skip
    (seen,) = from_controller
    hops = [((sent.src, sent.dst, sent.dport), (CLIENT_IP, ADDRESS, 80)),
            ((outer.src, outer.dst, outer.dport), (CLIENT_IP, ips[controller], 80)),
            ((inner.src, inner.dst, inner.dport), (ips[controller], ips[api_pod], 3000))]  # fmt: skip
    for got, want in hops:
        expect(got == want, f"{want[0]} -> {want[1]}:{want[2]}", got)
    hosts = (outer.header("Host"), inner.header("Host"))
    expect(hosts == ("api.example.com", "api.example.com"), "Host: api.example.com on both", hosts)
    expect(not outer.header("X-Forwarded-For"), "no X-Forwarded-For from the client",
           outer.header("X-Forwarded-For"))  # fmt: skip
    forwarded = (inner.header("X-Forwarded-For"), inner.header("X-Real-IP"))
    expect(forwarded == (CLIENT_IP, CLIENT_IP), f"X-Forwarded-For and X-Real-IP: {CLIENT_IP}",
           forwarded)  # fmt: skip
    expect(seen.headers == inner.headers, "the pod received the controller's headers",
           seen.headers)  # fmt: skip
    echoed = answer.json().get("headers", {}).get("X-Forwarded-For")
    expect(echoed == [CLIENT_IP], f"the pod's echo: X-Forwarded-For {CLIENT_IP}", echoed)
    passed(f"client -> {ADDRESS}:80 -> controller {ips[controller]}:80; "
           f"controller -> {ips[api_pod]}:3000 with X-Forwarded-For: {CLIENT_IP}")  # fmt: skip


def check_ingress_drawn(lab: Lab) -> None:
    """The drawing shows the two Ingresses' rules (hosts, Exact and Prefix paths), shop with no
    ready endpoints, and no longer the book's Ingress."""
    graph = lab.draw_ingress().source
    for shown in ("shop.example.com", "*.example.com", "/api/orders (Exact)", "/api (Prefix)",
                  "no ready endpoints"):  # fmt: skip
        expect(shown in graph, f"{shown!r} in the drawing")
    expect("random-generator" not in graph, "no random-generator: its Ingress is gone")
    passed("2 Ingresses, 6 rules, 3 Services; shop without pods")


def check_www_locations(www: str) -> None:
    """nginx's server for www.example.com: `= /api/orders` (Exact), `/api/` and `= /api` (the
    Prefix /api), `/` (Prefix /); the Exact path's Service has no pods, so its location
    returns 503."""
    locations = [line.strip() for line in www.splitlines() if line.strip().startswith("location")]
    want = ['location = "/api/orders" {', 'location "/api/" {', 'location = "/api" {',
            'location "/" {']  # fmt: skip
    expect(locations == want, f"the locations {want}", locations)
    exact = www.split('location "/api/"')[0]
    expect("return 503;" in exact, "return 503; in the = /api/orders location")
    passed("www.example.com: = /api/orders (Exact, 503 now), /api/ and = /api (Prefix /api), "
           "/ (Prefix /)")  # fmt: skip

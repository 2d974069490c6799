"""Build labs/14-ingress.ipynb from these cells (then execute it so outputs are committed)."""

from nbbuild import code, md, write

NOTEBOOK = "labs/14-ingress.ipynb"  # the default output, from the repository root

cells = [
    md("""# 14 · Ingress: one address, many Services

**What you will see:** an ingress controller (ingress-nginx's shape: real nginx, configured
from the Ingresses) behind *one* LoadBalancer address, 198.51.100.32. The book's
`ingress.yml`, unchanged, gets that address and sends the outside `client`'s requests to
the random-generator pods. Then three more Services behind the same address, chosen by the
`Host` header (`shop.example.com`, `api.example.com`, a wildcard `*.example.com`) and by path
(`/`, `/api`, `/api/orders`); for every request the controller's reasoning ("which rule,
which Service, which pod, why") beside what the client actually got. A request nothing
matches gets the controller's 404, a Service without ready pods a 503. A capture shows the
two HTTP requests of one call — the client's to the controller, the controller's own to
the pod, with `X-Forwarded-For` — and at the end we count the load balancers this saved
against lab 13."""),
    code("""from collections import Counter

from lab_kit import Lab
from lab_kit.lab.figure import figure
from lab_kit.lab.ingress_lab import ask, http_requests, load_balancers, services_behind, wait_pods_gone

ADDRESS, CLIENT_IP = "198.51.100.32", "192.0.2.10"

lab = Lab.up(addons=["ingress"])
print("\\n".join(lab.apply(["manifests/book/deployment.yml", "manifests/book/service.yml"], wait=True)))"""),
    md("""## The controller comes first

An Ingress is only a description; nothing routes it until an **ingress controller** runs.
`Lab.up(addons=["ingress"])` (or `labkit addons enable ingress`) installed it as
ingress-nginx's cloud manifest does: a namespace `ingress-nginx` with the controller's
Deployment, the IngressClass `nginx` (marked default, as minikube's addon marks it), and a
`type: LoadBalancer` Service in front of the controller — with `externalTrafficPolicy:
Local`, so the client's own address reaches nginx (lab 13). The lab's cloud gave that
Service the pool's first address."""),
    code("""lab.get("ingressclasses")"""),
    code("""lab.get("services", namespace="ingress-nginx")"""),
    code("""cls = lab.get("ingressclasses", "nginx")
svc = lab.get("services", "ingress-nginx-controller", namespace="ingress-nginx")
assert cls["spec"]["controller"] == "k8s.io/ingress-nginx"
assert cls["metadata"]["annotations"]["ingressclass.kubernetes.io/is-default-class"] == "true"
assert svc["spec"]["type"] == "LoadBalancer" and svc["spec"]["externalTrafficPolicy"] == "Local"
assert svc["status"]["loadBalancer"]["ingress"][0]["ip"] == ADDRESS
print(f"IngressClass nginx (default) -> controller Service {ADDRESS}:80,443")"""),
    md("""## The book's Ingress, unchanged

The book's `ingress.yml` has no rules and no class, only a `defaultBackend`: every request
goes to the `random-generator` Service. The API server's `DefaultIngressClass` admission
fills in the default class, `nginx`; the controller takes the Ingress and writes its own
address into `status.loadBalancer` — the `ADDRESS` column."""),
    code("""# NBVAL_CHECK_OUTPUT
print(open("manifests/book/ingress.yml").read())
print("\\n".join(lab.apply("manifests/book/ingress.yml", wait=True)))"""),
    code("""lab.get("ingresses")"""),
    code("""book = lab.get("ingresses", "random-generator")
assert book["spec"]["ingressClassName"] == "nginx"  # filled in by the admission
assert book["status"]["loadBalancer"]["ingress"] == [{"ip": ADDRESS}]
print(f"random-generator: class nginx, ADDRESS {ADDRESS}")"""),
    md("""The client calls the address 20 times. Each answer of the random generator carries the
id of the process that made it: the controller spreads the requests over the Service's
ready pods itself (nginx's upstream, round robin) — it does not go through the Service's
ClusterIP."""),
    code("""answers = ask("client", ADDRESS, [("", "/")] * 20)
replicas = Counter(a.json()["id"] for a in answers)
print(answers[0].body)
Counter(a.served_by for a in answers)"""),
    code("""assert {a.status for a in answers} == {200} and {a.served_by for a in answers} == {"random-generator"}
assert len(replicas) == 4  # the book's 4 replicas
print(f"20 requests to {ADDRESS}: all 200, from {len(replicas)} replicas", sorted(replicas.values()))"""),
    md("""Why did it go there? `lab.ingress_explain(url)` answers from the same routing model the
controller renders its nginx.conf from: which nginx server and location, which Ingress
rule, which Service and pods (`labkit ingress explain URL` on a terminal)."""),
    code("""lab.ingress_explain(f"http://{ADDRESS}/")"""),
    code("""why = lab.ingress_explain(f"http://{ADDRESS}/")
assert why.status == 200 and why.decision.ingress == "default/random-generator"
assert why.decision.server == "_" and why.decision.service == "random-generator"
assert len(why.pods) == 4
print("no rule host, no rule path: the defaultBackend of default/random-generator, 4 pods")"""),
    md("""## Many Services behind one address

Three small applications (`manifests/ingress-echo.yml`): the ingress conformance suite's
echo server, which answers with what it received plus who it is — its Service (`service`)
and its pod (`pod`). Two Ingresses route to them: `by-host` by the `Host` header, `by-path`
by the path on `www.example.com`."""),
    code("""# NBVAL_CHECK_OUTPUT
print(open("manifests/ingress-hosts.yml").read())"""),
    code("""# NBVAL_CHECK_OUTPUT
print(open("manifests/ingress-paths.yml").read())
print("\\n".join(lab.apply(["manifests/ingress-echo.yml", "manifests/ingress-hosts.yml",
                            "manifests/ingress-paths.yml"], wait=True)))"""),
    code("""lab.get("ingresses")"""),
    md("""One address, one port; only the `Host` header and the path differ. The last three hosts
have no rule: the wildcard takes exactly one label (`a.b.example.com` and `example.com`
are not `*.example.com`), so they fall to the catch-all — where the book's Ingress put its
`defaultBackend`."""),
    code("""REQUESTS = [
    ("shop.example.com", "/"), ("api.example.com", "/users"), ("blog.example.com", "/"),
    ("www.example.com", "/"), ("www.example.com", "/api"), ("www.example.com", "/api/"),
    ("www.example.com", "/apiary"), ("www.example.com", "/api/orders"),
    ("www.example.com", "/api/orders/7"),
    ("a.b.example.com", "/"), ("example.com", "/"), ("nothing.test", "/"),
]
answers = ask("client", ADDRESS, REQUESTS)
answers"""),
    code("""assert [a.served_by for a in answers] == [
    "shop", "api", "web", "web", "api", "api", "web", "shop", "api",
    *["random-generator"] * 3]
assert all(a.status == 200 for a in answers)
assert all(a.pod.startswith(a.service + "-") for a in answers if a.service)  # a pod of that Service
print(f"{len(answers)} requests to {ADDRESS}: {dict(Counter(a.served_by for a in answers))}")"""),
    md("""## Which rule, and why

The path rules of `by-path`, as the Ingress spec defines them (ingress-nginx turns them into
nginx `location`s: `= /api/orders` for the Exact path, `/api/` for the Prefix):

- **Prefix** compares whole path elements: `/api` matches `/api`, `/api/` and `/api/users`,
  but not `/apiary`, which only `/` matches;
- **Exact** matches one path: `/api/orders`, not `/api/orders/7`;
- when several paths match, the **longest** wins (and Exact wins a tie); their order in
  the manifest plays no part."""),
    code("""lab.ingress_explain(f"http://{ADDRESS}/api/orders", host="www.example.com")"""),
    code("""lab.ingress_explain(f"http://{ADDRESS}/api/orders/7", host="www.example.com")"""),
    code("""lab.ingress_explain(f"http://{ADDRESS}/apiary", host="www.example.com")"""),
    code("""lab.ingress_explain(f"http://{ADDRESS}/", host="blog.example.com")"""),
    md("""The explanation is computed, not observed. Does it agree with what the client got? For
every request of the table: the same status, the same Service, and the answering pod one
of those the explanation lists."""),
    code("""for a in answers:
    why = lab.ingress_explain(a.url, host=a.host)
    assert (why.status, why.decision.service) == (a.status, a.served_by), (a.host, a.path, why)
    assert not a.service or a.pod in why.pods
exact, longest = (lab.ingress_explain(f"http://{ADDRESS}{p}", host="www.example.com").decision
                  for p in ("/api/orders", "/api/orders/7"))
assert (exact.path, exact.path_type, longest.path, longest.path_type) == ("/api/orders", "Exact", "/api", "Prefix")
assert lab.ingress_explain(f"http://{ADDRESS}/", host="blog.example.com").decision.rule_host == "*.example.com"
print(f"{len(answers)} requests: the explanation named what the client got, every time")"""),
    md("""## The load balancers this saved

Lab 13 gave every Service of `type: LoadBalancer` its own load balancer: its own address, its
own node port, its own health checks (and on a cloud its own bill). Here one LoadBalancer
Service, the controller's, stands in front of every Service the Ingresses name; the
controller does the HTTP dispatch that no L4 load balancer can. (Under `Local` the load
balancer's health checks keep only the node of the controller's pod in rotation.)"""),
    code("""lab.load_balancer()"""),
    code("""# NBVAL_CHECK_OUTPUT
lbs, behind = load_balancers(lab), services_behind(lab)
print("LoadBalancer Services:", lbs)
print("Services behind them: ", behind)
print(f"lab 13's way: {len(behind)} LoadBalancer Services, {len(behind)} addresses; "
      f"through the Ingress: {len(lbs)}")"""),
    code("""svc_name = "ingress-nginx/ingress-nginx-controller"
assert lbs == [(svc_name, ADDRESS)]
assert behind == ["default/api", "default/random-generator", "default/shop", "default/web"]
assert len(lab.load_balancer()) == 1 and lab.load_balancer().address(ADDRESS)["service"] == svc_name
print(f"{len(behind)} Services, 1 load balancer: {len(behind) - 1} saved")"""),
    md("""## Nothing matches: 404

The book's Ingress caught every request no rule claimed. Delete it, and those requests get
the controller's own **default backend**: ingress-nginx answers them with 404."""),
    code("""print("\\n".join(lab.delete("ingresses", "random-generator")))
lab.wait()
unmatched = ask("client", ADDRESS, [("a.b.example.com", "/"), ("example.com", "/"), ("nothing.test", "/")])
unmatched"""),
    code("""lab.ingress_explain(f"http://{ADDRESS}/", host="a.b.example.com")"""),
    code("""assert [a.status for a in unmatched] == [404] * 3 and "404 Not Found" in unmatched[0].body
why = lab.ingress_explain(f"http://{ADDRESS}/", host="a.b.example.com")
assert why.status == 404 and why.decision.server == "_" and not why.decision.service
print("no rule host, no defaultBackend: 404 from the controller, as explained")"""),
    md("""## No ready pods: 503

A rule whose Service has no ready endpoint cannot be served: ingress-nginx answers **503**
(and the same for a Service that does not exist). We scale the `shop` Deployment to zero;
once its pod is gone, the controller has rendered `return 503` where `shop`'s upstream
was."""),
    code("""no_shop = open("manifests/ingress-echo.yml").read().replace(
    "name: shop\\nspec:\\n  replicas: 1", "name: shop\\nspec:\\n  replicas: 0")
print("\\n".join(lab.apply(no_shop, wait=True)))
wait_pods_gone(lab, "app=shop")
down = ask("client", ADDRESS, [("shop.example.com", "/"), ("www.example.com", "/api/orders"),
                               ("www.example.com", "/api/orders/7")])
down"""),
    code("""lab.ingress_explain(f"http://{ADDRESS}/", host="shop.example.com")"""),
    code("""assert [a.status for a in down] == [503, 503, 200] and down[2].served_by == "api"
assert "503 Service Temporarily Unavailable" in down[0].body
why = lab.ingress_explain(f"http://{ADDRESS}/", host="shop.example.com")
assert why.status == 503 and why.decision.service == "shop" and not why.pods
assert any("no ready endpoints" in line for line in why.decision.why)
print("shop scaled to 0: both of its rules answer 503; /api/orders/7 still goes to api")"""),
    md("""## On the wire: two HTTP requests for one call

An ingress controller is a proxy: it ends the client's connection and opens its own to a
pod. We capture on the client, in the controller's pod and in the `api` pod while the client
asks `api.example.com` once. The controller's pod sees both requests. The first comes from
192.0.2.10 itself (`externalTrafficPolicy: Local`: no SNAT on the way), to the pod's port 80
(kube-proxy rewrote 198.51.100.32 to the pod). The second is nginx's own, from the
controller pod's address to the api pod's port 3000: the `Host` header kept, and the client
named in `X-Forwarded-For` and `X-Real-IP` — the pod could not see it otherwise. (That
second request may ride a connection nginx already holds open to the pod: no new SYN.)"""),
    code("""controller = lab.get("pods", namespace="ingress-nginx")[0]["metadata"]["name"]
api_pod = lab.get("pods", selector="app=api")[0]["metadata"]["name"]
web_ports = "tcp port 80 or tcp port 3000"
with lab.capture("client", packet_filter="tcp port 80") as at_client, \\
        lab.capture(controller, namespace="ingress-nginx", packet_filter=web_ports) as at_controller, \\
        lab.capture(api_pod, packet_filter="tcp port 3000") as at_pod:
    (answer,) = ask("client", ADDRESS, [("api.example.com", "/users")])
at_controller.packets()"""),
    code("""http_requests(at_controller)"""),
    code("""ips = {p["metadata"]["name"]: p["status"]["podIP"]
       for p in [*lab.get("pods", namespace="ingress-nginx"), *lab.get("pods", selector="app=api")]}
(sent,) = at_client.packets().syns()
outer, inner = http_requests(at_controller)
(seen,) = http_requests(at_pod)
assert (sent.src, sent.dst, sent.dport) == (CLIENT_IP, ADDRESS, 80)
assert (outer.src, outer.dst, outer.dport) == (CLIENT_IP, ips[controller], 80)
assert (inner.src, inner.dst, inner.dport) == (ips[controller], ips[api_pod], 3000)
assert outer.header("Host") == inner.header("Host") == "api.example.com" and not outer.header("X-Forwarded-For")
assert inner.header("X-Forwarded-For") == inner.header("X-Real-IP") == CLIENT_IP
assert seen.headers == inner.headers and answer.json()["headers"]["X-Forwarded-For"] == [CLIENT_IP]
print(f"client -> {ADDRESS}:80 -> controller {ips[controller]}:80; "
      f"controller -> {ips[api_pod]}:3000 with X-Forwarded-For: {CLIENT_IP}")"""),
    md("""The rest of what nginx adds, as the api pod received it (the echo server's own view):"""),
    code("""{k: v for k, v in answer.json()["headers"].items() if k.startswith("X-")}"""),
    md("""## The whole routing as a graph

Ingress → rule (host, path) → Service → ready pods, from the same model
(`labkit ingress draw`). `shop` shows its 503."""),
    code("""figure(lab.draw_ingress())"""),
    code("""graph = lab.draw_ingress().source
for shown in ("shop.example.com", "*.example.com", "/api/orders (Exact)", "/api (Prefix)", "no ready endpoints"):
    assert shown in graph, shown
assert "random-generator" not in graph  # its Ingress is gone
print("2 Ingresses, 6 rules, 3 Services; shop without pods")"""),
    md("""The nginx.conf the controller runs, rendered from the same model (`labkit ingress conf`):
the `server` block of `www.example.com`. The Exact path is an exact nginx location (`=`);
the Prefix `/api` becomes two, `= /api` and `/api/`, so that nginx's own prefix match (by
characters) cannot take `/apiary`. nginx picks the exact location first, then the longest
prefix: the Ingress rules' longest match."""),
    code("""conf = lab.ingress_conf()
start = conf.index("## server www.example.com")
www = conf[start:conf.index("\\n    }\\n", start) + 6]
print(www)"""),
    code("""locations = [line.strip() for line in www.splitlines() if line.strip().startswith("location")]
assert locations == ['location = "/api/orders" {', 'location "/api/" {', 'location = "/api" {',
                     'location "/" {'], locations
assert "return 503;" in www.split('location "/api/"')[0]  # the Exact path's Service has no pods
print("www.example.com: = /api/orders (Exact, 503 now), /api/ and = /api (Prefix /api), / (Prefix /)")"""),
    md("""## What you saw

- An Ingress does nothing without a controller. The addon (`lab_kit/lab/addons/ingress-nginx.yaml`,
  ingress-nginx's cloud manifest) runs it behind one `type: LoadBalancer` Service with
  `externalTrafficPolicy: Local`; the controller (`lab_kit/agents/ingress_nginx.py`)
  serves the Ingresses of its class (and the class-less, given the default class by the
  API server), and publishes its address in their `status.loadBalancer`.
- The book's `ingress.yml`, unchanged: a `defaultBackend` only, so it caught every request
  nobody else claimed; the controller balanced over the Service's ready pods itself.
- Routing by `Host` (precise names, a one-label wildcard) and by path (Prefix by whole
  elements, Exact, the longest match) is the pure model in `lab_kit/render/ingress/`
  (`build.py`, `match.py`, `route.py`); `nginx_conf.py` renders it to the nginx.conf the
  controller runs (through `lab_kit/adapters/nginx.py`), and `lab.ingress_explain` /
  `lab.draw_ingress` read the same model (`lab_kit/lab/ingress_view.py`).
- Nothing matched: 404 from the controller's default backend; a Service without ready pods:
  503 (`backends.py` in the same package).
- One call, two HTTP requests: the client's to the controller, the controller's to the pod
  with `X-Forwarded-For`/`X-Real-IP`/`X-Forwarded-Host` (the `proxy_set_header` lines of the
  rendered nginx.conf). The helpers of this lab are in `lab_kit/lab/ingress_lab.py`.
- One load balancer for all of it, where lab 13 needed one per Service.

Next: `15-ingress-tls.ipynb` — TLS termination with SNI, and HTTP cookie affinity."""),
    code("""lab.down()"""),
]
if __name__ == "__main__":
    write(cells, NOTEBOOK)

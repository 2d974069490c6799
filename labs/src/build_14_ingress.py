"""Build labs/14-ingress.ipynb from these cells (then execute it so outputs are committed)."""

from nbbuild import code, exercise, md, write

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
from lab_kit.lab.checks.lab14 import (check_book_ingress, check_controller_installed,
                                      check_default_backend_answers,
                                      check_default_backend_explained, check_explanations_agree,
                                      check_forwarded_for, check_ingress_drawn, check_no_pods_503,
                                      check_not_found, check_one_load_balancer, check_routed,
                                      check_www_locations)
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
    code("""check_controller_installed(lab)"""),
    md("""## The book's Ingress, unchanged

The book's `ingress.yml` has no rules and no class, only a `defaultBackend`: every request
goes to the `random-generator` Service. The API server's `DefaultIngressClass` admission
fills in the default class, `nginx`; the controller takes the Ingress and writes its own
address into `status.loadBalancer` — the `ADDRESS` column."""),
    code("""# NBVAL_CHECK_OUTPUT
print(open("manifests/book/ingress.yml").read())
print("\\n".join(lab.apply("manifests/book/ingress.yml", wait=True)))"""),
    code("""lab.get("ingresses")"""),
    code("""check_book_ingress(lab)  # ingressClassName filled in by the admission"""),
    md("""The client calls the address 20 times. Each answer of the random generator carries the
id of the process that made it: the controller spreads the requests over the Service's
ready pods itself (nginx's upstream, round robin) — it does not go through the Service's
ClusterIP."""),
    code("""answers = ask("client", ADDRESS, [("", "/")] * 20)
replicas = Counter(a.json()["id"] for a in answers)
print(answers[0].body)
Counter(a.served_by for a in answers)"""),
    code("""check_default_backend_answers(answers, replicas)  # the book's 4 replicas"""),
    md("""Why did it go there? `lab.ingress_explain(url)` answers from the same routing model the
controller renders its nginx.conf from: which nginx server and location, which Ingress
rule, which Service and pods (`labkit ingress explain URL` on a terminal)."""),
    code("""lab.ingress_explain(f"http://{ADDRESS}/")"""),
    code("""check_default_backend_explained(lab.ingress_explain(f"http://{ADDRESS}/"))"""),
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
    code(
        """check_routed(answers)  # each by the Service its rule names, from a pod of that Service"""
    ),
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
    code("""check_explanations_agree(lab, answers)"""),
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
    code("""check_one_load_balancer(lab, lbs, behind)"""),
    md("""## Nothing matches: 404

The book's Ingress caught every request no rule claimed. Delete it, and those requests get
the controller's own **default backend**: ingress-nginx answers them with 404."""),
    code("""print("\\n".join(lab.delete("ingresses", "random-generator")))
lab.wait()
unmatched = ask("client", ADDRESS, [("a.b.example.com", "/"), ("example.com", "/"), ("nothing.test", "/")])
unmatched"""),
    code("""lab.ingress_explain(f"http://{ADDRESS}/", host="a.b.example.com")"""),
    code(
        """check_not_found(unmatched, lab.ingress_explain(f"http://{ADDRESS}/", host="a.b.example.com"))"""
    ),
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
    code(
        """check_no_pods_503(down, lab.ingress_explain(f"http://{ADDRESS}/", host="shop.example.com"))"""
    ),
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
    code(
        """check_forwarded_for(lab, at_client, at_controller, at_pod, answer, controller, api_pod)"""
    ),
    md("""The rest of what nginx adds, as the api pod received it (the echo server's own view):"""),
    code("""{k: v for k, v in answer.json()["headers"].items() if k.startswith("X-")}"""),
    md("""## The whole routing as a graph

Ingress → rule (host, path) → Service → ready pods, from the same model
(`labkit ingress draw`). `shop` shows its 503."""),
    code("""figure(lab.draw_ingress())"""),
    code("""check_ingress_drawn(lab)  # and random-generator's Ingress gone"""),
    md("""The nginx.conf the controller runs, rendered from the same model (`labkit ingress conf`):
the `server` block of `www.example.com`. The Exact path is an exact nginx location (`=`);
the Prefix `/api` becomes two, `= /api` and `/api/`, so that nginx's own prefix match (by
characters) cannot take `/apiary`. nginx picks the exact location first, then the longest
prefix: the Ingress rules' longest match."""),
    code("""conf = lab.ingress_conf()
start = conf.index("## server www.example.com")
www = conf[start:conf.index("\\n    }\\n", start) + 6]
print(www)"""),
    code("""check_www_locations(www)  # the Exact path's Service has no pods: return 503"""),
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
    md("""## Your turn

Two changes to the live cluster; each check calls the Ingress address from `client` and says
what it saw."""),
    code("""from lab_kit.lab.exercises import check"""),
    *exercise(
        "14.1",
        "Back from 503",
        "`shop` has no pods, so its two rules answer 503. Scale the `shop` Deployment to 2 "
        "(`labkit scale deployment shop --replicas=2`) and ask `shop.example.com` a few times.",
        "does any Ingress have to change? Will both new pods get requests?",
        "!labkit scale deployment shop --replicas=2\n"
        "lab.wait_ready()\n"
        'ask("client", ADDRESS, [("shop.example.com", "/")] * 4 + [("www.example.com", "/api/orders")])',
    ),
    *exercise(
        "14.2",
        "The bare domain",
        "`example.com` itself has no rule since the book's Ingress is gone: it gets the 404. "
        "Give it one: a new Ingress `apex` with a rule for host `example.com`, path `/` "
        "(Prefix), to the Service `web` on port 80.",
        "once `example.com` answers, what does `a.b.example.com` get?",
        'apex = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "apex"},\n'
        '        "spec": {"rules": [{"host": "example.com", "http": {"paths": [\n'
        '            {"path": "/", "pathType": "Prefix",\n'
        '             "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}}\n'
        'print("\\n".join(lab.apply(apex, wait=True)))\n'
        'ask("client", ADDRESS, [("example.com", "/"), ("a.b.example.com", "/")])',
    ),
    code("""lab.down()"""),
]
if __name__ == "__main__":
    write(cells, NOTEBOOK)

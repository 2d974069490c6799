"""Build labs/03-env-var-discovery.ipynb from these cells (then execute it so outputs are committed)."""

from nbbuild import code, exercise, md, write

NOTEBOOK = "labs/03-env-var-discovery.ipynb"  # the default output, from the repository root

CURL_BY_ENV = "curl -sS -m 3 http://$RANDOM_GENERATOR_SERVICE_HOST:$RANDOM_GENERATOR_SERVICE_PORT/"
cells = [
    md("""# 03 · Service environment variables: discovery by snapshot

**What you will see:** the oldest way a pod finds a Service. When the kubelet starts a
container it adds, for every Service of the pod's namespace, variables such as
`RANDOM_GENERATOR_SERVICE_HOST` (the ClusterIP) and `RANDOM_GENERATOR_SERVICE_PORT`. You
will read them inside pods, compare them with the Service, and use them to call it. Then
the catch: the variables are a *snapshot* taken when the container starts. Pods started
before the Service don't have them, and they only get them when they start again — as a new
pod, or as a restarted container in the same pod. At the end: a pod that opts out with
`enableServiceLinks: false`, and a Service recreated under pods that still hold its old
address."""),
    code("""from lab_kit import Lab
from lab_kit.lab.checks.lab03 import (check_api_reachable, check_call_by_env,
                                      check_endpoints_are_the_pods, check_no_links,
                                      check_only_kubernetes, check_recreated, check_replacement,
                                      check_restarted_container, check_stale_address,
                                      check_started_before, check_toolbox_env)

lab = Lab.up()
print("\\n".join(lab.apply("manifests/book/deployment.yml", wait=True)))  # pods first, no Service yet"""),
    md("""## Before the Service: only `KUBERNETES_*`

The book's four `random-generator` pods are running, and the namespace has no Service of
its own yet. One Service is always linked into every pod, whatever its namespace:
`kubernetes` in `default`, the API server's own (ClusterIP `10.96.0.1`, port 443 named
`https`). `lab.exec(pod, "env")` runs `env` inside the pod with its container's
environment, as `kubectl exec POD -- env` does."""),
    code("""early_pods = sorted(p["metadata"]["name"] for p in lab.get("pods", selector="app=random-generator"))
before = lab.exec(early_pods[0], "env", echo=True)
print(before.stdout)"""),
    code(
        """k8s_vars = check_only_kubernetes(lab, before.stdout)  # 10.96.0.1:443, port name https"""
    ),
    md("""These variables lead somewhere: the `kubernetes` Service has an endpoint, the API
server's secure port on node1 (`172.18.0.2:6443`), and every pod gets the CA to check it
(and a token to use it) in `/var/run/secrets/kubernetes.io/serviceaccount` — what client
libraries' in-cluster configuration reads (lab 01 builds a consumer on it). `/version` is
one of the few paths an anonymous caller may read:"""),
    code("""api = 'curl -sS --cacert /var/run/secrets/kubernetes.io/serviceaccount/ca.crt "https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT/version"'
version = lab.exec(early_pods[0], "sh", "-c", api, echo=True)
print(version.stdout)"""),
    code("""check_api_reachable(lab, version)"""),
    md("""## Create the Service, then a pod

First the labs' Service (`manifests/clusterip-service.yml`, lab 02: port 80 → the pods' 8080), then the `toolbox` pod. The kubelet on
node1 builds the toolbox's environment when it starts the container, from every Service
it knows at that moment — now including `random-generator`."""),
    code("""print("\\n".join(lab.apply("manifests/clusterip-service.yml", wait=True)))
print("\\n".join(lab.apply("manifests/toolbox.yml", wait=True)))  # created after the Service
after = lab.exec("toolbox", "env", echo=True)
print(after.stdout)"""),
    md("""Seven variables per Service (for a one-port Service). The name is the Service's name in
upper case with `-` turned into `_`. `…_SERVICE_HOST` and `…_SERVICE_PORT` are Kubernetes'
own; the `…_PORT…` family copies what Docker's old container links set, so programs written
for links work unchanged. They hold the **Service's** address and port (80), not a pod's
(8080): a client that reads them goes through the ClusterIP like any other."""),
    code(
        """cluster_ip = check_toolbox_env(lab, after.stdout, k8s_vars)  # the Service's port, not the pods'"""
    ),
    md("""## Using them

A program reads the variables at run time; here a shell expands them into curl's URL. We
capture on the toolbox pod's `eth0`: the connection goes to the ClusterIP on port 80, and
kube-proxy's rules on node1 send it on to one of the pods (lab 02)."""),
    code(f"""with lab.capture("toolbox", packet_filter="tcp") as cap:
    reply = lab.exec("toolbox", "sh", "-c", "{CURL_BY_ENV}", echo=True)
print(reply.stdout)
cap.packets()"""),
    code("""toolbox_ip = check_call_by_env(lab, reply, cap.packets(), cluster_ip)"""),
    code("""lab.draw_services()"""),
    code("""endpoint_ips = check_endpoints_are_the_pods(lab, "random-generator", "app=random-generator",
                                            pods=4, port=8080)  # behind the address in the variables"""),
    md("""## The temporal dependency: pods older than the Service

The four `random-generator` pods were started *before* the Service existed. Nothing updates
a running container's environment, so they still have only `KUBERNETES_*`. The same shell
line expands to `http://:/` there, and curl gives up before sending a packet."""),
    code(f"""stale = lab.exec(early_pods[0], "sh", "-c", "{CURL_BY_ENV}", echo=True)
print(stale.stderr)
missing = lab.exec(early_pods[0], "printenv", "RANDOM_GENERATOR_SERVICE_HOST", echo=True)
print("exit code", missing.returncode)"""),
    code(
        """check_started_before(lab, stale, missing, early_pods)  # curl exit 3: no host; printenv exit 1"""
    ),
    md("""### Restart 1: a new pod

Delete one of them. Its ReplicaSet creates a replacement — a new pod, with a new name and a
new IP, whose container starts now, when the Service exists."""),
    code("""print("\\n".join(lab.delete("pods", early_pods[1])))
lab.wait_ready()
lab.get("pods", wide=True)"""),
    code("""replacement = check_replacement(lab, early_pods, early_pods[1], cluster_ip)"""),
    md("""### Restart 2: the same pod, a new container

The random-generator answers `/shutdown` by exiting (code 0). The pod's `restartPolicy` is
`Always`, so the kubelet starts the container again *in the same pod*: same name, same IP,
`RESTARTS` 1. The kubelet builds a container's environment every time it starts one (in
Kubernetes: `generateContainerConfig` → `makeEnvironmentVariables`, on each start), so the
restarted container has the variables although the pod is as old as before."""),
    code("""victim = early_pods[2]
victim_ip = lab.get("pods", victim)["status"]["podIP"]
lab.exec("toolbox", "curl", "-sS", f"http://{victim_ip}:8080/shutdown", echo=True)
exit_code = lab.wait_pod_finished(victim)  # the container ran to its end ...
lab.wait_ready()  # ... and the kubelet started it again
print("\\n".join(lab.logs(victim, previous=True).splitlines()[-3:]))
again = lab.exec(victim, "printenv", "RANDOM_GENERATOR_SERVICE_HOST", echo=True)
print(again.stdout)
lab.get("pods", wide=True)"""),
    code("""check_restarted_container(lab, victim, victim_ip, exit_code, again, cluster_ip,
                          untouched=[early_pods[0], early_pods[3]])"""),
    md("""## Opting out: `enableServiceLinks: false`

In a namespace with hundreds of Services every pod gets thousands of variables, and a
Service name can collide with what a program expects: a Service called `redis` sets
`REDIS_PORT=tcp://…:6379` in every pod, where a Redis client may expect a plain number.
`enableServiceLinks: false` turns the namespace's Services off. `kubernetes` stays: it is
linked into every pod regardless."""),
    code("""# NBVAL_CHECK_OUTPUT
print(open("manifests/envvars-no-links.yml").read())
print("\\n".join(lab.apply("manifests/envvars-no-links.yml", wait=True)))"""),
    code("""no_links = lab.exec("no-links", "env", echo=True)
print(no_links.stdout)"""),
    code("""check_no_links(lab, no_links.stdout, k8s_vars)"""),
    md("""## The snapshot cuts both ways: recreate the Service

Delete the Service and create it again. The API server allocates a **new** ClusterIP.
Every running container still holds the old one in its environment — and the old address
now leads nowhere: kube-proxy removed its rules, so the packet follows node1's default route
to the router `gw`, which has no route for it either and drops it without a word, as a real
network does: the client hears nothing and gives up when its own timeout (`-m 3`) runs out."""),
    code("""print("\\n".join(lab.delete("services", "random-generator")))
print("\\n".join(lab.apply("manifests/clusterip-service.yml", wait=True)))
new_ip = lab.get("services", "random-generator")["spec"]["clusterIP"]
print("new ClusterIP", new_ip)
held = lab.exec("toolbox", "printenv", "RANDOM_GENERATOR_SERVICE_HOST", echo=True)
print(held.stdout)"""),
    code("""check_recreated(lab, new_ip, held, cluster_ip)  # kube-proxy forgot the old address"""),
    code(f"""with lab.capture("toolbox", packet_filter="tcp or icmp") as gone:
    old = lab.exec("toolbox", "sh", "-c", "{CURL_BY_ENV}", echo=True)
print(old.stderr)
gone.packets()"""),
    code(
        """check_stale_address(lab, old, gone.packets(), cluster_ip, new_ip)  # curl exit 28, and silence"""
    ),
    md("""Only a restart fixes it. This is why Service environment variables are a fallback: the
client pod must start *after* every Service it uses and be restarted whenever one is
recreated. DNS (next lab) answers with the Service's current address at the moment of the
question."""),
    md("""## What you saw

- The kubelet computes the service variables when it **starts a container**: every Service
  of the pod's namespace that has a ClusterIP, plus `kubernetes` from `default`
  (`lab_kit/node/envvars.py`: `service_env`, `from_service`, `_link_variables`; the kubelet
  calls it before every start of a container in `lab_kit/agents/pod_worker.py`,
  `PodWorker._container`).
- `<SVC>_SERVICE_HOST`/`_SERVICE_PORT` and the Docker-links family `<SVC>_PORT_<port>_TCP…`
  carry the ClusterIP and the **Service** port; the packets go to the ClusterIP and
  kube-proxy does the rest (`lab_kit/render/proxy_rules.py`).
- Pods started before a Service lack its variables until they start again — as a new pod
  (ReplicaSet, `lab_kit/controllers/replicaset.py`) or as a restarted container
  (`restartPolicy`, `lab_kit/node/probes.py`: `should_restart`, `crash_loop_backoff_s`).
- `enableServiceLinks: false` keeps only `KUBERNETES_*`; a recreated Service leaves running
  pods with a stale address.
- `kubectl exec`'s view of the environment: `lab_kit/lab/access.py` (`run_in_pod`).

Next: `04-dns-discovery.ipynb` — names instead of snapshots."""),
    md("""## Your turn

Two changes on the live cluster. Each check reads the environment inside the pods and says
what it found."""),
    code("""from lab_kit.lab.exercises import check"""),
    *exercise(
        "03.1",
        "Every pod up to date",
        "The Service was recreated: its ClusterIP is new, and no running `random-generator` "
        "pod holds it (two have the old one, two none at all). Restart them all the way a "
        "Deployment does it: `labkit rollout restart` replaces every pod, a few at a time.",
        "which address will the new pods hold? Will the toolbox's change too?",
        "!labkit rollout restart deployment/random-generator\n"
        "!labkit rollout status deployment/random-generator",
    ),
    *exercise(
        "03.2",
        "A Service called redis",
        "Create a Service named `redis` on port 6379 in front of the same pods (`labkit expose "
        "deployment random-generator --name=redis --port=6379 --target-port=8080`), then "
        "delete one `random-generator` pod and read `REDIS_PORT` in its replacement.",
        "which pods get `REDIS_*` variables, and what does `REDIS_PORT` hold: a number?",
        "!labkit expose deployment random-generator --name=redis --port=6379 --target-port=8080\n"
        'before = [p["metadata"]["name"] for p in lab.get("pods", selector="app=random-generator")]\n'
        "!labkit delete pod {before[0]}\n"
        "lab.wait_ready()\n"
        'after = [p["metadata"]["name"] for p in lab.get("pods", selector="app=random-generator")\n'
        '         if not p["metadata"].get("deletionTimestamp")]\n'
        "(new,) = set(after) - set(before)\n"
        'print(new, lab.exec(new, "printenv", "REDIS_PORT").stdout)',
    ),
    code("""lab.down()"""),
]
if __name__ == "__main__":
    write(cells, NOTEBOOK)

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
    code("""early_env = dict(line.split("=", 1) for line in before.stdout.splitlines())
kubernetes = lab.get("services", "kubernetes")["spec"]
assert early_env["KUBERNETES_SERVICE_HOST"] == kubernetes["clusterIP"] == "10.96.0.1"
assert early_env["KUBERNETES_SERVICE_PORT"] == str(kubernetes["ports"][0]["port"]) == "443"
assert early_env["KUBERNETES_SERVICE_PORT_HTTPS"] == "443"  # the port's name is "https"
assert early_env["KUBERNETES_PORT"] == early_env["KUBERNETES_PORT_443_TCP"] == "tcp://10.96.0.1:443"
assert early_env["KUBERNETES_PORT_443_TCP_ADDR"] == "10.96.0.1"
assert not [name for name in early_env if name.startswith("RANDOM_GENERATOR")]
k8s_vars = sorted(name for name in early_env if name.startswith("KUBERNETES_"))
print(len(k8s_vars), "KUBERNETES_* variables, no RANDOM_GENERATOR_*")"""),
    md("""These variables lead somewhere: the `kubernetes` Service has an endpoint, the API
server's secure port on node1 (`172.18.0.2:6443`), and every pod gets the CA to check it
(and a token to use it) in `/var/run/secrets/kubernetes.io/serviceaccount` — what client
libraries' in-cluster configuration reads (lab 01 builds a consumer on it). `/version` is
one of the few paths an anonymous caller may read:"""),
    code("""api = 'curl -sS --cacert /var/run/secrets/kubernetes.io/serviceaccount/ca.crt "https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT/version"'
version = lab.exec(early_pods[0], "sh", "-c", api, echo=True)
print(version.stdout)"""),
    code("""import json

assert json.loads(version.stdout)["major"] == "1"
assert lab.get("endpointslices", "kubernetes")["endpoints"][0]["addresses"] == ["172.18.0.2"]
print("KUBERNETES_SERVICE_HOST:PORT -> 10.96.0.1:443 -> the API server at 172.18.0.2:6443")"""),
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
    code("""svc = lab.get("services", "random-generator")
cluster_ip, port = svc["spec"]["clusterIP"], svc["spec"]["ports"][0]["port"]
toolbox_env = dict(line.split("=", 1) for line in after.stdout.splitlines())
assert {k: v for k, v in toolbox_env.items() if k.startswith("RANDOM_GENERATOR_")} == {
    "RANDOM_GENERATOR_SERVICE_HOST": cluster_ip,
    "RANDOM_GENERATOR_SERVICE_PORT": "80",
    "RANDOM_GENERATOR_PORT": f"tcp://{cluster_ip}:80",
    "RANDOM_GENERATOR_PORT_80_TCP": f"tcp://{cluster_ip}:80",
    "RANDOM_GENERATOR_PORT_80_TCP_PROTO": "tcp",
    "RANDOM_GENERATOR_PORT_80_TCP_PORT": "80",
    "RANDOM_GENERATOR_PORT_80_TCP_ADDR": cluster_ip,
}
assert port == 80 and svc["spec"]["ports"][0]["targetPort"] == 8080
assert sorted(n for n in toolbox_env if n.startswith("KUBERNETES_")) == k8s_vars  # still there
print(f"toolbox: RANDOM_GENERATOR_SERVICE_HOST={cluster_ip} = the ClusterIP, _SERVICE_PORT=80 = the Service's port")"""),
    md("""## Using them

A program reads the variables at run time; here a shell expands them into curl's URL. We
capture on the toolbox pod's `eth0`: the connection goes to the ClusterIP on port 80, and
kube-proxy's rules on node1 send it on to one of the pods (lab 02)."""),
    code(f"""with lab.capture("toolbox", packet_filter="tcp") as cap:
    reply = lab.exec("toolbox", "sh", "-c", "{CURL_BY_ENV}", echo=True)
print(reply.stdout)
cap.packets()"""),
    code("""import json

toolbox_ip = lab.get("pods", "toolbox")["status"]["podIP"]
assert reply.returncode == 0 and set(json.loads(reply.stdout)) == {"random", "id"}
syn = cap.packets().syns()[0]
assert (syn.src, syn.dst, syn.dport) == (toolbox_ip, cluster_ip, 80)
print(f"$RANDOM_GENERATOR_SERVICE_HOST:$RANDOM_GENERATOR_SERVICE_PORT -> SYN {toolbox_ip} -> {cluster_ip}:80")"""),
    code("""lab.draw_services()"""),
    code("""slices = lab.get("endpointslices", selector="kubernetes.io/service-name=random-generator")
endpoint_ips = sorted(e["addresses"][0] for s in slices for e in s["endpoints"])
assert endpoint_ips == sorted(p["status"]["podIP"] for p in lab.get("pods", selector="app=random-generator"))
print("behind the address in the variables:", len(endpoint_ips), "pods")"""),
    md("""## The temporal dependency: pods older than the Service

The four `random-generator` pods were started *before* the Service existed. Nothing updates
a running container's environment, so they still have only `KUBERNETES_*`. The same shell
line expands to `http://:/` there, and curl gives up before sending a packet."""),
    code(f"""stale = lab.exec(early_pods[0], "sh", "-c", "{CURL_BY_ENV}", echo=True)
print(stale.stderr)
missing = lab.exec(early_pods[0], "printenv", "RANDOM_GENERATOR_SERVICE_HOST", echo=True)
print("exit code", missing.returncode)"""),
    code("""assert stale.returncode == 3  # curl: malformed URL (no host)
assert missing.returncode == 1 and missing.stdout == ""  # printenv: no such variable
for pod in early_pods:
    assert "RANDOM_GENERATOR_SERVICE_HOST=" not in lab.exec(pod, "env").stdout
print(f"all {len(early_pods)} pods started before the Service lack RANDOM_GENERATOR_*")"""),
    md("""### Restart 1: a new pod

Delete one of them. Its ReplicaSet creates a replacement — a new pod, with a new name and a
new IP, whose container starts now, when the Service exists."""),
    code("""print("\\n".join(lab.delete("pods", early_pods[1])))
lab.wait_ready()
lab.get("pods", wide=True)"""),
    code("""current = [p["metadata"]["name"] for p in lab.get("pods", selector="app=random-generator")
           if not p["metadata"].get("deletionTimestamp")]
(replacement,) = set(current) - set(early_pods)
fresh = lab.exec(replacement, "printenv", "RANDOM_GENERATOR_SERVICE_HOST", "RANDOM_GENERATOR_SERVICE_PORT")
assert fresh.stdout.split() == [cluster_ip, "80"]
print(f"{replacement} (replaces {early_pods[1]}): RANDOM_GENERATOR_SERVICE_HOST={cluster_ip}")"""),
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
    code("""restarted = lab.get("pods", victim)
(status,) = restarted["status"]["containerStatuses"]
assert exit_code == 0 and status["restartCount"] == 1
assert status["lastState"]["terminated"]["reason"] == "Completed"
assert restarted["status"]["podIP"] == victim_ip  # the same pod
assert "SHUTDOWN NOW" in lab.logs(victim, previous=True)
assert again.stdout.strip() == cluster_ip
for pod in (early_pods[0], early_pods[3]):  # untouched: still without
    assert lab.exec(pod, "printenv", "RANDOM_GENERATOR_SERVICE_HOST").returncode == 1
print(f"{victim}: same pod, restarted container -> now has RANDOM_GENERATOR_SERVICE_HOST={cluster_ip}")"""),
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
    code("""no_links_env = dict(line.split("=", 1) for line in no_links.stdout.splitlines())
assert lab.get("pods", "no-links")["spec"]["enableServiceLinks"] is False
assert not [name for name in no_links_env if name.startswith("RANDOM_GENERATOR")]
assert sorted(n for n in no_links_env if n.startswith("KUBERNETES_")) == k8s_vars
print("enableServiceLinks: false -> only the 8 KUBERNETES_* variables, although the Service exists")"""),
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
    code("""assert new_ip != cluster_ip
assert held.stdout.strip() == cluster_ip  # the toolbox still has the old address
assert cluster_ip not in lab.iptables("node1", "nat")  # kube-proxy forgot it
print(f"toolbox still says {cluster_ip}; the Service is now at {new_ip}")"""),
    code(f"""with lab.capture("toolbox", packet_filter="tcp or icmp") as gone:
    old = lab.exec("toolbox", "sh", "-c", "{CURL_BY_ENV}", echo=True)
print(old.stderr)
gone.packets()"""),
    code("""syns = gone.packets().syns()
assert old.returncode == 28  # curl: timed out, nothing ever answered
assert (syns[0].dst, syns[0].dport) == (cluster_ip, 80)  # the variables' address
assert not gone.packets().filter(protocol="ICMP")  # gw: no route, and silence
assert lab.exec("toolbox", "curl", "-sS", "-m", "3", f"http://{new_ip}/").returncode == 0  # the new one works
print(f"{len(syns)} SYNs to the stale {cluster_ip}:80, no answer; {new_ip} answers")"""),
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

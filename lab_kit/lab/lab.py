"""`Lab`: the notebook's handle on a running lab.

    from lab_kit import Lab
    lab = Lab.up()                      # or Lab.connect() to one `labkit up` started
    lab.apply("deployment.yml")         # files, directories, YAML text, dicts
    lab.get("pods")                     # a list of objects that prints as kubectl's table
    lab.down()

A facade: each method is a call into one topic module, which `labkit` (lab_kit/cli) calls
too, so every kubectl-like rule lives once:

    objects      apply, get, describe, delete (kubectl's rules and words)
    waiting      wait, wait_ready, wait_pod_finished, wait_listening
    access       exec, host, dig, sandbox, logs, start_on_host, requests
    proxy_view   iptables, service_rules, trace, outcomes, rule_hits, conntrack, metrics
    captures     capture, capture_many, draw_connection
    graphs       draw, draw_services
    lb_view      load_balancer, draw_load_balancer (the cloud-lb host's view)
    tls          tls_secret, ca_file (the lab CA and TLS Secrets)
    lifecycle    up, down, status
    outside      disconnect_node, connect_node, firewall

Errors are `LabError`s whose text names the file, document and field.
"""

from __future__ import annotations

import random
from typing import Any

from lab_kit.adapters import processes
from lab_kit.adapters.apiclient import ApiClient
from lab_kit.adapters.processes import ProcessRecord
from lab_kit.lab import (
    access,
    captures,
    graphs,
    ingress_view,
    lb_view,
    lifecycle,
    objects,
    proxy_view,
    tls,
    waiting,
)
from lab_kit.lab.access import Completed
from lab_kit.lab.captures import CaptureGroup, LabCapture
from lab_kit.lab.dns_view import DigResult
from lab_kit.lab.errors import LabError
from lab_kit.lab.figure import Figure, figure
from lab_kit.lab.objects import Listing, read_documents, resolve_kind, resource_name
from lab_kit.lab.outside import Outside
from lab_kit.model.topology import TopologyError
from lab_kit.trace import Outcome, Trace

__all__ = [
    "CaptureGroup",
    "Lab",
    "LabCapture",
    "LabError",
    "Listing",
    "read_documents",
    "resolve_kind",
    "resource_name",
]


class Lab:
    def __init__(self, client: ApiClient):
        self.client = client

    # --- lifecycle -----------------------------------------------------------------------------
    @classmethod
    def up(
        cls,
        topology: str | None = None,
        quiet: bool = True,
        control_plane_only: bool = False,
        addons: list[str] | None = None,
    ) -> Lab:
        """Build the lab (default topology unless named; default addons and `addons`) and
        connect to it. A lab left running (a notebook that failed before its `down()`, a
        kernel that died) is taken down first, saying so: one lab per machine, and the
        notebook that runs now is the one that wants it."""
        progress = (lambda *_: None) if quiet else print
        left = lifecycle.lab_left()
        if left:
            print(f"A lab was left running ({left}); taking it down first")
            lifecycle.down(progress=progress)
        try:
            lifecycle.up(topology, progress, control_plane_only, addons)
        except (TopologyError, KeyError) as e:  # a bad topology, an unknown addon
            raise LabError(e.args[0] if isinstance(e, KeyError) else str(e)) from e
        return cls.connect()

    @classmethod
    def connect(cls) -> Lab:
        return cls(objects.connect())

    def down(self) -> None:
        self.client.close()
        lifecycle.down(progress=lambda *_: None)

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.down()

    def status(self) -> dict:
        return lifecycle.status()

    # --- outside the cluster ---------------------------------------------------------------------
    def disconnect_node(self, name: str) -> str:
        """Take a node off the network (its link down, its kubelet cut off from the API);
        the Node turns NotReady after the node monitor grace period (50 s)."""
        return Outside().disconnect_node(name, self.client)

    def connect_node(self, name: str) -> str:
        """Bring a disconnected node back; Ready again at its next heartbeat."""
        return Outside().connect_node(name)

    def firewall(self, action: str = "list", port: str = "") -> str:
        """The router's NodePort firewall, as `labkit firewall`: "on", "off", "allow" or
        "deny" a port ("30080", "30053/udp"), "list"; the firewall in words."""
        from lab_kit.render.outside import describe_firewall

        out = Outside()
        actions = {
            "on": out.firewall_on,
            "off": out.firewall_off,
            "allow": lambda: out.firewall_allow(port),
            "deny": lambda: out.firewall_deny(port),
            "list": out.firewall,
        }
        if action not in actions:
            raise LabError(f'firewall: unknown action "{action}" (on, off, allow, deny, list)')
        return describe_firewall(actions[action]())

    # --- objects ---------------------------------------------------------------------------------
    def apply(
        self, source: Any, *, wait: bool = False, timeout_s: float = 60, dry_run: bool = False
    ) -> list[str]:
        """Create or update every document, all or nothing; returns kubectl's result lines.
        `wait`: then wait until what it created or changed has rolled out (the pods of its
        Pods, Deployments and ReplicaSets Ready; a LabError at once for a pod that will not
        be) and every agent has applied it (`labkit apply --wait`)."""
        applied = objects.apply(self.client, source, dry_run=dry_run)
        if wait and not dry_run:
            waiting.wait_applied(self.client, applied.changed, timeout_s)
        return applied.lines

    def refusal(self, source: Any, *, dry_run: bool = False) -> str:
        """Apply something expected to be refused and return the error a user would see
        ("" if it was accepted, and then it is applied): for showing what the API rejects."""
        return objects.refusal(self.client, source, dry_run=dry_run)

    def get(
        self,
        kind: str,
        name: str | None = None,
        namespace: str = "default",
        *,
        all_namespaces: bool = False,
        selector: str = "",
        wide: bool = False,
    ) -> Any:
        """One object (a dict) when named, else a Listing that prints as `kubectl get`."""
        return objects.get(self.client, kind, name, namespace, all_namespaces=all_namespaces,
                           selector=selector, wide=wide)  # fmt: skip

    def describe(self, kind: str, name: str, namespace: str = "default") -> str:
        return objects.describe(self.client, kind, name, namespace)

    def delete(
        self,
        kind: str | None = None,
        name: str | None = None,
        namespace: str = "default",
        *,
        filename: Any = None,
        grace_period_s: int | None = None,
        selector: str = "",
    ) -> list[str]:
        """Delete by kind and name, by kind and label selector (`selector="app=web"`), or
        every object a manifest names; returns kubectl's result lines."""
        return objects.delete(self.client, kind, [name] if name else [], namespace,
                              filename=filename, selector=selector,
                              grace_period_s=grace_period_s)  # fmt: skip

    # --- waiting ---------------------------------------------------------------------------------
    def wait(self, timeout_s: float = 60) -> None:
        """Return when every agent has applied the latest change, or raise after timeout_s."""
        waiting.converged(self.client, timeout_s)

    def wait_ready(
        self,
        timeout_s: float = 60,
        namespace: str | None = None,
        namespaces: list[str] | None = None,
    ) -> None:
        """Return when every agent has applied the latest change and every Pod (in the given
        namespaces, or all) is Ready; Pods that finished or are being deleted don't count."""
        waiting.wait_ready(self.client, timeout_s, namespace, namespaces)

    def wait_pod_finished(
        self, name: str, namespace: str = "default", timeout_s: float = 60
    ) -> int:
        """Wait for a pod's (first) container to run to its end; return its exit code."""
        return waiting.wait_pod_finished(self.client, name, namespace, timeout_s)

    def wait_listening(self, host: str, port: int, timeout_s: float = 10) -> None:
        """Return once something on `host` listens on TCP `port`."""
        waiting.wait_listening(host, port, timeout_s)

    # --- inside the lab --------------------------------------------------------------------------
    def host(self, name: str, *argv: str, echo: bool = False) -> Completed:
        """Run a command on a node or outside host (`lab.host("node1", "ip", "route")`)."""
        if echo:
            access.show_command(name, list(argv))
        return access.run_on_host(name, list(argv))

    def exec(
        self,
        pod: str,
        *argv: str,
        namespace: str = "default",
        container: str | None = None,
        echo: bool = False,
        stdin: str | None = None,
    ) -> Completed:
        """Run a command in a pod, with its container's environment (`kubectl exec`)."""
        if echo:
            access.show_command(pod, list(argv))
        return access.exec_in_pod(self.client, pod, list(argv), namespace, container, stdin=stdin)

    def kill(self, pod: str, namespace: str = "default", container: str | None = None) -> int:
        """`kill -9` a pod's container process: it dies without running any of its own code
        (no graceful shutdown); returns the PID it had on the machine."""
        return access.kill_container(self.client, pod, namespace, container)

    def dig(self, pod: str, name: str, *options: str, qtype: str = "A",
            namespace: str = "default", echo: bool = False) -> DigResult:  # fmt: skip
        """Run `dig [options] name qtype` in a pod (its resolv.conf: kube-dns and the search
        list; add "+search" to use it) and read the reply: `.status`, `.addresses`, ..."""
        if echo:
            access.show_command(pod, ["dig", *options, name, qtype])
        return access.dig(self.client, pod, name, list(options), qtype, namespace)

    def sandbox(self, pod: str, namespace: str = "default") -> dict:
        """The kubelet's record of a pod: its pause process, its containers' env and logs."""
        return access.sandbox(self.client, pod, namespace)

    def logs(
        self,
        pod: str,
        namespace: str = "default",
        container: str | None = None,
        previous: bool = False,
    ) -> str:
        """A container's output (`kubectl logs [--previous]`)."""
        return access.logs(self.client, pod, namespace, container, previous)

    def start_on_host(self, host: str, *argv: str, name: str = "") -> ProcessRecord:
        """Start a long-running program on a node or outside host (`lab.start_on_host(
        "internet", "agnhost", "netexec", "--http-port=80")`); `labkit down` stops it.
        `agnhost` runs the built-in agnhost workload."""
        return access.start_on_host(host, list(argv), name)

    def stop_on_host(self, record: ProcessRecord) -> None:
        processes.stop(record)

    def requests(
        self,
        pod: str,
        url: str,
        count: int = 100,
        *,
        namespace: str = "default",
        timeout_s: float = 2.0,
        stamp: bool = False,
    ) -> list[str]:
        """`count` HTTP requests from inside `pod`, one after another (a bounded loop in
        the pod); the answers in order ("ERR" for a failed one). With `stamp`, each answer
        is prefixed with the time it was received (epoch seconds)."""
        return access.requests(self.client, pod, url, count, namespace=namespace,
                               timeout_s=timeout_s, stamp=stamp)  # fmt: skip

    # --- the data plane --------------------------------------------------------------------------
    def iptables(self, node: str, table: str | None = None, *, grep: list[str] | str | None = None,
                 counters: bool = False) -> proxy_view.RulesText:  # fmt: skip
        """`iptables-save` on a node, or only the lines that mention `grep` (e.g. a chain
        name or a Service's ClusterIP)."""
        return proxy_view.iptables(node, table, grep=grep, counters=counters)

    def service_rules(
        self, name: str, namespace: str = "default", node: str = "node1"
    ) -> proxy_view.RulesText:
        """The nat and filter rules kube-proxy wrote on `node` for one Service: its
        KUBE-SERVICES entries and its KUBE-SVC/SVL/EXT/FW/SEP chains."""
        return proxy_view.service_rules(self.client, name, namespace, node)

    def trace(self, node: str, src: str, dst: str, dport: int | None = None, proto: str = "tcp", *,
              origin: str = "forwarded", choose: int | random.Random | None = None) -> Trace:  # fmt: skip
        """Walk the first packet of a connection through `node`'s live rules (its current
        `iptables-save`), rule by rule: `origin="forwarded"` for a packet from a pod or
        another host, `"local"` for one the node itself sends. `choose`: which random branch
        to take (an index, or a random.Random); by default the first."""
        return proxy_view.trace(node, src, dst, dport, proto, origin=origin, choose=choose)

    def outcomes(self, node: str, src: str, dst: str, dport: int | None = None, proto: str = "tcp",
                 *, origin: str = "forwarded") -> list[Outcome]:  # fmt: skip
        """Every possible fate of that packet on `node`, with its probability."""
        return proxy_view.outcomes(node, src, dst, dport, proto, origin=origin)

    def rule_hits(self, node: str) -> proxy_view.RuleHits:
        """`with lab.rule_hits("node1") as hits: ...` — afterwards `hits.rules` are the
        rules whose packet counters grew meanwhile (iptables-save -c before and after)."""
        return proxy_view.RuleHits(node)

    def conntrack(self, node: str, *filters: str) -> proxy_view.ConntrackTable:
        """Connection-tracking entries on a node (`conntrack -L`), original and reply tuple."""
        return proxy_view.conntrack(node, *filters)

    def proxy_metrics(self, node: str = "node1") -> dict[str, float]:
        return proxy_view.proxy_metrics(node)

    # --- seeing it ------------------------------------------------------------------------------
    def draw(self) -> Figure:
        """The topology: nodes with their pods, the switch, the hosts outside the cluster."""
        return figure(graphs.draw_topology(self.client))

    def draw_services(self, namespace: str = "default") -> Figure:
        """Services -> EndpointSlices -> pods (and their nodes)."""
        return figure(graphs.draw_services(self.client, namespace))

    # --- the cloud load balancer -----------------------------------------------------------------
    def load_balancer(self) -> lb_view.LoadBalancerView:
        """The cloud-lb host's view: per LB address its Service, mode, health check, and
        each node's health and place in the rotation (prints as a table)."""
        return lb_view.load_balancer()

    def draw_load_balancer(self, address: str) -> Figure:
        """A request to `address`: client -> cloud-lb -> node -> pod, the addresses at
        each hop, rewrites in red, and the way the reply takes."""
        return figure(lb_view.draw_path(self.client, address))

    # --- the ingress controller -------------------------------------------------------------------
    def ingress_explain(
        self,
        url: str,
        *,
        host: str | None = None,
        sni: str | None = None,
        cookies: dict[str, str] | None = None,
    ) -> ingress_view.Explanation:
        """What the ingress controller does with a request for `url` (Host: the URL's host,
        or `host`, as `curl -H`): which server, Ingress rule, Service and pods, and why."""
        return ingress_view.explain(self.client, url, host=host, sni=sni, cookies=cookies)

    def ingress_conf(self) -> str:
        """The nginx.conf the controller runs (read in its container)."""
        return ingress_view.nginx_conf(self.client)

    def draw_ingress(self) -> Figure:
        """Each served Ingress -> its rules (host, path) -> Services -> ready pods."""
        return figure(ingress_view.draw(self.client))

    # --- TLS: the lab CA ------------------------------------------------------------------------
    def tls_secret(
        self, name: str, hosts: list[str] | str, namespace: str = "default"
    ) -> tls.TlsSecret:
        """Issue a certificate for `hosts` from the lab CA and create (or replace) the
        kubernetes.io/tls Secret `name` an Ingress's `tls:` entry names."""
        return tls.tls_secret(self.client, name, hosts, namespace)

    def ca_file(self) -> str:
        """The lab CA's certificate: `curl --cacert <it>` trusts what `tls_secret` issued."""
        return tls.ca_file()

    def capture(
        self,
        target: str,
        interface: str | None = None,
        namespace: str = "default",
        packet_filter: str = "",
    ) -> LabCapture:
        """Capture packets on a pod's eth0 or a host's interface (`with lab.capture("web") as cap:`);
        after the block, `cap.packets()` is the decoded table and `cap.path` the pcap file."""
        return captures.capture(self.client, target, interface, namespace, packet_filter)

    def capture_many(
        self, targets: list[str], namespace: str = "default", packet_filter: str = ""
    ) -> CaptureGroup:
        """Capture on several pods or hosts at once: `with lab.capture_many(pods) as caps:`;
        afterwards `caps["pod"].packets()`; `caps.with_connections()` names those that saw a SYN."""
        return captures.capture_many(self.client, targets, namespace, packet_filter)

    def draw_connection(self, client_capture: LabCapture, server_capture: LabCapture,
                        client: str, server: str, node: str = "") -> Figure:  # fmt: skip
        """The first connection seen in both captures, hop by hop, rewrites in red."""
        return figure(
            captures.draw_connection(client_capture, server_capture, client, server, node)
        )

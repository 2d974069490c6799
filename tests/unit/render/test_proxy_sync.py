"""Full and partial restores, as kube-proxy >= 1.28 writes them: a full restore writes
everything and deletes stale service chains the node shows; a partial one rewrites the
top-level chains and the chains that changed, and deletes the ones that went away; a
failure or a lost canary makes the next one full again."""

from __future__ import annotations

from lab_kit.render import proxy_rules as pr
from lab_kit.render import proxy_sync as ps


def service(name: str, ip: str) -> dict:
    return {
        "metadata": {"namespace": "default", "name": name},
        "spec": {"clusterIP": ip, "ports": [{"name": "", "port": 80, "protocol": "TCP"}]},
    }


def endpoint_slice(name: str, ips: list[str]) -> dict:
    return {
        "metadata": {"namespace": "default", "name": name,
                     "labels": {"kubernetes.io/service-name": name}},
        "addressType": "IPv4",
        "ports": [{"name": "", "port": 8080, "protocol": "TCP"}],
        "endpoints": [{"addresses": [ip]} for ip in ips],
    }  # fmt: skip


def rules(web: list[str], api: list[str] | None = None) -> pr.ProxyRules:
    """`web` (and `api`, unless None) with these endpoint IPs, as node1 renders them."""
    services, slices = [service("web", "10.96.0.20")], [endpoint_slice("web", web)]
    if api is not None:
        services.append(service("api", "10.96.0.21"))
        slices.append(endpoint_slice("api", api))
    return pr.render(services, slices, "node1")


def nat_declared(text: str) -> list[str]:
    nat = text.split("*nat\n")[1]
    return [line[1:].split()[0] for line in nat.splitlines() if line.startswith(":")]


def deleted(text: str) -> list[str]:
    return [line.split()[1] for line in text.splitlines() if line.startswith("-X ")]


WEB_SVC = pr.svc_chain("default/web", "tcp")
API_SVC = pr.svc_chain("default/api", "tcp")
API_SEP = pr.sep_chain("default/api", "tcp", "10.244.2.2:8080")


def test_full_restore_deletes_only_stale_service_chains():
    saved = (
        "*filter\n:KUBE-SERVICES - [0:0]\n:KUBE-SVC-FILTERFILTERFILT - [0:0]\nCOMMIT\n"
        f"*nat\n:PREROUTING ACCEPT [0:0]\n:{WEB_SVC} - [0:0]\n:KUBE-SVC-OLDOLDOLDOLDOLDO - [0:0]\n"
        ":KUBE-FW-OLDOLDOLDOLDOLDO - [0:0]\n:KUBE-SERVICES - [0:0]\n:CNI-HOSTPORT-DNAT - [0:0]\n"
        "COMMIT\n"
    )
    r = rules(["10.244.1.2"])
    text = ps.full_restore(r, saved)
    assert deleted(text) == ["KUBE-SVC-OLDOLDOLDOLDOLDO", "KUBE-FW-OLDOLDOLDOLDOLDO"]
    assert text == r.filter.text() + r.nat.text(delete=tuple(deleted(text)))
    assert ps.full_restore(r, "") == r.text()  # a fresh node: nothing to delete


def test_partial_restore_writes_top_level_chains_and_what_changed():
    before = rules(["10.244.1.2"], api=["10.244.2.2"])
    after = rules(["10.244.1.2", "10.244.1.3"], api=["10.244.2.2"])
    text = ps.partial_restore(after, before.chain_rules())
    new_sep = pr.sep_chain("default/web", "tcp", "10.244.1.3:8080")
    assert nat_declared(text) == [*pr.NAT_CHAINS, WEB_SVC, new_sep]
    assert f"-A {API_SVC} " not in text and deleted(text) == []  # api: untouched
    assert text.startswith(after.filter.text())  # the filter table: always whole


def test_partial_restore_of_nothing_changed_is_the_top_level_chains():
    r = rules(["10.244.1.2"])
    assert ps.changed_chains(r, r.chain_rules()) == set(pr.NAT_CHAINS)


def test_partial_restore_flushes_and_deletes_what_went_away():
    before = rules(["10.244.1.2"], api=["10.244.2.2"])
    after = rules(["10.244.1.2"])
    text = ps.partial_restore(after, before.chain_rules())
    assert deleted(text) == [API_SVC, API_SEP]
    assert {API_SVC, API_SEP} <= set(nat_declared(text))  # declared: flushed before the -X


def test_sync_state_full_then_partial_then_full_after_a_failure():
    state = ps.SyncState()
    first, second = rules(["10.244.1.2"]), rules(["10.244.1.3"])
    assert state.needs_full
    assert state.restore_text(first, "") == ps.full_restore(first, "")
    state.applied(first)
    assert not state.needs_full
    assert state.restore_text(second) == ps.partial_restore(second, first.chain_rules())
    state.force_full()  # the restore failed, or the canary vanished
    assert state.needs_full and state.restore_text(second, "") == second.text()


def test_canary_present():
    assert ps.canary_present(f"*filter\n:{pr.CANARY} - [0:0]\nCOMMIT\n")
    assert not ps.canary_present("*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n")
    assert not ps.canary_present(f"*filter\n:{pr.CANARY}-NOT - [0:0]\nCOMMIT\n")

"""Knative Serving's Service, Configuration and Route controllers.

Mirrors knative/serving `pkg/reconciler/service` (a Service owns a Configuration and a
Route of its name; its status gathers theirs), `pkg/reconciler/configuration` (each
template generation stamps one immutable Revision, `<configuration>-<generation:05d>`
unless the template names it; latestCreated/latestReadyRevisionName) and
`pkg/reconciler/route` (traffic targets resolved to Revisions; URL
`http://<route>.<namespace>.<domain>`, tags as `http://<tag>-<route>.<namespace>.<domain>`;
a placeholder Service `<route>` of type ExternalName pointing at the local gateway, so the
cluster-local name `<route>.<namespace>.svc.cluster.local` leads to the gateway).

Deviations: conditions carry no timestamps; the Route's ingress is the lab's gateway,
which reads Routes directly (no KIngress object); Revisions are garbage-collected only with
their Configuration (Knative also keeps the newest few and deletes stale ones).
"""

from __future__ import annotations

from lab_kit.controllers.knative_objects import (
    DOMAIN,
    LOCAL_GATEWAY,
    SYSTEM_NAMESPACE,
    condition,
    ensure,
    ensure_status,
    owned,
)
from lab_kit.controllers.state import Action, Create, Snapshot
from lab_kit.model import knative as kn
from lab_kit.model import meta

SERVICE_KEY = "Service.serving.knative.dev"


def reconcile(state: Snapshot, now: float) -> list[Action]:
    actions: list[Action] = []
    for ksvc in state.list(SERVICE_KEY):
        if not meta.is_deleting(ksvc):
            actions += sync_service(state, ksvc)
    for config in state.list("Configuration"):
        if not meta.is_deleting(config):
            actions += sync_configuration(state, config)
    for route in state.list("Route"):
        if not meta.is_deleting(route):
            actions += sync_route(state, route)
    return actions


# --- Service -----------------------------------------------------------------------------------


def sync_service(state: Snapshot, ksvc: dict) -> list[Action]:
    name, spec = meta.name(ksvc), meta.spec(ksvc)
    labels = {**meta.labels(ksvc), kn.SERVICE_LABEL: name}
    config = owned(ksvc, "Configuration", kn.API_VERSION, name, labels)
    config["spec"] = {"template": meta.deep_copy(spec.get("template") or {})}
    route = owned(ksvc, "Route", kn.API_VERSION, name, labels)
    route["spec"] = {"traffic": [_route_target(t, name) for t in spec.get("traffic") or []]}
    actions = ensure(state, config) + ensure(state, route)
    current_config = state.get("Configuration", meta.namespace(ksvc), name) or {}
    current_route = state.get("Route", meta.namespace(ksvc), name) or {}
    return actions + ensure_status(ksvc, _service_status(ksvc, current_config, current_route))


def _route_target(target: dict, config_name: str) -> dict:
    """A Service's `latestRevision: true` target follows its own Configuration."""
    out = dict(target)
    if out.get("latestRevision"):
        out["configurationName"] = config_name
    return out


def _service_status(ksvc: dict, config: dict, route: dict) -> dict:
    cstatus, rstatus = config.get("status") or {}, route.get("status") or {}
    config_ready = _ready(config)
    route_ready = _ready(route)
    status = {
        "observedGeneration": meta.metadata(ksvc).get("generation", 1),
        "conditions": [
            condition("ConfigurationsReady", config_ready),
            condition(
                "Ready",
                None if None in (config_ready, route_ready) else config_ready and route_ready,
            ),
            condition("RoutesReady", route_ready),
        ],
    }
    for field in ("latestCreatedRevisionName", "latestReadyRevisionName"):
        if field in cstatus:
            status[field] = cstatus[field]
    for field in ("url", "address", "traffic"):
        if field in rstatus:
            status[field] = rstatus[field]
    return status


def _ready(obj: dict) -> bool | None:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return {"True": True, "False": False}.get(c.get("status", ""))
    return None


# --- Configuration -----------------------------------------------------------------------------


def revision_name(config: dict) -> str:
    template_md = (meta.spec(config).get("template") or {}).get("metadata") or {}
    generation = meta.metadata(config).get("generation", 1)
    return template_md.get("name") or f"{meta.name(config)}-{generation:05d}"


def revisions_of(state: Snapshot, config: dict) -> list[dict]:
    """The Revisions stamped from `config`, oldest generation first."""
    found = [
        r
        for r in state.list("Revision", meta.namespace(config))
        if meta.labels(r).get(kn.CONFIGURATION_LABEL) == meta.name(config)
    ]
    return sorted(
        found, key=lambda r: int(meta.labels(r).get(kn.CONFIGURATION_GENERATION_LABEL, "0"))
    )


def sync_configuration(state: Snapshot, config: dict) -> list[Action]:
    ns, name = meta.namespace(config), meta.name(config)
    generation = meta.metadata(config).get("generation", 1)
    template = meta.spec(config).get("template") or {}
    rev_name = revision_name(config)
    actions: list[Action] = []
    existing = state.get("Revision", ns, rev_name)
    if existing is None:
        template_md = template.get("metadata") or {}
        labels = {
            **(template_md.get("labels") or {}),
            kn.CONFIGURATION_LABEL: name,
            kn.CONFIGURATION_GENERATION_LABEL: str(generation),
            f"{kn.GROUP}/configurationUID": meta.uid(config),
        }
        if kn.SERVICE_LABEL in meta.labels(config):
            labels[kn.SERVICE_LABEL] = meta.labels(config)[kn.SERVICE_LABEL]
        revision = owned(config, "Revision", kn.API_VERSION, rev_name, labels)
        annotations = dict(template_md.get("annotations") or {})
        if annotations:
            revision["metadata"]["annotations"] = annotations
        revision["spec"] = meta.deep_copy(template.get("spec") or {})
        actions.append(Create(revision))
    latest_ready = (config.get("status") or {}).get("latestReadyRevisionName")
    revision_ready = _ready(existing) if existing else None
    if revision_ready:
        latest_ready = rev_name
    status: dict = {
        "observedGeneration": generation,
        "latestCreatedRevisionName": rev_name,
        "conditions": [
            condition(
                "Ready",
                True if latest_ready == rev_name else revision_ready,
                "" if revision_ready is not False else "RevisionFailed",
            ),  # fmt: skip
        ],
    }
    if latest_ready:
        status["latestReadyRevisionName"] = latest_ready
    return actions + ensure_status(config, status)


# --- Route ---------------------------------------------------------------------------------------


def resolve_traffic(state: Snapshot, route: dict) -> tuple[list[dict], str]:
    """The Route's targets as concrete Revisions (status.traffic), or why not yet."""
    ns, out = meta.namespace(route), []
    for target in meta.spec(route).get("traffic") or []:
        revision = target.get("revisionName")
        if not revision:
            config = state.get("Configuration", ns, target.get("configurationName", ""))
            revision = ((config or {}).get("status") or {}).get("latestReadyRevisionName")
            if not revision:
                return (
                    [],
                    f'Configuration "{target.get("configurationName", "")}" does not have any ready Revision.',
                )
        elif not _ready(state.get("Revision", ns, revision) or {}):
            return [], f'Revision "{revision}" referenced in traffic not found or not ready.'
        entry: dict = {"revisionName": revision, "latestRevision": bool(target.get("latestRevision")),
                       "percent": target.get("percent", 0)}  # fmt: skip
        if target.get("tag"):
            entry["tag"] = target["tag"]
            entry["url"] = f"http://{target['tag']}-{meta.name(route)}.{ns}.{domain_of(route)}"
        out.append(entry)
    return out, ""


def domain_of(route: dict) -> str:
    if meta.labels(route).get(kn.VISIBILITY_LABEL) == "cluster-local":
        return "svc.cluster.local"
    return DOMAIN


def sync_route(state: Snapshot, route: dict) -> list[Action]:
    ns, name = meta.namespace(route), meta.name(route)
    placeholder = owned(route, "Service", "v1", name, {kn.ROUTE_LABEL: name})
    placeholder["spec"] = {
        "type": "ExternalName",
        "externalName": f"{LOCAL_GATEWAY}.{SYSTEM_NAMESPACE}.svc.cluster.local",
        "sessionAffinity": "None",
        "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 80}],
    }
    actions = ensure(state, placeholder)
    traffic, why = resolve_traffic(state, route)
    local = f"http://{name}.{ns}.svc.cluster.local"
    status: dict = {
        "observedGeneration": meta.metadata(route).get("generation", 1),
        "url": f"http://{name}.{ns}.{domain_of(route)}",
        "address": {"url": local},
        "conditions": [
            condition("AllTrafficAssigned", not why, "RevisionMissing" if why else "", why),
            condition("IngressReady", True if not why else None),
            condition("Ready", not why, "RevisionMissing" if why else "", why),
        ],
    }
    if traffic:
        status["traffic"] = traffic
    return actions + ensure_status(route, status)

"""Installing, waiting for and removing an addon (`lab_kit/lab/addons/`) on a running lab.

apply_addon   its manifest, in one all-or-nothing apply (as `labkit apply -f`)
wait_ready    each of its `ready_services` has a ready endpoint, then every agent
              has applied the store's newest version (so kube-proxy has programmed it)
remove_addon  delete what its manifest names (the namespace only if it is its own)
"""

from __future__ import annotations

import time

from lab_kit.adapters.apiclient import ApiClient
from lab_kit.lab.addons import Addon
from lab_kit.lab.errors import LabError
from lab_kit.model.constants import SYSTEM_NAMESPACES
from lab_kit.model.errors import ApiError
from lab_kit.model.kinds import by_kind_name, kind_of
from lab_kit.model.manifests import parse_manifests


def objects(addon: Addon) -> list[dict]:
    return [d.obj for d in parse_manifests(addon.manifest.read_text(), str(addon.manifest))]


def apply_addon(client: ApiClient, addon: Addon) -> None:
    client.apply(objects(addon))


def wait_ready(client: ApiClient, addon: Addon, timeout_s: float = 30) -> None:
    """Wait until each of the addon's ready Services has a ready endpoint, and every agent
    has caught up; a LabError that says where to look after `timeout_s`."""
    slices = by_kind_name("EndpointSlice")
    deadline = time.monotonic() + timeout_s
    for service in addon.ready_services:
        selector = f"kubernetes.io/service-name={service}"
        while True:
            listing = client.list(slices, addon.namespace, label_selector=selector)
            ready = [e for s in listing["items"] for e in s.get("endpoints") or []
                     if (e.get("conditions") or {}).get("ready")]  # fmt: skip
            if ready:
                break
            left = deadline - time.monotonic()
            if left <= 0:
                raise LabError(
                    f"addon {addon.name}: Service {service} had no ready pod after "
                    f"{timeout_s:.0f} s; see `labkit get pods -n {addon.namespace}` and "
                    f"`labkit logs -n {addon.namespace} POD`"
                )
            client.watch_change(slices, left, rv=int(listing["metadata"]["resourceVersion"]))
    client.converged(max(1.0, deadline - time.monotonic()))


def remove_addon(client: ApiClient, addon: Addon) -> list[str]:
    """Delete every object of the addon's manifest (newest first); returns what went."""
    gone = []
    for obj in reversed(objects(addon)):
        kind = kind_of(obj)
        md = obj.get("metadata") or {}
        if kind.kind == "Namespace" and md.get("name") in SYSTEM_NAMESPACES:
            continue
        namespace = (md.get("namespace") or addon.namespace) if kind.namespaced else None
        try:
            client.delete(kind, md.get("name", ""), namespace)
        except ApiError as e:
            if e.code != 404:
                raise
            continue
        gone.append(f"{kind.singular}/{md.get('name', '')}")
    return gone

"""The labs' copy of the book's manifests is the book's, byte for byte."""

from pathlib import Path

import pytest

from lab_kit.api.jsonpath import execute
from lab_kit.api.printers import service_external_ip
from lab_kit.api.registry import Registry
from lab_kit.controllers.service_lb import Cloud, ServiceController
from lab_kit.lab.topologies import load_topology
from lab_kit.model.kinds import lookup
from lab_kit.model.manifests import parse_manifests

REPO = Path(__file__).resolve().parents[2]
BOOK = REPO / "labs" / "manifests" / "book"
REFUSED = REPO / "labs" / "manifests" / "book-refused"  # what a current cluster refuses
SHARED_BOOK = REPO.parent / "shared" / "k8spatterns-servicediscovery"


def test_vendored_manifests_match_the_reference_copy():
    if not SHARED_BOOK.is_dir():
        pytest.skip(f"no reference copy at {SHARED_BOOK}")
    shared = {p.name: p.read_bytes() for p in SHARED_BOOK.glob("*.yml")}
    ours = {p.name: p.read_bytes() for p in [*BOOK.glob("*.yml"), *REFUSED.glob("*.yml")]}
    assert ours == shared


def test_the_books_nodeport_and_loadbalancer_services_work_unchanged():
    """The API takes both as they are (the NodePort's 32766 honoured); the cloud controller
    gives the LoadBalancer one an address from the default topology's pool; kubectl's
    jsonpath prints what the walkthrough asks for."""

    def book(name: str) -> dict:
        (doc,) = parse_manifests((BOOK / name).read_text(), name)
        return doc.obj

    reg = Registry(clock=lambda: 1_700_000_000.0)
    reg.bootstrap()
    nodeport = reg.create(book("service-with-nodeport.yml"))
    assert execute("{.spec.ports[0].nodePort}", nodeport) == "32766"
    assert service_external_ip(nodeport) == "<none>"
    reg.delete(lookup("services"), "default", "random-generator")
    lb = reg.create(book("service-with-loadbalancer.yml"))
    assert service_external_ip(lb) == "<pending>" and lb["spec"]["allocateLoadBalancerNodePorts"]
    assert execute("{.status.loadBalancer.ingress[0].ip}", lb) == ""
    controller = ServiceController(Cloud(load_topology().load_balancer_pool))
    for work in controller.sync([lb], [], 1_700_000_000.0):
        for action, required in work.actions:
            if required:
                reg.update(action.obj, subresource=action.subresource)
    lb = reg.get(lookup("services"), "default", "random-generator")
    assert execute("{.status.loadBalancer.ingress[0].ip}", lb) == "198.51.100.32"
    assert 30000 <= int(execute("{.spec.ports[0].nodePort}", lb)) <= 32767
    assert service_external_ip(lb) == "198.51.100.32"

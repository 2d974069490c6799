"""Workloads: the programs our kubelet runs inside pods in place of container images.

Images are not pulled. The image table (`lab_kit/agents/images.py`, `resolve(container)`)
maps a container (image, command, args) to a `Program` (an argv to exec inside the pod)
with Kubernetes' ENTRYPOINT/CMD rules — one of these workloads, an agent of the lab, or
this machine's tools — or to `Unknown` (the waiting reason and message kubelet would show).

The built-in workloads re-implement what a learner can observe of the real images:

- `random_generator`: the Kubernetes Patterns book's k8spatterns/random-generator service.
- `agnhost`: Kubernetes' e2e test image (netexec, serve-hostname, pause).
- `pause`: registry.k8s.io/pause.
- `registry_server` (+ `registry_core`): springcloud/eureka, a Eureka server; its client
  (`registry_client`) registers the random-generator when EUREKA_CLIENT_SERVICEURL_DEFAULTZONE
  is set, and serves `discovery_consumer` (lab-kit/discovery-client), which also discovers
  through the Kubernetes API (`endpoints_watch`).
- `echoserver`: ingress-controller-conformance's echo server (the request as JSON, and
  which pod, Service and Ingress served it).

Each workload is run as a file (`python -E -S .../random_generator.py`), not with `-m`:
`-m lab_kit.workloads...` would import `lab_kit/__init__.py` and with it the whole lab (about
110 ms); run as files they use only the standard library and answer within ~60 ms.
Nothing here imports from the rest of lab_kit.
"""

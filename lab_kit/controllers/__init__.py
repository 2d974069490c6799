"""Pure reconcile functions of kube-controller-manager (and the scheduler).

Each controller module exposes `reconcile(state, now) -> list[Action]`: it compares the
desired state with what the store holds and returns the writes that converge the two, as
`kubernetes/sample-controller`'s `syncHandler` does, but without touching anything. The
controller-manager agent (`lab_kit.agents.controller_manager`) feeds them informer caches
and sends the actions to the API server.
"""

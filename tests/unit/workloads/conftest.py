"""The `spawn` fixture: workloads as subprocesses (see workload_procs)."""

from workload_procs import spawn  # noqa: F401

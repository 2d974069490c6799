"""What a container runtime decides about a container's isolation, before anything runs.

Mirrors containerd's defaults for Kubernetes (`pkg/oci/spec.go` populateDefaultUnixSpec,
`pkg/cri/opts/spec_linux.go` WithCapabilities / WithMaskedPaths / WithReadonlyPaths) and
the kubelet's `pkg/kubelet/kuberuntime` choices:

    capabilities   the 14 default ones, then securityContext.capabilities drop, then add
                   ("ALL" in either means every capability); privileged: all of them
    /proc, /sys    masked paths (hidden behind /dev/null or an empty tmpfs) and read-only
                   paths, unless the container is privileged
    PID namespace  each container its own (the container's process is PID 1), unless the
                   pod says shareProcessNamespace: then the pause process is PID 1 of one
                   namespace for the whole pod

Pure: the sandbox adapter (`lab_kit/adapters/sandbox.py`) turns this into mounts and the
container's init (`lab_kit/workloads/container_init.py`) into its bounding set.
"""

from __future__ import annotations

from dataclasses import dataclass

# linux/capability.h order; the kernel's number of each is its index here.
ALL_CAPABILITIES = (
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID",
    "SETUID", "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST",
    "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO",
    "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
    "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE",
    "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM",
    "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
)  # fmt: skip

# containerd's default set for a container that is not privileged.
DEFAULT_CAPABILITIES = (
    "CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID",
    "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE",
)  # fmt: skip

# containerd's defaults: hidden (a directory gets an empty read-only tmpfs, a file /dev/null)
MASKED_PATHS = (
    "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
    "/sys/firmware", "/sys/devices/virtual/powercap",
)  # fmt: skip
# ... and read-only (/proc/sys: no sysctl of the machine; /proc/sysrq-trigger: no reboot).
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")


def _names(values: object) -> set[str]:
    """Capability names as the API takes them ("NET_ADMIN", also "CAP_NET_ADMIN")."""
    if not isinstance(values, list):
        return set()
    return {str(v).upper().removeprefix("CAP_") for v in values}


def capabilities(container: dict) -> tuple[str, ...]:
    """The container's bounding set, in the kernel's order (WithCapabilities)."""
    context = container.get("securityContext") or {}
    if context.get("privileged"):
        return ALL_CAPABILITIES
    caps = (context.get("capabilities") or {}) if isinstance(context, dict) else {}
    add, drop = _names(caps.get("add")), _names(caps.get("drop"))
    have = set(DEFAULT_CAPABILITIES)
    have = set() if "ALL" in drop else have - drop
    have |= set(ALL_CAPABILITIES) if "ALL" in add else add & set(ALL_CAPABILITIES)
    return tuple(c for c in ALL_CAPABILITIES if c in have)


def privileged(container: dict) -> bool:
    return bool((container.get("securityContext") or {}).get("privileged"))


@dataclass(frozen=True)
class ProcPlan:
    """What the container's init does to /proc and /sys once it has mounted them."""

    masked: tuple[str, ...]
    readonly: tuple[str, ...]


def proc_plan(container: dict) -> ProcPlan:
    """Privileged containers see /proc and /sys whole and writable, as with containerd."""
    if privileged(container):
        return ProcPlan((), ())
    return ProcPlan(MASKED_PATHS, READONLY_PATHS)


def shares_process_namespace(pod: dict) -> bool:
    return bool((pod.get("spec") or {}).get("shareProcessNamespace"))

"""A container's isolation as containerd decides it: capabilities, /proc and /sys, PID
namespace sharing."""

from __future__ import annotations

from lab_kit.node import containers as ct


def container(**security_context: object) -> dict:
    return {"name": "c", "image": "busybox", "securityContext": security_context}


def test_the_default_set_is_containerds_fourteen_in_kernel_order():
    caps = ct.capabilities({"name": "c"})
    assert set(caps) == set(ct.DEFAULT_CAPABILITIES) and len(caps) == 14
    assert list(caps) == sorted(caps, key=ct.ALL_CAPABILITIES.index)
    assert "SYS_ADMIN" not in caps and "SYS_PTRACE" not in caps and "NET_ADMIN" not in caps
    assert ct.ALL_CAPABILITIES.index("SYS_ADMIN") == 21  # linux/capability.h numbers
    assert ct.ALL_CAPABILITIES.index("NET_RAW") == 13


def test_drop_then_add_with_or_without_the_cap_prefix_and_all():
    caps = ct.capabilities(container(capabilities={"add": ["CAP_NET_ADMIN", "sys_time"],
                                                   "drop": ["KILL", "NET_RAW"]}))  # fmt: skip
    assert {"NET_ADMIN", "SYS_TIME"} <= set(caps) and not {"KILL", "NET_RAW"} & set(caps)
    assert ct.capabilities(container(capabilities={"drop": ["ALL"]})) == ()
    only = ct.capabilities(container(capabilities={"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}))
    assert only == ("NET_BIND_SERVICE",)
    assert ct.capabilities(container(capabilities={"add": ["ALL"]})) == ct.ALL_CAPABILITIES
    assert "BOGUS" not in ct.capabilities(container(capabilities={"add": ["BOGUS"]}))


def test_privileged_gets_everything_and_an_unmasked_proc():
    privileged = container(privileged=True, capabilities={"drop": ["ALL"]})
    assert ct.capabilities(privileged) == ct.ALL_CAPABILITIES
    assert ct.proc_plan(privileged) == ct.ProcPlan((), ())
    plain = ct.proc_plan({"name": "c"})
    assert "/proc/sys" in plain.readonly and "/proc/sysrq-trigger" in plain.readonly
    assert "/proc/kcore" in plain.masked and "/sys/firmware" in plain.masked


def test_process_namespace_sharing_is_the_pods_choice():
    assert not ct.shares_process_namespace({"spec": {}})
    assert ct.shares_process_namespace({"spec": {"shareProcessNamespace": True}})

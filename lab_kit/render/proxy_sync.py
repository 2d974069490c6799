"""What one kube-proxy sync hands `iptables-restore --noflush`: a full or a partial restore.

Mirrors the partial-sync half of `syncProxyRules` in kubernetes/kubernetes
`pkg/proxy/iptables/proxier.go` (kube-proxy >= 1.28: `needFullSync`, `tryPartialSync`, the
stale-chain cleanup). `lab_kit.render.proxy_rules` says what the node's rules should be;
this module says how much of that to write, given what is already there.

1. A sync is *full* at start, after a failed restore, and when `KUBE-PROXY-CANARY` has
   vanished (someone flushed the tables). It writes every chain, and deletes (`-X`) the
   service chains `iptables-save` shows that the rules no longer declare.
2. Otherwise it is *partial*: the top-level chains are always rewritten, a service's
   KUBE-SVC/SVL/EXT/FW/SEP chains only when their rules differ from what the last
   successful restore wrote, and chains that restore wrote which are gone now are flushed
   and deleted in the same restore.
3. The filter table holds only top-level chains: it is always written whole.

    state = SyncState()                   # nothing written yet: the first sync is full
    text = state.restore_text(rules, saved)   # full_restore(...) or partial_restore(...)
    iptables-restore ok -> state.applied(rules);  fails -> state.force_full()

Unlike kube-proxy, we keep the written rules per chain rather than a hash per service.
"""

from __future__ import annotations

from dataclasses import dataclass

from lab_kit.render.proxy_rules import CANARY, NAT_CHAINS, ProxyRules, saved_chains

# The chains kube-proxy writes per service port (`isServiceChainName`): only these are ever
# deleted as stale; anything else in the nat table belongs to someone else.
SERVICE_CHAIN_PREFIXES = ("KUBE-SVC-", "KUBE-SVL-", "KUBE-EXT-", "KUBE-FW-", "KUBE-SEP-")

Written = dict[tuple[str, str], list[str]]  # (table, chain) -> its rule lines, as restored


def canary_present(saved_filter: str) -> bool:
    """Is `KUBE-PROXY-CANARY` declared in this `iptables-save -t filter` output?"""
    return f":{CANARY} " in saved_filter


def stale_saved_chains(rules: ProxyRules, saved: str) -> tuple[str, ...]:
    """Service chains the node's nat table has (per `iptables-save`) that `rules` lacks."""
    existing = (c[1:] for c in saved_chains(saved, "nat").split())
    return tuple(
        c for c in existing if c.startswith(SERVICE_CHAIN_PREFIXES) and not rules.nat.has(c)
    )


def changed_chains(rules: ProxyRules, written: Written) -> set[str]:
    """The nat chains a partial sync rewrites: the top-level ones, and each chain whose
    rules differ from what was written last."""
    return {
        c for c in rules.nat.chains
        if c in NAT_CHAINS or written.get(("nat", c)) != rules.nat.by_chain.get(c, [])
    }  # fmt: skip


def stale_written_chains(rules: ProxyRules, written: Written) -> tuple[str, ...]:
    """nat chains the last restore wrote that `rules` no longer declares."""
    return tuple(c for t, c in written if t == "nat" and not rules.nat.has(c))


def full_restore(rules: ProxyRules, saved: str) -> str:
    """Rule 1: every chain, and `-X` for the stale service chains `saved` shows."""
    return rules.filter.text() + rules.nat.text(delete=stale_saved_chains(rules, saved))


def partial_restore(rules: ProxyRules, written: Written) -> str:
    """Rule 2: the changed chains only, and `-X` for the chains that went away."""
    only, stale = changed_chains(rules, written), stale_written_chains(rules, written)
    return rules.filter.text() + rules.nat.text(only=only, delete=stale)


@dataclass
class SyncState:
    """What the last successful restore wrote; None means the next sync must be full
    (kube-proxy's `needFullSync`)."""

    written: Written | None = None

    @property
    def needs_full(self) -> bool:
        return self.written is None

    def restore_text(self, rules: ProxyRules, saved: str = "") -> str:
        """The restore this sync sends (`saved`: the node's iptables-save, for a full one)."""
        if self.written is None:
            return full_restore(rules, saved)
        return partial_restore(rules, self.written)

    def applied(self, rules: ProxyRules) -> None:
        """The restore went through: the next sync compares against these rules."""
        self.written = rules.chain_rules()

    def force_full(self) -> None:
        """A failed restore or a vanished canary: rewrite everything next time."""
        self.written = None

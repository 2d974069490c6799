"""A connection's path through a Service, from two captures: one on the client pod's eth0,
one on the serving pod's eth0. The first SYN and SYN-ACK seen at each end give four hops;
the graph (`graphs.packet_path_graph`) marks in red every address the nodes rewrote on
the way (DNAT to the pod going out, the reverse on the way back, SNAT when masqueraded).
"""

from __future__ import annotations

from lab_kit.lab.packets import PacketRow, PacketTable


def _ep(ip: str, port: int | None) -> str:
    return f"{ip}:{port}" if port is not None else ip


def _first(rows: PacketTable, flags: str, **match) -> PacketRow | None:
    for r in rows:
        if (
            r.protocol == "TCP"
            and r.flags == flags
            and all(getattr(r, k) == v for k, v in match.items())
        ):
            return r
    return None


def connection_hops(client_rows: PacketTable, server_rows: PacketTable, client: str, server: str,
                    node: str = "the client's node") -> list[dict]:  # fmt: skip
    """Hops of the first connection seen in both captures."""
    client_syns = [r for r in client_rows if r.protocol == "TCP" and r.flags == "S"]
    server_syns = [r for r in server_rows if r.protocol == "TCP" and r.flags == "S"]
    if not client_syns:
        raise ValueError("the client capture has no SYN: did the client connect?")
    if not server_syns:
        raise ValueError("the server capture has no SYN: the connection went elsewhere")
    # The same connection at both ends: same client port, unless SNAT rewrote it, and then
    # only a single connection at each end can be paired safely.
    pairs = [(c, s) for c in client_syns for s in server_syns if s.sport == c.sport]
    if not pairs and len(client_syns) == len(server_syns) == 1:
        pairs = [(client_syns[0], server_syns[0])]
    if not pairs:
        raise ValueError(
            "no connection appears in both captures (capture one connection, or filter)"
        )
    syn_out, syn_in = pairs[0]
    synack_out = _first(server_rows, "SA", dport=syn_in.sport)
    synack_in = _first(client_rows, "SA", dport=syn_out.sport)
    hops = [
        {"where": f"{client}\neth0 (captured)", "src": _ep(syn_out.src, syn_out.sport),
         "dst": _ep(syn_out.dst, syn_out.dport), "note": "SYN"},
        {"where": f"{server}\neth0 (captured)", "src": _ep(syn_in.src, syn_in.sport),
         "dst": _ep(syn_in.dst, syn_in.dport), "note": f"SYN (rewritten on {node})"},
    ]  # fmt: skip
    if synack_out is not None:
        hops.append({"where": f"{server}\nreplies", "src": _ep(synack_out.src, synack_out.sport),
                     "dst": _ep(synack_out.dst, synack_out.dport), "note": "SYN-ACK"})  # fmt: skip
    if synack_in is not None:
        hops.append({"where": f"{client}\neth0 (captured)", "src": _ep(synack_in.src, synack_in.sport),
                     "dst": _ep(synack_in.dst, synack_in.dport), "note": "SYN-ACK (conntrack undid the NAT)"})  # fmt: skip
    return hops

"""ClusterIP and NodePort allocation, as kube-apiserver's service registry does it.

Mirrors `pkg/registry/core/service/ipallocator` and `portallocator` over
`allocator/bitmap.go`: a range is split into a small *static* band at the bottom (for
users who pick an address or port by hand, e.g. kube-dns's 10.96.0.10) and a *dynamic*
band above it. Unrequested allocations are drawn at random from the dynamic band and fall
back to the static band only when it is full.

  ClusterIPs: offset = min(max(16, size/16), 256)   -> /12: dynamic from 10.96.1.0 up
  NodePorts:  offset = min(max(16, size/32), 128)   -> 30000-32767: dynamic from 30086 up

Unlike the bitmap allocator we keep a set of used values; the random choice is a random
start in the band followed by a scan for the first free value, as `AllocateNext` does.
"""

from __future__ import annotations

import ipaddress
import random

from lab_kit.model.errors import FieldError, invalid
from lab_kit.model.validation_common import go_invalid, go_string_slice


class RangeFull(Exception):
    pass


class _BandAllocator:
    """Allocates integers in [0, size) with a static band [0, offset) below the dynamic one."""

    def __init__(self, size: int, offset: int, rng: random.Random):
        self.size, self.offset, self.rng = size, offset, rng
        self.used: set[int] = set()

    def take(self, index: int) -> bool:
        if index in self.used:
            return False
        self.used.add(index)
        return True

    def release(self, index: int) -> None:
        self.used.discard(index)

    def next_free(self) -> int:
        for lo, hi in ((self.offset, self.size), (0, min(self.offset, self.size))):
            found = self._scan(lo, hi)
            if found is not None:
                self.used.add(found)
                return found
        raise RangeFull()

    def _scan(self, lo: int, hi: int) -> int | None:
        if hi <= lo:
            return None
        start = self.rng.randrange(lo, hi)
        for i in range(hi - lo):
            candidate = lo + (start - lo + i) % (hi - lo)
            if candidate not in self.used:
                return candidate
        return None


class ClusterIPAllocator:
    """Service IPs from the service CIDR; network and broadcast addresses are never used."""

    def __init__(self, cidr: str, rng: random.Random):
        self.network = ipaddress.ip_network(cidr)
        size = self.network.num_addresses - 2  # index i -> address network + 1 + i
        offset = min(max(16, size // 16), 256)
        self._band = _BandAllocator(size, offset, rng)

    def _index(self, ip: str) -> int | None:
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return None
        if addr not in self.network:
            return None
        index = int(addr) - int(self.network.network_address) - 1
        return index if 0 <= index < self._band.size else None

    def allocate(self, ip: str, path: str = "spec.clusterIPs") -> FieldError | None:
        """Reserve a requested IP; returns the API's field error if it can't be had."""
        index = self._index(ip)
        if index is None:
            return go_invalid(
                path,
                [ip],
                go_string_slice([ip]),
                f"failed to allocate IP {ip}: provided IP is not in the valid range. "
                f"The range of valid IPs is {self.network}",
            )
        if not self._band.take(index):
            return go_invalid(
                path,
                [ip],
                go_string_slice([ip]),
                f"failed to allocate IP {ip}: provided IP is already allocated",
            )
        return None

    def allocate_next(self) -> str:
        index = self._band.next_free()
        return str(self.network.network_address + 1 + index)

    def release(self, ip: str) -> None:
        index = self._index(ip)
        if index is not None:
            self._band.release(index)

    def is_allocated(self, ip: str) -> bool:
        index = self._index(ip)
        return index is not None and index in self._band.used


class NodePortAllocator:
    def __init__(self, low: int, high: int, rng: random.Random):
        self.low, self.high = low, high
        size = high - low + 1
        self._band = _BandAllocator(size, min(max(16, size // 32), 128), rng)

    def allocate(self, port: int, path: str) -> FieldError | None:
        if not self.low <= port <= self.high:
            return invalid(
                path,
                port,
                "provided port is not in the valid range. "
                f"The range of valid ports is {self.low}-{self.high}",
            )
        if not self._band.take(port - self.low):
            return invalid(path, port, "provided port is already allocated")
        return None

    def allocate_next(self) -> int:
        return self.low + self._band.next_free()

    def release(self, port: int) -> None:
        if self.low <= port <= self.high:
            self._band.release(port - self.low)

    def is_allocated(self, port: int) -> bool:
        return self.low <= port <= self.high and (port - self.low) in self._band.used

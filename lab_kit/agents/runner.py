"""The one loop every agent runs; an agent file holds only its own logic.

    list + watch what the agent declares (`watches`)   -> informer caches, one change event
    all caches synced -> agent.start() -> first agent.sync() -> "ready" on --ready-fd
    loop: a change, or `resync_s` without one (-> agent.periodic())
          -> at least `min_sync_period_s` after the last sync -> agent.sync()
          -> report the resourceVersion the caches had reached (`labkit apply --wait`)
    a start, sync or periodic check that raises -> logged, retried after a back-off
    SIGTERM / SIGINT -> agent.stop() -> goodbye to the API (agents in pods) -> exit

Like client-go's shared informers plus a controller's worker loop, minus work queues:
each sync sees the whole cache (level-triggered). An agent is a subclass of `Agent`
declaring `watches` and writing `sync()`; the process around it — arguments, logging,
the API client, signals, the ready pipe — comes from `run()`, reached through one entry in
`lab_kit/agents/table.py`. Time comes from an injected `Clock` and the API from an
injected client, so tests drive an agent on virtual time against the in-process API
(`lab_kit.adapters.api_inprocess`), with no root and no sleeps.

Nothing an API outage does ends an agent, as no outage ends a kubelet: informers list
and watch again with back-off (and give up on a watch that has been silent past
WATCH_SILENCE_S: a frozen server), and a `start()`, `sync()` or `periodic()` that raises
— an API call failing mid-sync, a registration the API could not take — is logged and
tried again after a back-off on the clock (RETRY_INITIAL_S doubling to RETRY_MAX_S, as
client-go's rate-limited work queues retry a failed key). `create()` is retried too while
the API cannot be reached. An agent that dies all the same is restarted by the lab's
supervisor (`lab_kit/agents/supervisor.py`).
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import httpx

from lab_kit.adapters.apiclient import AsyncApiClient
from lab_kit.adapters.clock import Clock, SystemClock, wait_event
from lab_kit.adapters.processes import signal_ready
from lab_kit.agents.informer import Informer
from lab_kit.agents.logs import CappedStreamHandler, RepeatFilter
from lab_kit.model.errors import ApiError
from lab_kit.model.kinds import by_kind_name
from lab_kit.model.topology import ClusterSpec, parse_topology

LOG_FORMAT = "%(asctime)s {name} %(levelname)s %(message)s"
RETRY_INITIAL_S = 0.2  # a failed start/sync is tried again after this, doubled per failure
RETRY_MAX_S = 10.0
# A watch with no event and no bookmark for this long is taken for broken (the API server
# sends a bookmark every WATCH_BOOKMARK_PERIOD_S on a quiet watch): client-go's HTTP/2
# health check gives up on a silent connection after 30 s + a 15 s ping timeout.
WATCH_SILENCE_S = 45.0


def api_unavailable(error: BaseException) -> bool:
    """Is this the API server being away (down, frozen, restarting, overloaded), rather
    than an answer about the request?"""
    if isinstance(error, ApiError):
        return error.code >= 500 or error.code == 429
    return isinstance(error, httpx.TransportError)


class Backoff:
    """Exponential back-off on a clock: `await backoff.wait()` sleeps the next delay,
    `reset()` after a success (wait.Backoff in client-go's terms)."""

    def __init__(
        self, clock: Clock, initial_s: float = RETRY_INITIAL_S, max_s: float = RETRY_MAX_S
    ):
        self.clock, self.initial_s, self.max_s = clock, initial_s, max_s
        self.next_s = initial_s
        self.failures = 0

    async def wait(self) -> None:
        delay, self.next_s = self.next_s, min(self.next_s * 2, self.max_s)
        self.failures += 1
        await self.clock.sleep(delay)

    def reset(self) -> None:
        self.next_s, self.failures = self.initial_s, 0


def log_failure(log: logging.Logger, what: str, error: BaseException, retry_s: float) -> None:
    """One line for the API being away; a traceback for anything else (a bug to fix)."""
    if api_unavailable(error):
        log.warning("%s failed: %r; retrying in %.1f s", what, error, retry_s)
    else:
        log.error("%s failed; retrying in %.1f s", what, retry_s, exc_info=error)


@dataclass(frozen=True)
class Watch:
    """One list + watch: a kind, optionally narrowed as the real component narrows it."""

    kind: str
    namespace: str | None = None
    label_selector: str = ""
    field_selector: str = ""


class Context:
    """What the runner hands an agent: the API client, the clock, the informer caches."""

    def __init__(
        self,
        client: AsyncApiClient,
        clock: Clock | None = None,
        watch_silence_s: float | None = None,
    ):
        """`watch_silence_s`: give up on a watch silent this long (the process sets
        WATCH_SILENCE_S; tests on virtual time, whose server sends no bookmarks on the
        clock, leave it off)."""
        self.client = client
        self.clock: Clock = clock or SystemClock()
        self.watch_silence_s = watch_silence_s
        self.informers: dict[str, Informer] = {}
        self.wake = asyncio.Event()

    def watch(self, name: str, watch: Watch) -> Informer:
        informer = Informer(
            self.client,
            by_kind_name(watch.kind),
            self.wake.set,
            namespace=watch.namespace,
            label_selector=watch.label_selector,
            field_selector=watch.field_selector,
            clock=self.clock,
            silence_s=self.watch_silence_s,
        )
        self.informers[name] = informer
        return informer

    def items(self, name: str) -> list[dict]:
        """The cached objects of one informer (never modify them: they are the cache)."""
        return self.informers[name].items()

    @property
    def seen_rv(self) -> int:
        """The newest resourceVersion every informer has seen (what a sync reflects)."""
        return min((i.seen_rv for i in self.informers.values()), default=0)

    @property
    def synced(self) -> bool:
        return all(i.synced.is_set() for i in self.informers.values())

    def changed(self) -> None:
        """Ask for another sync (something the informers cannot see changed)."""
        self.wake.set()


class Agent:
    """An agent's own logic; override what it needs."""

    # informer name -> what to list + watch (a class attribute, or set in __init__ when it
    # depends on the agent's options: not a ClassVar, so type checkers accept both)
    watches: dict[str, Watch] = {}
    resync_s: float | None = None  # sync this often even when nothing changed
    min_sync_period_s: float = 0.0  # at least this long between the starts of two syncs
    goodbye_on_exit: bool = False  # leave convergence when stopping (agents in pods)
    log_format: ClassVar[str] = LOG_FORMAT  # "%(message)s": the log reads as the real one's

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.report_as = ""  # name under /lab/v1/agents; "" = this agent does not report

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """The agent's own command-line options (beyond the common ones)."""

    @classmethod
    def create(cls, ctx: Context, options: argparse.Namespace) -> Agent | Awaitable[Agent]:
        """Build the agent from its parsed command line (a coroutine when it must ask the
        API first: what cluster DNS watches depends on the Corefile in a ConfigMap)."""
        return cls(ctx)

    def log_name(self) -> str:
        return self.report_as or type(self).__name__

    async def start(self) -> None:
        """Once every cache has synced, before the first sync (servers, registration)."""

    async def sync(self) -> dict | None:
        """One reconcile over the caches. Return the report's extra info once what was
        synced is live (the runner reports the version), or None not to report yet."""
        return None

    async def periodic(self) -> None:
        """A resync with no event (`resync_s` passed): checks a real component does then."""

    async def stop(self) -> None:
        """On SIGTERM/SIGINT, after the loop stopped (close servers, stop children)."""


class Runner:
    """Drives one agent: informers, the first sync, the change loop, reports."""

    def __init__(self, agent: Agent):
        self.agent, self.ctx = agent, agent.ctx
        for name, watch in agent.watches.items():
            if name not in self.ctx.informers:
                self.ctx.watch(name, watch)
        self.syncs = 0  # successful syncs
        self.failures = 0  # starts, syncs and periodic checks that raised
        self.backoff = Backoff(self.ctx.clock)
        self.log = logging.getLogger(agent.log_name())
        self._last_start = float("-inf")
        self._tasks: list[asyncio.Task] = []

    async def start(self) -> None:
        """Informers listed and watching, `agent.start()` done, the first sync done (each
        tried again, after a back-off, until it succeeds)."""
        self._tasks = [asyncio.create_task(i.run()) for i in self.ctx.informers.values()]
        await asyncio.gather(*(i.synced.wait() for i in self.ctx.informers.values()))
        while not await self._attempt("start", self.agent.start):
            pass
        self.ctx.wake.clear()
        while not await self.sync_once():
            pass

    async def _attempt(self, what: str, step: Callable[[], Awaitable[Any]]) -> bool:
        """Run one step; if it raises, log it, wait the back-off, and say False."""
        try:
            await step()
        except Exception as e:  # the API away mid-call, or a bug: never the end of the agent
            self.failures += 1
            log_failure(self.log, what, e, self.backoff.next_s)
            await self.backoff.wait()
            return False
        return True

    async def sync_once(self) -> bool:
        """One sync and its report; False if the sync raised (another one is asked for,
        after the back-off)."""
        self._last_start = self.ctx.clock.monotonic()
        seen = self.ctx.seen_rv
        info: dict | None = None

        async def sync() -> None:
            nonlocal info
            info = await self.agent.sync()

        if not await self._attempt("sync", sync):
            self.ctx.changed()  # the state it could not apply is still to be applied
            return False
        self.backoff.reset()
        self.syncs += 1
        if info is not None and self.agent.report_as:
            try:
                await self.ctx.client.report_applied(self.agent.report_as, seen, info)
            except Exception as e:  # the API restarting: the next sync reports again
                self.log.warning("reporting: %r", e)
        return True

    async def step(self) -> None:
        """Wait for a change (or the resync period), then sync once."""
        clock = self.ctx.clock
        if not await wait_event(self.ctx.wake, self.agent.resync_s, clock):
            await self._attempt("periodic check", self.agent.periodic)
        wait = self._last_start + self.agent.min_sync_period_s - clock.monotonic()
        if wait > 0:
            await clock.sleep(wait)  # minSyncPeriod: a rate limit, as kube-proxy's runner
        self.ctx.wake.clear()
        await self.sync_once()

    async def run(self, ready: Callable[[], None] = lambda: None) -> None:
        try:
            await self.start()
            ready()
            while True:
                await self.step()
        finally:
            await self.close()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def shutdown(self) -> None:
        """After the loop: `agent.stop()`, then the goodbye of an agent in a pod (it leaves
        convergence, so a stopped server never holds `apply --wait` up)."""
        await self.agent.stop()
        if self.agent.goodbye_on_exit and self.agent.report_as:
            try:
                await self.ctx.client.forget_agent(self.agent.report_as)
            except Exception:  # the API server may already be gone (labkit down)
                pass


# --- the process ---------------------------------------------------------------------------


def common_parser(prog: str, description: str) -> argparse.ArgumentParser:
    # "resolve": node agents declare --run-dir again (add_node_arguments), for their own use
    parser = argparse.ArgumentParser(prog=prog, description=description, conflict_handler="resolve")
    parser.add_argument("--socket", help="the API server's Unix socket")
    parser.add_argument("--ready-fd", type=int, help="write 'ready' to this fd once serving")
    # On every command line `labkit up` writes: it names the lab the process belongs to,
    # so `labkit clean` finds it even without state.json (lab_kit/adapters/records.py).
    parser.add_argument("--run-dir", help="the lab's run directory (default: LABKIT_RUN_DIR)")
    return parser


def add_node_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every node agent gets from `labkit up` (agents/table.py: where="node")."""
    parser.add_argument("--node", required=True, help="this node's name in the topology")
    parser.add_argument("--topology-file", required=True, help="the lab's topology TOML")
    parser.add_argument("--run-dir", help="the lab's run directory (default: LABKIT_RUN_DIR)")


def load_topology(path: str) -> ClusterSpec:
    with open(path) as f:
        return parse_topology(f.read(), path)


def setup_logging(name: str, log_format: str = LOG_FORMAT) -> None:
    """INFO to stderr (the agent's log file), through `lab_kit.agents.logs`: repeated lines
    dropped and the whole log capped, so no agent can fill the disk."""
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is noise
    handler = CappedStreamHandler(sys.stderr)
    handler.addFilter(RepeatFilter())
    logging.basicConfig(level=logging.INFO, format=log_format.format(name=name), handlers=[handler])


async def until_stopped(task: asyncio.Future, log: logging.Logger) -> None:
    """Wait for `task` or SIGTERM/SIGINT, whichever first; a crashed task re-raises (the
    process exits non-zero, its log says why)."""
    stop = asyncio.Event()

    def on_signal(sig: signal.Signals) -> None:
        log.info("stopping on %s", sig.name)
        stop.set()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig)
    stopper = asyncio.ensure_future(stop.wait())
    done, _ = await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    if task in done and not task.cancelled() and task.exception() is not None:
        log.error("the loop ended: %r", task.exception())
        task.result()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def socket_from(options: argparse.Namespace) -> str:
    """The API socket: --socket, or LABKIT_APISERVER for agents the kubelet runs in pods."""
    socket_path = options.socket or os.environ.get("LABKIT_APISERVER")
    if not socket_path:
        raise SystemExit("no API server: give --socket PATH (LABKIT_APISERVER in a lab pod)")
    return socket_path


async def _create(
    agent_class: type[Agent], ctx: Context, options: argparse.Namespace, log: logging.Logger
) -> Agent:
    """`agent_class.create`, tried again while the API it asks cannot be reached."""
    backoff = Backoff(ctx.clock)
    while True:
        try:
            made = agent_class.create(ctx, options)
            return await made if inspect.isawaitable(made) else made
        except Exception as e:
            if not api_unavailable(e):
                raise
            log_failure(log, "starting", e, backoff.next_s)
            await backoff.wait()


async def _serve(agent_class: type[Agent], options: argparse.Namespace, name: str) -> None:
    # Every agent that talks to the API gets the socket (`create` may already ask it, and
    # watches may be declared per instance); one that needs none (world-dns) gets no socket.
    socket_path = options.socket or os.environ.get("LABKIT_APISERVER")
    ctx = Context(AsyncApiClient(socket_path), watch_silence_s=WATCH_SILENCE_S)
    log = logging.getLogger(name)
    agent = await _create(agent_class, ctx, options, log)
    if agent.watches and not socket_path:
        socket_from(options)  # exits, saying where the socket comes from
    runner = Runner(agent)
    task = asyncio.ensure_future(runner.run(lambda: signal_ready(options.ready_fd)))
    try:
        await until_stopped(task, log)
    finally:
        await runner.shutdown()
        await ctx.client.close()


def run(agent_class: type[Agent], argv: list[str], prog: str, description: str) -> None:
    """The whole process of a runner agent: parse, log, serve until a signal."""
    parser = common_parser(prog, description)
    agent_class.add_arguments(parser)
    options = parser.parse_args(argv)
    name = getattr(options, "node", None)
    setup_logging(f"{prog}/{name}" if name else prog, agent_class.log_format)
    asyncio.run(_serve(agent_class, options, prog))


def describe(agent_class: type[Any]) -> str:
    """The first line of an agent module's docstring (its --help description)."""
    doc = sys.modules[agent_class.__module__].__doc__ or ""
    return doc.strip().split("\n")[0]

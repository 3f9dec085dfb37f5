"""Wallet benchmark: bets per second against ``pgbench`` TPC-B on the same server, same run.

A ratio against a baseline measured in the same run says more than a raw figure
on a shared, noisy machine: if the machine is slow today, both numbers drop.
Each measurement runs in its own scratch database, dropped afterwards.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from sandbox.metrics import nearest_rank
from wallet.adapters.sql.scratch import scratch_database
from wallet.domain import commands as c
from wallet.domain.idempotency import IdempotencyKey
from wallet.service.clock import SystemClock
from wallet.service.wallet import Wallet

_ROOT = Path(__file__).resolve().parents[1]  # loadtests/ lives beside the packages


@dataclass(frozen=True)
class Figure:
    name: str
    per_second: float
    p50_ms: float | None = None
    p99_ms: float | None = None
    mean_ms: float | None = None
    generator_cpu: float | None = None  # cores the load generator itself used
    server_cpu: float | None = None  # cores the wallet's server processes used

    def line(self) -> str:
        lat = "" if self.p50_ms is None else f"  p50 {self.p50_ms:.2f} ms"
        lat += "" if self.p99_ms is None else f"  p99 {self.p99_ms:.2f} ms"
        lat += "" if self.mean_ms is None else f"  mean {self.mean_ms:.2f} ms"
        if self.generator_cpu is not None:
            lat += f"  (load generator used {self.generator_cpu:.2f} cores"
            lat += ")" if self.server_cpu is None else f", the server {self.server_cpu:.2f})"
        return f"{self.name:<54} {self.per_second:>9,.0f}/s{lat}"


def _libpq_env(url: str) -> dict[str, str]:
    u = sa.make_url(url)
    env = {
        **os.environ,
        "PGHOST": u.host or "127.0.0.1",
        "PGPORT": str(u.port or 5432),
        "PGUSER": u.username or "postgres",
        "PGDATABASE": u.database or "postgres",
    }
    if u.password:
        env["PGPASSWORD"] = str(u.password)
    return env


def pgbench_tps(url: str, *, seconds: int, clients: int, scale: int = 10) -> Figure:
    """TPC-B-like transactions per second, as pgbench reports them."""
    if shutil.which("pgbench") is None:
        raise RuntimeError("pgbench is not installed (Debian: postgresql-client / postgresql-contrib)")
    with scratch_database(url, "sandbox_bench_pgbench") as db:
        env = _libpq_env(db)
        subprocess.run(["pgbench", "-i", "-q", "-s", str(scale)], env=env, check=True, capture_output=True)
        out = subprocess.run(
            ["pgbench", "-c", str(clients), "-j", str(min(clients, 2)), "-T", str(seconds), "-M", "prepared"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    if (found := re.search(r"tps = ([\d.]+)", out)) is None:
        raise RuntimeError(f"pgbench printed no 'tps = ' line:\n{out}")
    tps = float(found.group(1))
    lat = re.search(r"latency average = ([\d.]+) ms", out)
    return Figure(f"pgbench TPC-B ({clients} clients)", tps, mean_ms=float(lat.group(1)) if lat else None)


def service_bets(url: str, *, seconds: float, threads: int, players: int = 1_000,
                 fast: bool = True) -> Figure:
    """Bets in process (idempotency record, audit entry, two postings, locked player row)
    from ``threads`` threads over ``players`` players. ``fast``: dispatched as the HTTP
    route does (``wallet.api.deps.execute``: one round trip on PostgreSQL); otherwise
    through the unit of work alone (``Wallet.execute``)."""
    from wallet.adapters.sql import SqlStore
    from wallet.api.deps import execute

    with scratch_database(url, "sandbox_bench_wallet") as db:
        _seed_players(db, players)
        store = SqlStore(db)
        wallet = Wallet(store, SystemClock())
        if not fast:
            store.fast_bets = None
        latencies: list[list[float]] = [[] for _ in range(threads)]
        stop = time.perf_counter() + seconds

        def run(t: int) -> None:
            n, mine = 0, latencies[t]
            while (now := time.perf_counter()) < stop:
                n += 1
                bet_id = f"t{t}-{n}"
                execute(
                    wallet,
                    c.PlaceBet("bench", bet_id, f"b{(t * 7919 + n) % players}", bet_id, 100, "EUR"),
                    idempotency=IdempotencyKey("game:bench", bet_id),
                )
                mine.append((time.perf_counter() - now) * 1000)

        workers = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
        began = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        elapsed = time.perf_counter() - began
        store.close()
    flat = sorted(x for lst in latencies for x in lst)
    return Figure(
        f"wallet bets, {'in process' if fast else 'unit of work'} ({threads} threads)",
        len(flat) / elapsed,
        statistics.median(flat),
        nearest_rank(flat, 0.99),
    )


def _seed_players(db: str, players: int) -> None:
    from wallet.adapters.sql import SqlStore, upgrade

    upgrade(db)
    store = SqlStore(db)
    wallet = Wallet(store, SystemClock())
    for i in range(players):
        wallet.execute(c.OpenPlayer(f"b{i}", "EUR"))
        wallet.execute(c.CreditDeposit(f"b{i}", "acme", f"seed{i}", 10**12, "EUR"))
    store.close()


def http_bets(url: str, *, seconds: int, users: int, workers: int = 2, players: int = 1_000,
              locust: bool = True) -> list[Figure]:
    """Bets over HTTP: uvicorn (httptools + uvloop) with ``workers`` processes, driven by a
    headless Locust run of ``loadtests/bench_bets.py`` (``FastHttpUser``, as QA runs it), then
    by the lean client of ``sandbox.http_load`` (as pgbench drives PostgreSQL). The
    generators share the machine, so the cores they and the server used come with each figure."""
    import tempfile

    with scratch_database(url, "sandbox_bench_http") as db, tempfile.TemporaryDirectory() as tmp:
        _seed_players(db, players)
        env = {**os.environ, "WALLET_DATABASE_URL": db, "WALLET_MIGRATE": "false",
               "BENCH_PLAYERS": str(players)}
        with _wallet_server(env, workers) as (port, serving):
            figures = [_locust_bets(port, serving, env, f"{tmp}/run", seconds=seconds, users=users,
                                    workers=workers)] if locust else []
            figures.append(_lean_bets(port, serving, players, seconds=seconds, users=users, workers=workers))
    return figures


def _lean_bets(port: int, serving: list[Any], players: int, *, seconds: int, users: int,
               workers: int) -> Figure:
    from sandbox import http_load

    requests = http_load.bet_requests(players, os.environ.get("BENCH_API_KEY", "dev-hub88-key-INSECURE"))
    served, used = _cpu(serving), time.process_time()
    load = http_load.run("127.0.0.1", port, requests, users=users, seconds=seconds)
    used, served = time.process_time() - used, _cpu(serving) - served
    lat = sorted(load.latencies_ms)
    return Figure(
        _http_name("lean client", workers, users, load.failures), load.per_second, statistics.median(lat),
        nearest_rank(lat, 0.99), generator_cpu=used / load.seconds, server_cpu=served / load.seconds,
    )


def _http_name(client: str, workers: int, users: int, failures: int) -> str:
    name = f"wallet bets, HTTP, {client} ({workers} workers, {users} clients)"
    return f"{name} [{failures} FAILED]" if failures else name


@contextlib.contextmanager
def _wallet_server(env: dict[str, str], workers: int) -> Iterator[tuple[int, list[Any]]]:
    """The wallet under uvicorn on a free port: the port and its processes, once healthy."""
    import psutil

    from sandbox.engine.servers import free_port, wait_healthy

    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "uvicorn"), "--factory", "wallet.api.app:create_app",
         "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers), "--loop", "uvloop",
         "--http", "httptools", "--no-access-log", "--log-level", "warning"],
        env=env, cwd=_ROOT,
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}/healthz", process=server)
        yield port, [psutil.Process(server.pid), *psutil.Process(server.pid).children(recursive=True)]
    finally:
        server.terminate()
        server.wait(timeout=30)


def _locust_bets(port: int, serving: list[Any], env: dict[str, str], csv_prefix: str, *, seconds: int,
                 users: int, workers: int) -> Figure:
    import csv

    import psutil

    locust = subprocess.Popen(
        [str(Path(sys.executable).parent / "locust"), "-f", str(_ROOT / "loadtests" / "bench_bets.py"),
         "--headless", "-u", str(users), "-r", str(users), "-t", f"{seconds}s",
         "--host", f"http://127.0.0.1:{port}", "--csv", csv_prefix, "--only-summary",
         "--loglevel", "WARNING"],
        env=env, cwd=_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    gen = psutil.Process(locust.pid)
    served = _cpu(serving)
    cpu = 0.0
    while locust.poll() is None:
        with contextlib.suppress(psutil.Error):
            t = gen.cpu_times()
            cpu = t.user + t.system
        time.sleep(0.5)
    served = _cpu(serving) - served
    with open(f"{csv_prefix}_stats.csv") as f:
        row = next(r for r in csv.DictReader(f) if r["Name"] == "Aggregated")
    return Figure(
        _http_name("Locust", workers, users, int(row["Failure Count"])), float(row["Requests/s"]),
        float(row["50%"]), float(row["99%"]), generator_cpu=cpu / seconds, server_cpu=served / seconds,
    )


def _cpu(procs: list[Any]) -> float:
    """User + system CPU seconds of ``procs`` (psutil processes) so far."""
    total = 0.0
    for p in procs:
        with contextlib.suppress(Exception):
            t = p.cpu_times()
            total += t.user + t.system
    return total

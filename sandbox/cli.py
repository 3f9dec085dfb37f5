"""The ``sandbox`` command line."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

app = typer.Typer(help="Online-casino payments sandbox: wallet, mock providers, scenarios, load tests.",
                  no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="Wallet database: migrations and integrity.", no_args_is_help=True)
app.add_typer(db_app, name="db")
console = Console()

MEMORY = "memory://"


def sql_url(value: str | None) -> str | None:
    """An ``--db`` the wallet can open: SQLite (a file) or PostgreSQL, with its driver installed."""
    if value is None:
        return None
    if value == MEMORY:
        raise typer.BadParameter("the in-memory store keeps nothing to migrate or verify: give a SQLite "
                                 "file or a PostgreSQL URL")
    import sqlalchemy as sa

    try:
        url = sa.make_url(value)
        url.get_dialect()
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError) as err:
        raise typer.BadParameter(f"{value!r} is not a database URL the wallet can use ({err}); e.g. "
                                 "sqlite:///wallet.sqlite3 or postgresql+psycopg://user@host/db") from None
    backend = url.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise typer.BadParameter(f"the wallet runs on SQLite or PostgreSQL, not {backend}")
    if backend == "sqlite" and (not url.database or url.database == ":memory:"):
        raise typer.BadParameter("SQLite needs a file: sqlite:///path/to/wallet.sqlite3")
    return value


def store_url(value: str | None) -> str | None:
    """``sql_url``, or ``memory://`` for the in-memory store."""
    return value if value == MEMORY else sql_url(value)


DbOption = Annotated[str, typer.Option("--db", callback=store_url,
                                       help="SQLAlchemy URL (SQLite or PostgreSQL); memory:// for the "
                                            "in-memory store.")]
SqlDbOption = Annotated[str, typer.Option("--db", callback=sql_url,
                                          help="SQLAlchemy URL: a SQLite file or PostgreSQL.")]


def open_store(url: str):  # noqa: ANN201 - Store, imported lazily to keep the CLI fast
    """A store for ``url``, migrated to the latest schema; a server that cannot be reached is
    the caller's bad ``--db``."""
    if url == MEMORY:
        from wallet.adapters.memory import MemoryStore

        return MemoryStore()
    from wallet.adapters.sql import SqlStore

    migrate(url)
    return SqlStore(url)


def migrate(url: str) -> None:
    """The schema at head; a database that cannot be reached is a bad ``--db``."""
    import sqlalchemy as sa

    from wallet.adapters.sql import upgrade

    try:
        upgrade(url)
    except sa.exc.OperationalError as err:
        shown = sa.make_url(url).render_as_string(hide_password=True)
        raise typer.BadParameter(f"cannot open {shown}: {err.orig}", param_hint="--db") from None


@app.command("run")
def run_cmd(
    scenario: Annotated[Path, typer.Argument(help="A scenario file, e.g. scenarios/baseline.yaml.")],
    seed: Annotated[int | None, typer.Option(help="Override the scenario's seed.")] = None,
    out: Annotated[Path | None, typer.Option(
        help="Folder for results.json, report.md and plots (default reports/<scenario>).")] = None,
    wallet_variant: Annotated[str, typer.Option(
        help="A deliberately broken wallet/gateway, to see the checker catch it "
             "(`sandbox scenarios --variants` lists them).")] = "reference",
    db: Annotated[str | None, typer.Option(
        "--db", callback=store_url,
        help="SQLAlchemy URL, or memory:// (default: a fresh SQLite file in the output folder).")] = None,
    mode: Annotated[str, typer.Option(
        help="sim: SimPy virtual time, in-process. live: real time over HTTP (wallet + gateway "
             "and the mocks under uvicorn on free local ports, real signed webhooks).")] = "sim",
    time_scale: Annotated[float, typer.Option(
        min=0.001, help="Live mode: virtual seconds per wall second (60: an hour a minute).")] = 60.0,
) -> None:
    """Play a scenario in SimPy virtual time (or live over HTTP), check it, and write the report.
    Exit 0 when every check and expectation passes, 1 when any fails, 2 on invalid input."""
    from sandbox.engine.run import run_scenario
    from sandbox.report import write
    from sandbox.scenario import ScenarioError, load
    from sandbox.variants import VARIANTS

    try:
        spec = load(scenario)
    except ScenarioError as err:
        console.print(f"[red]invalid scenario[/] {err}")
        raise typer.Exit(2) from None
    if wallet_variant not in VARIANTS:
        console.print(f"[red]--wallet-variant[/]: unknown {wallet_variant!r}; known: {', '.join(VARIANTS)}")
        raise typer.Exit(2)
    if mode not in ("sim", "live"):
        console.print(f"[red]--mode[/]: expected sim or live, not {mode!r}")
        raise typer.Exit(2)
    if mode == "live":
        from sandbox.engine.live import SIM_ONLY

        if wallet_variant in SIM_ONLY:
            console.print(f"[red]--wallet-variant[/]: {wallet_variant} runs in sim mode only "
                          f"(it {SIM_ONLY[wallet_variant]})")
            raise typer.Exit(2)
    out = out or Path("reports") / spec.name
    if db is None:
        out.mkdir(parents=True, exist_ok=True)
        for leftover in out.glob("wallet.sqlite3*"):
            leftover.unlink()
        db = f"sqlite:///{out / 'wallet.sqlite3'}"
    store = open_store(db)
    out.mkdir(parents=True, exist_ok=True)
    with store.unit_of_work(read_only=True) as uow:
        used = bool(uow.stored_balances())
    if used:
        store.close()
        console.print("[red]--db[/]: the database already holds a ledger; a run checks the whole "
                      "ledger, so give it an empty one")
        raise typer.Exit(2)
    started = time.perf_counter()
    with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task(f"{spec.name}: virtual hours", total=round(spec.end_s / 3600))
        if mode == "live":
            from sandbox.engine.live import run_live

            result = run_live(spec, seed=seed, variant=wallet_variant, store=store,
                              base=scenario.parent, time_scale=time_scale,
                              progress=lambda done, _: bar.update(task, completed=round(done / 3600)))
        else:
            result = run_scenario(spec, seed=seed, variant=wallet_variant, store=store,
                                  base=scenario.parent,
                                  progress=lambda done, _: bar.update(task, completed=round(done / 3600)))
    report = write(result, out, seconds=time.perf_counter() - started)
    store.close()
    for ch in result.checks + result.expectations:
        mark = "[green]pass[/]" if ch.passed else "[red]FAIL[/]"
        console.print(f"  {mark}  {ch.name}" + ("" if ch.passed else f": {ch.count or ch.detail}"))
    console.print(f"report: {report}")
    raise typer.Exit(0 if result.passed else 1)


@app.command()
def scenarios(
    folder: Annotated[Path, typer.Option(help="Where the scenario files are.", exists=True, file_okay=False)
                      ] = Path("scenarios"),
    variants: Annotated[bool, typer.Option("--variants", help="List the broken wallet variants instead.")
                        ] = False,
) -> None:
    """List the scenario library and its subfolders, one line each (or the broken wallet variants)."""
    from sandbox.scenario import ScenarioError, load
    from sandbox.variants import VARIANTS

    if variants:
        for name, what in VARIANTS.items():
            typer.echo(f"{name:32} {what}")
        return
    # the library first, then its subfolders (routing/ holds the routing-comparison days)
    for path in sorted(folder.rglob("*.yaml"), key=lambda p: (len(p.relative_to(folder).parts), p)):
        name = path.relative_to(folder).with_suffix("").as_posix()
        try:
            spec = load(path)
        except ScenarioError as err:
            console.print(f"[red]{name}[/] {err}")
            continue
        typer.echo(f"{name:28} {spec.purpose}")


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Folder for results.json, report.md and plots.")] = Path(
        "reports/demo"),
    players: Annotated[int, typer.Option(min=1, max=100_000, help="How many players play the day.")] = 300,
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same day.")] = 7,
    db: Annotated[str | None, typer.Option(
        "--db", callback=store_url,
        help="SQLAlchemy URL, or memory:// (default: a fresh SQLite file in the output folder).")] = None,
) -> None:
    """Play a seeded casino day through the wallet, check the ledger, write a report."""
    from sandbox.demo import play_day, write_report
    from wallet.service.clock import ManualClock
    from wallet.service.wallet import Wallet

    out.mkdir(parents=True, exist_ok=True)
    if db is None:
        sqlite_file = out / "wallet.sqlite3"
        for leftover in out.glob("wallet.sqlite3*"):
            leftover.unlink()
        db = f"sqlite:///{sqlite_file}"
    store = open_store(db)
    clock = ManualClock(1_767_225_600.0)  # 2026-01-01T00:00:00Z, so reports read like a day
    started = time.perf_counter()
    with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task("playing the day", total=players)
        result = play_day(Wallet(store, clock), clock, players=players, seed=seed,
                          progress=lambda n: bar.advance(task, n))
    elapsed = time.perf_counter() - started
    report = write_report(result, out, db_url=db, seconds=elapsed)
    store.close()
    for ch in result.checks:
        mark = "[green]pass[/]" if ch["passed"] else "[red]FAIL[/]"
        console.print(f"  {mark}  {ch['name']}")
    console.print(f"report: {report}")
    raise typer.Exit(0 if result.passed else 1)


@app.command()
def serve(
    db: DbOption = "sqlite:///wallet.sqlite3",
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65_535)] = 8000,
    gateway_config: Annotated[str | None, typer.Option(
        help="Gateway providers and routing (YAML); default: the local mocks on port 8700.")] = None,
    public_url: Annotated[str | None, typer.Option(
        help="Base URL providers send webhooks to; default http://HOST:PORT.")] = None,
    mocks: Annotated[bool, typer.Option(
        help="Also serve the mock providers (default profile) on port 8700, where the default "
             "gateway configuration looks for them.")] = True,
    workers: Annotated[int, typer.Option(
        min=1, help="uvicorn worker processes (PostgreSQL only); /metrics sums them all, and each "
                    "opens at most WALLET_DB_CONNECTIONS, fewer if the server has no room.")] = 1,
) -> None:
    """Serve the wallet and gateway HTTP API (OpenAPI at /docs), and the mock providers.
    API keys from WALLET_API_KEYS; see docs/api.md and docs/gateway.md.

    For several worker processes on PostgreSQL use
    ``uvicorn --factory wallet.api.app:create_app --workers N`` with WALLET_DATABASE_URL set,
    and ``sandbox mocks serve`` for the providers."""
    from wallet.api.app import serve as serve_api
    from wallet.api.settings import Settings

    if db != MEMORY:
        migrate(db)  # here, once: a database that cannot be reached is a bad --db
    if mocks:
        _serve_mocks_in_background(host, 8700)

    settings = Settings(database_url=db, migrate=False, host=host, port=port,
                        gateway_config=gateway_config, public_url=public_url or f"http://{host}:{port}")
    if workers > 1:
        from wallet.api.app import serve_workers

        try:
            serve_workers(settings, workers)
        except ValueError as err:
            raise typer.BadParameter(str(err), param_hint="--workers") from None
        return
    serve_api(settings)


def _serve_mocks_in_background(host: str, port: int) -> None:
    import threading

    import uvicorn

    from mocks.apps.server import build_root
    from mocks.cli import DEFAULT_PROFILE
    from mocks.models.profile import load_profile_file

    app_ = build_root(load_profile_file(DEFAULT_PROFILE))
    server = uvicorn.Server(uvicorn.Config(app_, host=host, port=port, log_level="warning"))
    threading.Thread(target=server.run, name="mocks", daemon=True).start()
    console.print(f"mock providers: http://{host}:{port}/<provider> (control: /<provider>/_control)")


@db_app.command("upgrade")
def db_upgrade(db: SqlDbOption = "sqlite:///wallet.sqlite3") -> None:
    """Create or migrate the wallet schema (Alembic) at --db."""
    migrate(db)
    console.print(f"schema at head: {db}")


@db_app.command("verify")
def db_verify(db: SqlDbOption = "sqlite:///wallet.sqlite3") -> None:
    """Check the ledger invariants and the audit hash chain; exit 1 on any break."""
    import sqlalchemy as sa

    from wallet.service.wallet import Wallet

    url = sa.make_url(db)
    if url.get_backend_name() == "sqlite" and not Path(url.database or "").exists():
        raise typer.BadParameter(f"no database at {url.database}: nothing to verify", param_hint="--db")
    wallet = Wallet(open_store(db))
    problems = [f"ledger {v.kind}: {', '.join(v.ids)} ({v.detail})" for v in wallet.ledger_violations()]
    problems += [f"audit {b.stream}#{b.seq}: {b.reason}" for b in wallet.verify_audit()]
    for p in problems:
        console.print(f"[red]{p}[/]")
    console.print("ledger and audit chain intact" if not problems else f"{len(problems)} problem(s)")
    raise typer.Exit(1 if problems else 0)


@app.command()
def bench(
    db: Annotated[str, typer.Option("--db", help="PostgreSQL URL (SQLAlchemy); each measurement runs in "
                                    "a scratch database created there and dropped after.")]
        = "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    seconds: Annotated[int, typer.Option(min=3, help="Length of each measurement.")] = 15,
    threads: Annotated[int, typer.Option(min=1, help="Service-layer threads (and pgbench clients).")] = 8,
    users: Annotated[int, typer.Option(
        min=1, help="Concurrent HTTP clients (connections, Locust users). At 8 each client mostly "
        "waits out its round trip and a third of the machine idles; 16 places about a fifth more "
        "bets. pgbench runs again at this concurrency if it differs from --threads, and the HTTP "
        "figures are compared with the higher of the two pgbench figures.")] = 16,
    workers: Annotated[int, typer.Option(min=1, help="uvicorn worker processes.")] = 2,
    http: Annotated[bool, typer.Option(help="Include the HTTP runs.")] = True,
    locust: Annotated[bool, typer.Option(
        help="Drive the HTTP run with Locust too, as QA runs it, not only with the lean client.")] = True,
    unit_of_work: Annotated[bool, typer.Option(
        help="Also measure bets through the unit of work alone (no one-statement bet).")] = False,
) -> None:
    """Wallet bets/s (in process and over HTTP) against pgbench TPC-B on the same PostgreSQL, one run."""
    from sandbox.bench import http_bets, pgbench_tps, service_bets

    if not db.startswith("postgresql"):
        raise typer.BadParameter("the benchmark compares against pgbench: give a PostgreSQL URL",
                                 param_hint="--db")
    console.print(f"measuring {seconds}s each on {db.split('@')[-1]} ...")
    base = pgbench_tps(db, seconds=seconds, clients=threads)
    console.print(base.line(), soft_wrap=True)
    figures = [(service_bets(db, seconds=seconds, threads=threads), base)]
    if unit_of_work:
        figures.append((service_bets(db, seconds=seconds, threads=threads, fast=False), base))
    for f, _ in figures:
        console.print(f.line(), soft_wrap=True)
    if http:
        http_base = base
        if users != threads:  # the same number of clients, unless pgbench did better with its own
            at_users = pgbench_tps(db, seconds=seconds, clients=users)
            console.print(at_users.line(), soft_wrap=True)
            http_base = max(base, at_users, key=lambda f: f.per_second)
        for f in http_bets(db, seconds=seconds, users=users, workers=workers, locust=locust):
            figures.append((f, http_base))
            console.print(f.line(), soft_wrap=True)
    for f, b in figures:
        console.print(f"ratio {f.name} / {b.name}: [bold]{f.per_second / b.per_second:.2f}[/]",
                      soft_wrap=True)


@app.command("bench-sim")
def bench_sim(
    payments: Annotated[int, typer.Option(min=100, help="Deposits per run.")] = 50_000,
    processes: Annotated[int, typer.Option(min=1, help="Runs in parallel (different seeds).")] = 2,
) -> None:
    """Simulated payments per second (full deposit flow, in-memory store) against a bare SimPy
    loop in the same run; then the same on several cores with different seeds."""
    from sandbox.sim_bench import bare_loop, sweep
    from sandbox.sim_bench import payments as run_payments

    one = run_payments(payments)
    bare = bare_loop(one.events)
    console.print(f"one core: {one.payments:,} payments in {one.seconds:.1f} s = "
                  f"{one.per_second:,.0f} payments/s ({one.events / one.payments:.1f} SimPy events each)")
    per_payment = one.events / one.payments
    console.print(f"bare SimPy loop: {bare:,.0f} events/s = {bare / per_payment:,.0f} "
                  f"payment-equivalents/s; ratio [bold]{one.per_second * per_payment / bare:.3f}[/]")
    many = sweep(payments, list(range(1, processes + 1)), processes)
    total = sum(f.payments for f in many) / max(f.seconds for f in many)
    console.print(f"{processes} processes: {total:,.0f} payments/s; one million would take "
                  f"{1_000_000 / total:,.0f} s")


@app.command("check-live")
def check_live_cmd(
    wallet: Annotated[str, typer.Option("--wallet", help="The wallet's base URL.")] = "http://127.0.0.1:8000",
    mocks_url: Annotated[str, typer.Option("--mocks", help="The mocks' base URL.")] = "http://127.0.0.1:8700",
    settle: Annotated[float, typer.Option(
        min=0, help="Seconds to keep re-checking while in-flight payments settle.")] = 0.0,
    acknowledged: Annotated[Path | None, typer.Option(
        help="File of acknowledged operations (lines `txn ID` / `payment ID`) that must exist.")
    ] = None,
) -> None:
    """Run the consistency checker against running servers: the wallet's ledger, audit chain
    and gateway journal against the mock providers' own decisions. Admin key from
    CASINO_ADMIN_KEY (default: the development key). Exit 1 on any failed check or anomaly,
    2 when the servers cannot be read (down, or the key refused)."""
    import os

    import httpx

    from sandbox.live_check import DEV_ADMIN_KEY, check_live, failures

    try:
        checks, anomalies = check_live(wallet, mocks_url, os.environ.get("CASINO_ADMIN_KEY", DEV_ADMIN_KEY),
                                       settle_s=settle, acknowledged=acknowledged)
    except (httpx.RequestError, httpx.HTTPStatusError) as exc:  # no verdict: nothing could be read
        console.print(f"[red]cannot check[/] {exc.request.url}: {exc}", soft_wrap=True)
        raise typer.Exit(2) from None
    for ch in checks:
        mark = "[green]pass[/]" if ch.passed else "[red]FAIL[/]"
        console.print(f"  {mark}  {ch.name}" + ("" if ch.passed else f": {ch.count} {ch.violations[:5]}"))
    bad = failures(checks, anomalies)
    if anomalies:
        console.print(f"anomalies: {anomalies}")
    raise typer.Exit(1 if bad else 0)


@app.command("bench-sweep")
def bench_sweep(
    repeat: Annotated[int, typer.Option(min=1, help="Timings per configuration (the median is shown).")] = 3,
    workers: Annotated[int | None, typer.Option(
        min=1, help="Processes for the parallel run (default: all cores).")] = None,
) -> None:
    """Routing-sweep runs per minute on one core and on all cores, for a fixed small grid
    (docs/routing_comparison.md), and their ratio."""
    from sandbox.sweep_bench import bench

    one, many = bench(repeat, workers)
    for f in (one, many):
        console.print(f"{f.workers} process(es): {f.runs} runs in {f.seconds:.1f} s = "
                      f"{f.per_minute:.0f} runs/min (median of {repeat})")
    console.print(f"ratio all cores / one core: [bold]{many.per_minute / one.per_minute:.2f}[/]")


@app.command("notebooks")
def notebooks_cmd(
    grid: Annotated[str, typer.Option(help="Grid size: small (seconds) or full (minutes).")] = "small",
    clear: Annotated[bool, typer.Option("--clear", help="Strip the outputs instead (as stored in git).")
                     ] = False,
) -> None:
    """Execute notebooks/*.ipynb in place with nbclient (SANDBOX_GRID=GRID), or clear them."""
    from sandbox.notebooks import FOLDER, NOTEBOOKS, execute
    from sandbox.notebooks import clear as clear_outputs

    if grid not in ("small", "full"):
        raise typer.BadParameter("expected small or full", param_hint="--grid")
    for name in NOTEBOOKS:
        if clear:
            clear_outputs(FOLDER / name)
            console.print(f"{name}: outputs cleared")
        else:
            console.print(f"{name}: {execute(FOLDER / name, grid=grid):.1f} s ({grid} grid)")


def _mount_optional() -> None:
    """Sub-commands that live with their packages."""
    try:
        from mocks.cli import mocks_app
    except ImportError:
        return
    app.add_typer(mocks_app, name="mocks", help="Mock PSPs, bank, crypto chains and KYC.")


_mount_optional()

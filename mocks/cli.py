"""``sandbox mocks ...``: run every mock provider on one port, each under its own prefix.

    sandbox mocks serve --profile mocks/profiles/default.yaml --seed 42 --port 8700
    -> http://127.0.0.1:8700/acme/v1/payments, /globex/api/charge, ..., /<name>/_control/...
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

DEFAULT_PROFILE = Path(__file__).parent / "profiles" / "default.yaml"

mocks_app = typer.Typer(help="Mock payment providers (card PSPs, e-wallet, bank, crypto, KYC).",
                        no_args_is_help=True)


@mocks_app.command()
def serve(
    profile: Path = typer.Option(DEFAULT_PROFILE, help="YAML fault profile file."),  # noqa: B008
    seed: int | None = typer.Option(None, help="Dice seed (default: the file's `seed`)."),
    host: str = typer.Option("127.0.0.1", help="Interface to bind."),
    port: int = typer.Option(8700, help="One port; providers are mounted under /<name>."),
    time_scale: float = typer.Option(1.0, help="Model seconds per wall second (latency, "
                                               "webhook delays and retries all speed up)."),
    callback: str = typer.Option("", help="Webhook URL for events whose request gave none."),
) -> None:
    """Start all mocks with uvicorn."""
    import uvicorn

    from mocks.apps.server import build_root

    pf = _load(profile)
    app = build_root(pf, seed=seed, time_scale=time_scale, default_callback=callback)
    for name in pf.providers:
        typer.echo(f"  {name:<14} http://{host}:{port}/{name}   (control: /{name}/_control)")
    uvicorn.run(app, host=host, port=port, log_level="warning")


@mocks_app.command()
def show(profile: Path = typer.Option(DEFAULT_PROFILE, help="YAML fault profile file."),  # noqa: B008
         ) -> None:
    """Validate a profile file and print every provider's effective profile as JSON."""
    pf = _load(profile)
    typer.echo(json.dumps({n: p.model_dump(mode="json") for n, p in pf.profiles().items()},
                          indent=2))


def _load(path: Path) -> Any:
    """The profile file, or exit 2 with what is wrong in it (nothing is served)."""
    from mocks.models.profile import ProfileError, load_profile_file

    try:
        return load_profile_file(path)
    except ProfileError as err:
        typer.echo(f"invalid profile {err}", err=True)
        raise typer.Exit(2) from None

"""Bad input on the command line is the caller's error: exit 2 with a message naming the
option (or the file and the field), and nothing is created or served."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from sandbox.cli import app
from sandbox.engine.servers import free_port

BASELINE = "scenarios/baseline.yaml"


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, " ".join(result.output.split())  # Rich wraps the message box


@pytest.mark.parametrize(("url", "says"), [
    ("nonsense", "is not a database URL"),
    ("foo://somewhere", "is not a database URL"),
    ("mysql://u@h/db", "SQLite or PostgreSQL, not mysql"),
    ("sqlite://", "SQLite needs a file"),
])
def test_run_refuses_a_database_url_it_cannot_use(tmp_path, url, says):
    code, out = invoke("run", BASELINE, "--db", url, "--out", str(tmp_path / "out"))
    assert code == 2 and "--db" in out and says in out
    assert not (tmp_path / "out").exists()


def test_run_and_serve_refuse_a_server_they_cannot_reach(tmp_path):
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nowhere"
    code, out = invoke("run", BASELINE, "--db", url, "--out", str(tmp_path / "out"))
    assert code == 2 and "--db" in out and "cannot open" in out
    assert not (tmp_path / "out").exists()
    code, out = invoke("serve", "--db", url, "--no-mocks")
    assert code == 2 and "--db" in out and "cannot open" in out


def test_db_commands_need_a_real_database(tmp_path):
    code, out = invoke("db", "upgrade", "--db", "memory://")
    assert code == 2 and "in-memory store" in out
    missing = tmp_path / "missing.sqlite3"
    code, out = invoke("db", "verify", "--db", f"sqlite:///{missing}")
    assert code == 2 and "nothing to verify" in out
    assert not missing.exists()  # verifying does not create the database it looks for
    code, _ = invoke("db", "upgrade", "--db", f"sqlite:///{missing}")
    assert code == 0
    code, out = invoke("db", "verify", "--db", f"sqlite:///{missing}")
    assert code == 0 and "intact" in out


@pytest.mark.parametrize(("text", "says"), [
    (None, "cannot read"),
    ("providers: [\n", "not valid YAML"),
    ("profiles: {}\n", "profiles: Extra inputs are not permitted"),
    ("providers:\n  acme: {kind: card, approval_rate: 2}\n", "providers.acme.approval_rate: Input should"),
])
def test_mocks_refuse_a_bad_profile_file_naming_the_field(tmp_path, text, says):
    path = tmp_path / "profile.yaml"
    if text is not None:
        path.write_text(text)
    for command in ("show", "serve"):
        code, out = invoke("mocks", command, "--profile", str(path))
        assert code == 2
        assert f"{path}: {says}" in out


def test_check_live_without_servers_is_no_verdict():
    wallet, mocks = free_port(), free_port()
    code, out = invoke("check-live", "--wallet", f"http://127.0.0.1:{wallet}",
                       "--mocks", f"http://127.0.0.1:{mocks}")
    assert code == 2 and f"cannot check http://127.0.0.1:{wallet}/" in out


def test_scenarios_refuses_a_folder_that_is_not_there(tmp_path):
    code, out = invoke("scenarios", "--folder", str(tmp_path / "nowhere"))
    assert code == 2 and "--folder" in out

"""Secret settings from files (a mounted Secret volume) and their priority below the
environment; Vault itself is tested against a real dev server in tests/integration."""

from __future__ import annotations

import pytest

from flowsense.secrets import nest
from flowsense.settings import Settings


@pytest.fixture
def secrets_dir(tmp_path, monkeypatch):
    for k in (
        "FLOWSENSE_POSTGRES__PASSWORD",
        "FLOWSENSE_SERVE__JWT_SECRET",
        "FLOWSENSE_VAULT__ADDR",
    ):
        monkeypatch.delenv(k, raising=False)
    d = tmp_path / "secrets"
    d.mkdir()
    (d / "postgres__password").write_text("from-a-file\n")
    (d / "FLOWSENSE_SERVE__JWT_SECRET").write_text("jwt-from-a-file")
    (d / "..data").mkdir()  # what a Kubernetes Secret volume also holds
    (d / ".hidden").write_text("x")
    return d


def test_nest_makes_sections_of_setting_names():
    assert nest({"postgres__password": "a", "FLOWSENSE_SERVE__JWT_SECRET": "b", "data": "c"}) == {
        "postgres": {"password": "a"},
        "serve": {"jwt_secret": "b"},
        "data": "c",
    }


def test_settings_read_secret_files(secrets_dir, monkeypatch):
    monkeypatch.setenv("FLOWSENSE_SECRETS_DIR", str(secrets_dir))
    monkeypatch.setenv("FLOWSENSE_POSTGRES__HOST", "db.internal")
    s = Settings()
    assert s.postgres.password == "from-a-file"  # one trailing newline dropped
    assert s.postgres.host == "db.internal"  # the environment and the files merge
    assert s.serve.jwt_secret.get_secret_value() == "jwt-from-a-file"
    assert "from-a-file" not in repr(s.serve)  # SecretStr stays hidden


def test_the_environment_wins_over_files(secrets_dir, monkeypatch):
    monkeypatch.setenv("FLOWSENSE_POSTGRES__PASSWORD", "from-env")
    assert Settings(secrets_dir=secrets_dir).postgres.password == "from-env"


def test_a_secret_for_no_setting_is_an_error(secrets_dir):
    (secrets_dir / "postgres__pasword").write_text("typo")
    with pytest.raises(ValueError, match="pasword"):
        Settings(secrets_dir=secrets_dir)
    (secrets_dir / "postgres__pasword").unlink()
    (secrets_dir / "nosuchsection__x").write_text("typo")
    with pytest.raises(ValueError, match="nosuchsection"):
        Settings(secrets_dir=secrets_dir)


def test_a_missing_secrets_dir_is_one_clear_line(tmp_path):
    import subprocess
    import sys

    env = {"FLOWSENSE_SECRETS_DIR": str(tmp_path / "nope"), "PATH": "/usr/bin:/bin"}
    res = subprocess.run(
        [sys.executable, "-m", "flowsense", "risk", "reset", "--operator", "a", "--reason", "b"],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == [
        f"flowsense: error: FLOWSENSE_SECRETS_DIR {tmp_path / 'nope'}: not a folder"
    ]

"""Settings from HashiCorp Vault (KV v2, read with hvac): values, priorities and clear
failures. Vault itself cannot run here (see ``tests/fakes/vault.py``), so hvac talks to a
fake that speaks the KV v2 HTTP API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from flowsense.settings import Settings, VaultConfig
from tests.fakes.vault import FakeVault
from tests.net import free_port

TOKEN = "s.flowsense-test"


@pytest.fixture
def vault(monkeypatch) -> Iterator[FakeVault]:
    for k in (
        "FLOWSENSE_POSTGRES__PASSWORD",
        "FLOWSENSE_SERVE__JWT_SECRET",
        "FLOWSENSE_RISK__CAPITAL",
    ):
        monkeypatch.delenv(k, raising=False)
    v = FakeVault(
        TOKEN,
        {
            "secret/flowsense": {
                "postgres__password": "pg-from-vault",
                "FLOWSENSE_SERVE__JWT_SECRET": "jwt-from-vault",
                "risk__capital": "12345",
            }
        },
    )
    yield v
    v.close()


def test_settings_come_from_vault_when_an_address_is_set(vault, monkeypatch):
    monkeypatch.setenv("FLOWSENSE_VAULT__ADDR", vault.addr)
    monkeypatch.setenv("FLOWSENSE_VAULT__TOKEN", TOKEN)
    s = Settings()
    assert s.postgres.password == "pg-from-vault"
    assert s.serve.jwt_secret.get_secret_value() == "jwt-from-vault"
    assert s.risk.capital == 12345.0  # validated like any setting
    assert vault.requests == [("GET", "/v1/secret/data/flowsense")]


def test_no_address_no_vault(vault):
    Settings()
    assert vault.requests == []


def test_environment_wins_over_vault_and_vault_over_files(vault, tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWSENSE_POSTGRES__PASSWORD", "pg-from-env")
    (tmp_path / "serve__jwt_secret").write_text("jwt-from-file")
    (tmp_path / "redis__port").write_text("6390")
    s = Settings(vault=VaultConfig(addr=vault.addr, token=SecretStr(TOKEN)), secrets_dir=tmp_path)
    assert s.postgres.password == "pg-from-env"
    assert s.serve.jwt_secret.get_secret_value() == "jwt-from-vault"
    assert s.redis.port == 6390  # only in the files


@pytest.mark.parametrize(
    ("token", "path", "message"),
    [("wrong-token", "flowsense", "permission denied"), (TOKEN, "other", "no such secret")],
)
def test_vault_failures_are_clear(vault, token, path, message):
    cfg = VaultConfig(addr=vault.addr, token=SecretStr(token), path=path)
    with pytest.raises(ValueError, match=message):
        Settings(vault=cfg)


def test_a_vault_that_does_not_answer_is_clear():
    port = free_port()  # closed again: nothing listens there
    cfg = VaultConfig(addr=f"http://127.0.0.1:{port}", token=SecretStr(TOKEN))
    with pytest.raises(ValueError, match="does not answer"):
        Settings(vault=cfg)

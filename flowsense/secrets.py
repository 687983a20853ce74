"""Where secret settings come from: the environment, files, or HashiCorp Vault.

``Settings`` reads, highest priority first:

1. values given in code (``Settings(...)``, tests);
2. ``FLOWSENSE_*`` environment variables (a Kubernetes ``secretKeyRef``, ...);
3. HashiCorp Vault, when ``FLOWSENSE_VAULT__ADDR`` is set: one KV v2 secret
   (``FLOWSENSE_VAULT__MOUNT``/``__PATH``, ``secret``/``flowsense``) read with
   ``hvac``, whose keys are setting names (``postgres__password``,
   ``serve__jwt_secret``; ``FLOWSENSE_POSTGRES__PASSWORD`` works too);
4. files in ``FLOWSENSE_SECRETS_DIR`` (a mounted Secret volume, Docker
   secrets): one file per setting, named like the Vault keys, the value its
   text (one trailing newline dropped);
5. the defaults.

A Vault that does not answer, refuses the token or lacks the secret stops the
start with one clear line (``ValueError``), never a silent default.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

PREFIX = "FLOWSENSE_"


def nest(flat: dict[str, str], delimiter: str = "__") -> dict[str, Any]:
    """``{"serve__jwt_secret": v}`` -> ``{"serve": {"jwt_secret": v}}`` (the prefix and case
    of ``FLOWSENSE_SERVE__JWT_SECRET`` are accepted too)."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        name = key.lower().removeprefix(PREFIX.lower())
        *parents, leaf = name.split(delimiter)
        node = out
        for p in parents:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ValueError(f"secret {key!r}: {p} is a value, not a section")
        node[leaf] = value
    return out


def read_secrets_dir(folder: Path) -> dict[str, str]:
    """One setting per file; hidden entries (a Kubernetes volume's ``..data``) skipped."""
    if not folder.is_dir():
        raise ValueError(f"FLOWSENSE_SECRETS_DIR {folder}: not a folder")
    out = {}
    for f in sorted(folder.iterdir()):
        if f.name.startswith(".") or not f.is_file():
            continue
        text = f.read_text()
        out[f.name] = text[:-1] if text.endswith("\n") else text
    return out


def read_vault(
    addr: str, token: str, mount: str, path: str, namespace: str | None = None
) -> dict[str, str]:
    """The key/values of one KV v2 secret (``hvac``)."""
    try:
        import hvac
        import requests
        from hvac import exceptions
    except ImportError:
        raise ValueError(
            "FLOWSENSE_VAULT__ADDR is set but hvac is not installed (extra 'serve')"
        ) from None
    client = hvac.Client(url=addr, token=token, namespace=namespace, timeout=10)
    where = f"Vault {addr} secret {mount}/{path}"
    try:
        resp = client.secrets.kv.v2.read_secret_version(
            path=path, mount_point=mount, raise_on_deleted_version=True
        )
    except exceptions.Forbidden:
        raise ValueError(f"{where}: permission denied (check FLOWSENSE_VAULT__TOKEN)") from None
    except exceptions.InvalidPath:
        raise ValueError(f"{where}: no such secret") from None
    except requests.RequestException as e:  # refused, timed out: wrong address or down
        raise ValueError(f"{where}: does not answer ({type(e).__name__})") from None
    except exceptions.VaultError as e:
        raise ValueError(f"{where}: {type(e).__name__}: {e}") from None
    return {k: str(v) for k, v in resp["data"]["data"].items()}


class _Source(PydanticBaseSettingsSource):
    """A settings source of nested values read once (``get_field_value`` is unused)."""

    def __init__(self, settings_cls: type[BaseSettings], read) -> None:
        super().__init__(settings_cls)
        self.read = read

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        values = nest(self.read())
        known = set(self.settings_cls.model_fields)
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"secrets name unknown settings: {', '.join(unknown)}")
        return values


def _vault_config(init: dict[str, Any]) -> dict[str, Any]:
    """The ``vault`` section as given in code, else from the environment."""
    given = init.get("vault")
    if given is not None:
        return given if isinstance(given, dict) else given.model_dump()
    env = {k[len(PREFIX) + 7 :].lower(): v for k, v in os.environ.items()
           if k.upper().startswith(PREFIX + "VAULT__")}  # fmt: skip
    return env


def vault_source(settings_cls: type[BaseSettings], init: dict[str, Any]) -> _Source:
    def read() -> dict[str, str]:
        cfg = _vault_config(init)
        addr = cfg.get("addr")
        if not addr:
            return {}
        token = cfg.get("token") or ""
        token = token.get_secret_value() if hasattr(token, "get_secret_value") else token
        return read_vault(
            addr,
            token,
            cfg.get("mount") or "secret",
            cfg.get("path") or "flowsense",
            cfg.get("namespace"),
        )

    return _Source(settings_cls, read)


def files_source(settings_cls: type[BaseSettings], init: dict[str, Any]) -> _Source:
    def read() -> dict[str, str]:
        folder = init.get("secrets_dir") or os.environ.get(PREFIX + "SECRETS_DIR")
        return read_secrets_dir(Path(folder)) if folder else {}

    return _Source(settings_cls, read)

"""A small fake HashiCorp Vault that speaks the KV v2 HTTP API, for hvac.

Vault cannot run here: Debian does not package it, and its Go module replaces
its own ``api``/``sdk`` modules with in-tree folders that the module proxy's
download leaves out, while the proxy has no matching tagged versions, so it
cannot be built from the proxy either (tried with v1.14.10). The protocol,
from Vault's API docs and hvac 2.4's ``kv_v2.read_secret_version``:
``GET /v1/<mount>/data/<path>`` with the ``X-Vault-Token`` header answers
200 ``{"data": {"data": {...}, "metadata": {...}}}``, 403 ``{"errors":
["permission denied"]}`` for a bad token, 404 ``{"errors": []}`` for no secret.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeVault:
    def __init__(self, token: str, secrets: dict[str, dict[str, str]]) -> None:
        self.token, self.secrets = token, secrets  # "mount/path" -> key/values
        self.requests: list[tuple[str, str]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake.requests.append((self.command, self.path))
                if self.headers.get("X-Vault-Token") != fake.token:
                    return self._send(403, {"errors": ["permission denied"]})
                path = self.path.split("?", 1)[0].removeprefix("/v1/")
                mount, _, rest = path.partition("/data/")
                data = fake.secrets.get(f"{mount}/{rest}")
                if data is None:
                    return self._send(404, {"errors": []})
                meta = {"version": 1, "deletion_time": "", "destroyed": False}
                return self._send(200, {"data": {"data": data, "metadata": meta}})

            def _send(self, status: int, body: dict) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.addr = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

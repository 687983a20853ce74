"""The dashboard against ``flowsense serve`` on the real servers (accounts): in Chromium,
a wrong password is refused, the right one logs in, an API key is created on the
settings page (and is then in PostgreSQL, listed by the API), and logging out ends it.
The live views are tested against the embedded demo (``tests/test_dashboard.py``)."""

from __future__ import annotations

import pytest

from serving.security import Role, Tier
from tests.e2e import WEB, run_dashboard_script
from tests.integration.api import bearer, login, make_user, running_api
from tests.net import free_port

pytestmark = pytest.mark.integration
PASSWORD = "pw-dashboard-1234"


def test_login_and_api_keys_in_chromium_against_the_servers(services):
    assert (WEB / "out" / "index.html").exists(), "run ./scripts/setup.sh first (builds web/)"
    serve = services.serve.model_copy(update={"port": free_port()})
    settings = services.model_copy(update={"serve": serve})
    with running_api(settings) as api:
        user = make_user(settings, Tier.PRO, Role.TRADER, password=PASSWORD)
        result = run_dashboard_script(
            {
                "BASE_URL": api.url,
                "FS_USER": user.username,
                "FS_PASSWORD": PASSWORD,
                "LOGIN_ONLY": "1",
                "ARTIFACTS": str(WEB / "artifacts" / "accounts"),
            },
            timeout=180,
        )
        for name in ("wrong_password_refused", "logged_in", "api_key_created", "logged_out"):
            assert result["checks"][name]["ok"], name
        with api.client(headers=bearer(login(api, user, PASSWORD))) as c:
            keys = c.get("/api/v1/keys").json()
        assert [k["name"] for k in keys] == ["e2e"]

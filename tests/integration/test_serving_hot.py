"""The hot read path (``serving.hot``) against FastAPI's route on the real servers.

A caller's first request with an API key is answered by the FastAPI route (the key
is looked up in PostgreSQL then cached); later ones by the hot path. Both must
give the same answers, count each request once against the tier, and the hot path
must cost one Redis round trip (Redis's own command statistics say which path ran).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from serving.security import Role, Tier
from tests.integration.api import bearer, login, make_user, running_api

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def api(services):
    with running_api(services) as a:
        yield a


@pytest.fixture
def store(api):
    r = redis.Redis.from_url(api.settings.redis.url)
    yield r
    r.close()


@contextmanager
def watched(r: redis.Redis) -> Iterator[list[dict]]:
    """What Redis runs while the block runs (``MONITOR``): the clients' commands and,
    with ``client_type == "lua"``, those of the scripts they call."""
    seen: list[dict] = []
    end = f"end-{uuid.uuid4().hex}"
    with r.monitor() as m:

        def collect() -> None:
            for c in m.listen():
                if end in c["command"]:
                    return
                seen.append(c)

        thread = threading.Thread(target=collect, daemon=True)
        thread.start()
        yield seen
        r.echo(end)
        thread.join(timeout=10)


def round_trips(seen: list[dict]) -> list[str]:
    """The clients' commands, less those that set up a new connection."""
    names = [c["command"].split()[0].upper() for c in seen if c["client_type"] != "lua"]
    return [n for n in names if n not in ("HELLO", "CLIENT")]


def scripted(seen: list[dict]) -> list[str]:
    return [c["command"].split()[0].upper() for c in seen if c["client_type"] == "lua"]


def new_key(api, tier: Tier) -> str:
    user = make_user(api.settings, tier, Role.VIEWER)
    with api.client() as c:
        made = c.post("/api/v1/keys", json={"name": "bot"}, headers=bearer(login(api, user)))
    assert made.status_code == 201, made.text
    return made.json()["key"]


def put_prediction(r: redis.Redis, symbol: str) -> dict:
    """A prediction as the live flow writes it (``dataflows.stores.redis``)."""
    value = {
        "symbol": symbol,
        "model": "ofi",
        "timestamp": time.time_ns(),
        "direction": -1,
        "confidence": 0.625,
    }
    r.set(f"pred:{symbol}", json.dumps(value), px=60_000)
    return value


def test_hot_path_answers_as_the_route_with_one_round_trip(api, store):
    symbol = f"HOT{uuid.uuid4().hex[:6].upper()}"
    value = put_prediction(store, symbol)
    h = {"X-API-Key": new_key(api, Tier.PRO)}
    with api.client(headers=h) as c:
        with watched(store) as route:  # the key is not cached yet: FastAPI's route
            first = c.get(f"/api/v1/predictions/{symbol}")
        with watched(store) as fast:
            hot = [c.get(f"/api/v1/predictions/{symbol}") for _ in range(5)]
    assert first.status_code == 200 and [r.status_code for r in hot] == [200] * 5
    assert round_trips(route) == ["EVALSHA", "GET"]  # the rate limit, then the value
    assert round_trips(fast) == ["EVALSHA"] * 5  # one round trip each
    assert scripted(fast) == ["INCR", "PTTL", "GET"] * 5  # the value read by the script
    for r in [first, *hot]:
        assert r.json() == value | {"seq": None, "live": True}
        assert r.headers["content-type"] == "application/json"
        assert r.headers["X-RateLimit-Limit"] == "10000"
    remaining = [int(r.headers["X-RateLimit-Remaining"]) for r in [first, *hot]]
    # each counted once, in order (making the key counted one before)
    assert remaining == list(range(9998, 9992, -1))


def test_bearer_callers_get_exactly_their_tier_limit_on_the_hot_path(api, store):
    symbol = f"HOT{uuid.uuid4().hex[:6].upper()}"
    put_prediction(store, symbol)
    user = make_user(api.settings, Tier.FREE, Role.VIEWER)
    with api.client(headers=bearer(login(api, user))) as c:
        codes = [c.get(f"/api/v1/predictions/{symbol}").status_code for _ in range(100)]
        over = c.get(f"/api/v1/predictions/{symbol}")
        other = c.get("/api/v1/me")  # FastAPI's 429 for the same user
    assert codes == [200] * 100
    assert over.status_code == other.status_code == 429
    assert over.json() == other.json() == {"detail": "rate limit (free): 100 requests per 60 s"}
    assert 1 <= int(over.headers["Retry-After"]) <= 60
    assert over.headers["X-RateLimit-Limit"] == "100"


def test_without_a_hot_value_both_paths_fall_back_alike(api, store):
    symbol = f"NONE{uuid.uuid4().hex[:6].upper()}"  # in neither Redis nor QuestDB
    h = {"X-API-Key": new_key(api, Tier.PRO)}
    with api.client(headers=h) as c:
        answers = [c.get(f"/api/v1/predictions/{symbol}") for _ in range(2)]
    assert [r.status_code for r in answers] == [404, 404]
    assert answers[0].json() == answers[1].json() == {"detail": f"no prediction for {symbol}"}


def test_what_the_hot_path_declines_fastapi_answers(api, store):
    symbol = f"HOT{uuid.uuid4().hex[:6].upper()}"
    put_prediction(store, symbol)
    with api.client() as c:
        anonymous = c.get(f"/api/v1/predictions/{symbol}")
        forged = c.get(f"/api/v1/predictions/{symbol}", headers={"Authorization": "Bearer x.y.z"})
        unknown = c.get(f"/api/v1/predictions/{symbol}", headers={"X-API-Key": "fs_nope"})
        user = make_user(api.settings, Tier.PRO, Role.VIEWER)
        h = bearer(login(api, user))
        bad_symbol = c.get("/api/v1/predictions/BAD$SYM", headers=h)
        posted = c.post(f"/api/v1/predictions/{symbol}", headers=h)
        counted = answered(c)
        ok = c.get(f"/api/v1/predictions/{symbol}", headers=h)  # the hot path
        now = answered(c)
    assert [anonymous.status_code, forged.status_code, unknown.status_code] == [401] * 3
    assert anonymous.headers["WWW-Authenticate"] == "Bearer"
    assert bad_symbol.status_code == 422
    assert posted.status_code == 405
    assert ok.status_code == 200
    assert now == counted + 1  # under the route's template


def answered(c) -> float:
    """``flowsense_api_requests_total`` of the hot route's 200s, from ``/metrics``."""
    labels = {"method": "GET", "route": "/api/v1/predictions/{symbol}", "status": "200"}
    text = c.get("/metrics").text
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "flowsense_api_requests_total" and s.labels == labels
    )


def test_metrics_stay_the_apps_after_feast_is_imported(api, store):
    """Importing ``feast.metrics`` (the online-features route does) sets
    ``PROMETHEUS_MULTIPROC_DIR``; one API process must still show its own counters."""
    import feast.metrics  # noqa: F401

    symbol = f"HOT{uuid.uuid4().hex[:6].upper()}"
    put_prediction(store, symbol)
    user = make_user(api.settings, Tier.PRO, Role.VIEWER)
    with api.client(headers=bearer(login(api, user))) as c:
        before = answered(c)
        assert c.get(f"/api/v1/predictions/{symbol}").status_code == 200
        assert answered(c) == before + 1

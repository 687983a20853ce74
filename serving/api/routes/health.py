"""``GET /health``: each dependency, checked."""

from __future__ import annotations

from fastapi import APIRouter, Response

from serving.api.deps import State
from serving.api.params import Health

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health)
async def health(state: State, response: Response) -> Health:
    """Each store (and the Kafka fan-out) with ``ok``, a detail and the time it took; 503 if
    any is down."""
    checks = await state.store.health()
    if state.kafka is not None:
        checks["kafka"] = state.kafka.health()
    ok = all(c["ok"] for c in checks.values())
    if not ok:
        response.status_code = 503
    return Health(status="ok" if ok else "degraded", mode=state.store.kind, checks=checks)

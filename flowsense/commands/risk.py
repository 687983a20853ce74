"""``flowsense risk reset``: an operator lifts the drawdown halt of an account.

The live flow reads the ``risk.control`` topic; a reset lifts only a halt that
happened before it (a replay has no resets: a halt there holds to the end).
"""

from __future__ import annotations

import time
from typing import Annotated

import typer

from flowsense.cli import app
from flowsense.errors import InputError
from flowsense.options import Json, emit_json
from flowsense.settings import Settings

risk_app = typer.Typer(help="Operate the risk gate of the live flow.", no_args_is_help=True)
app.add_typer(risk_app, name="risk")


def send_reset(settings: Settings, operator: str, reason: str, account: str | None = None) -> dict:
    """Write a ``RiskReset`` to ``risk.control``; what was sent."""
    from confluent_kafka import Producer

    from schemas import topics
    from schemas.trading import RiskReset

    reset = RiskReset(account or settings.risk.account, time.time_ns(), operator, reason)
    producer = Producer(
        {
            "bootstrap.servers": settings.kafka.bootstrap,
            "message.timeout.ms": 5_000,
            "log_level": 0,  # the one-line error below says it; no librdkafka lines on stderr
        }
    )
    errors: list[str] = []
    producer.produce(
        topics.RISK_CONTROL,
        reset.to_json(),
        reset.account.encode(),
        on_delivery=lambda err, _: errors.append(str(err)) if err else None,
    )
    if producer.flush(15) or errors:
        raise InputError(
            f"Kafka at {settings.kafka.bootstrap} did not take the reset "
            f"({'; '.join(errors) or 'timeout'}); is it running? (flowsense services up kafka)"
        )
    return {"topic": topics.RISK_CONTROL, **reset.to_dict()}


@risk_app.command("reset")
def reset(
    operator: Annotated[str, typer.Option("--operator", help="Who lifts the halt (audited).")],
    reason: Annotated[str, typer.Option("--reason", help="Why (audited).")] = "",
    account: Annotated[
        str | None, typer.Option("--account", help="Account (default: setting risk.account).")
    ] = None,
    json: Json = False,
) -> None:
    """Lift the drawdown kill switch of the live flow's account."""
    if not operator.strip():
        raise InputError("--operator must name someone")
    sent = send_reset(Settings(), operator, reason, account)
    if json:
        emit_json(sent)
    else:
        typer.echo(f"reset of account {sent['account']} sent to {sent['topic']} by {operator}")

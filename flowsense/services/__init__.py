"""The local Kafka, QuestDB, PostgreSQL and Redis servers of development and tests.

``flowsense services up | down | status | logs`` is a thin shell over
:mod:`flowsense.services.manager`; each server is a small class of its own
module (:mod:`~flowsense.services.kafka`, ...) on the :class:`Service` of
:mod:`flowsense.services.base`.
"""

from flowsense.services.base import Service, ServiceError
from flowsense.services.manager import NAMES, down, logs, status, up

__all__ = ["NAMES", "Service", "ServiceError", "down", "logs", "status", "up"]

"""The serving layer: FastAPI REST, GraphQL and Socket.IO over what the dataflows wrote.

It reads stores and never computes signals (``serving.stores``). Two backends:
the real servers (Redis, QuestDB, PostgreSQL, Kafka for the live fan-out) and
the embedded one, fed in-process by a replay (``flowsense serve --embedded``).
Build the app with ``serving.app.create_app``; ``flowsense serve`` runs it.
"""

"""Writers and readers of the real stores: PostgreSQL, QuestDB, Redis (and their migrations)."""

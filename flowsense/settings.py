"""All settings, read in one place from ``FLOWSENSE_*`` environment variables.

Nested sections use ``__``: ``FLOWSENSE_RISK__MAX_POSITION=200``. Build a
``Settings()`` where a command starts and pass it (or its sections) down;
nothing else reads the environment.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from operators.config import RiskConfig, StrategyConfig

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"


class ReplayConfig(BaseModel):
    """How the replay dataflow reads and batches (``FLOWSENSE_REPLAY__*``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    batch_size: int = Field(65_536, gt=0)
    """Ticks per batch on the hot path."""
    levels: int | None = Field(None, gt=0)
    """Book levels to keep; default: every level the data has (Binance: 10)."""
    bar_s: float = Field(10.0, gt=0)
    predictor: str = "ofi"


class BrokerConfig(BaseModel):
    """Paper execution (``FLOWSENSE_BROKER__*``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["paper"] = "paper"
    fee_bps: float = Field(0.0, ge=0)


class SinkConfig(BaseModel):
    """Store writers of the live flow (``FLOWSENSE_SINKS__*``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_pending_batches: int = Field(64, gt=0)
    """Batches a store's writer thread may have queued before the flow waits for it."""


class KafkaConfig(BaseModel):
    """Kafka (``FLOWSENSE_KAFKA__*``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    bootstrap: str = "127.0.0.1:9092"
    controller_port: int = 9093
    """KRaft controller listener of the project's own single-node broker."""
    partitions: int = Field(4, gt=0)
    """Partitions of ``ticks.raw`` (keyed by symbol)."""
    group: str = "flowsense-live"
    symbols: list[str] = []
    """Symbols the live flow accepts on ``ticks.raw`` (FlowSense names: ``BTCUSDT-PERP``);
    empty accepts all. Any other symbol is dead-lettered as ``unknown_symbol``."""


class QuestDBConfig(BaseModel):
    """QuestDB (``FLOWSENSE_QUESTDB__*``): HTTP/ILP and PGWire."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    http_port: int = 9000
    pg_port: int = 8812
    ilp_tcp_port: int = 9009
    user: str = "admin"
    password: str = "quest"


class PostgresConfig(BaseModel):
    """PostgreSQL (``FLOWSENSE_POSTGRES__*``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    port: int = 5432
    database: str = "flowsense"
    user: str = "flowsense"
    password: str = ""
    """Empty for the local development cluster (trust on loopback); set in deployment."""

    @property
    def dsn(self) -> str:
        auth = f"{self.user}:{self.password}" if self.password else self.user
        return f"postgresql://{auth}@{self.host}:{self.port}/{self.database}"


class RedisConfig(BaseModel):
    """Redis (``FLOWSENSE_REDIS__*``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    port: int = 6379
    db: int = 0

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/{self.db}"


class ServeConfig(BaseModel):
    """The serving layer: API, auth, rate limits, fan-out (``FLOWSENSE_SERVE__*``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(8000, gt=0, lt=65536)
    jwt_secret: SecretStr | None = None
    """HS256 key of the tokens. Unset: one is generated once and kept in
    ``<runtime_dir>/serve/jwt_secret`` (development only; set it in deployment)."""
    fernet_key: SecretStr | None = None
    """Key of the broker credentials at rest. Unset: Vault when ``vault_addr`` is
    set, else generated once under ``<runtime_dir>/serve/fernet_key`` (development)."""
    vault_addr: str | None = None
    """Vault (KV v2) holding the Fernet key, e.g. ``http://127.0.0.1:8200``."""
    vault_token: SecretStr | None = None
    vault_path: str = "secret/data/flowsense"
    """KV v2 path read with ``GET {vault_addr}/v1/{vault_path}``; field ``fernet_key``."""
    access_ttl_s: int = Field(900, gt=0)
    refresh_ttl_s: int = Field(7 * 24 * 3600, gt=0)
    rate_limits: dict[str, int] = {"free": 100, "pro": 10_000, "institutional": 100_000}
    """Requests per ``rate_window_s`` for each tier."""
    rate_window_s: int = Field(60, gt=0)
    login_limit: int = Field(100, gt=0)
    """Login attempts per client address per ``rate_window_s`` (against password guessing)."""
    room_rate_hz: float = Field(10.0, gt=0, le=1000)
    """Most messages per second to one Socket.IO room (newer rows coalesce)."""
    kafka_fanout: bool = True
    """Fan out the output topics to Socket.IO (server mode)."""
    backtest_root: Path = SHARED_DATA
    """Backtests may only read data under this folder."""
    otlp_endpoint: str | None = None
    """OTLP/HTTP traces endpoint (``http://host:4318/v1/traces``); unset: no tracing."""
    access_log: bool = False
    """Log every request (JSON on stdout); off keeps the hot path fast."""


class Settings(BaseSettings):
    """FlowSense settings. Every field can be set as ``FLOWSENSE_<NAME>``."""

    model_config = SettingsConfigDict(
        env_prefix="FLOWSENSE_", env_nested_delimiter="__", frozen=True, extra="forbid"
    )

    data: Path = SHARED_DATA / "lobster"
    """Default input of ``flowsense replay``."""
    runs_dir: Path = Path("runs")
    """Where each replay writes its run folder."""
    cache_dir: Path | None = Path.home() / ".cache" / "flowsense" / "feeds"
    """Parsed input files, kept to make repeated replays fast; empty to disable."""
    runtime_dir: Path = PROJECT_ROOT / "runtime"
    """Data and logs of the local servers started by ``flowsense services``."""
    downloads_dir: Path = Path.home() / ".cache" / "flowsense" / "downloads"
    """Server downloads (Kafka and QuestDB jars), so a second ``services up`` is offline."""
    replay: ReplayConfig = ReplayConfig()

    @field_validator("cache_dir", mode="before")
    @classmethod
    def _empty_is_none(cls, v: object) -> object:
        return None if v in ("", None) else v

    strategy: StrategyConfig = StrategyConfig()
    risk: RiskConfig = RiskConfig()
    broker: BrokerConfig = BrokerConfig()
    sinks: SinkConfig = SinkConfig()
    kafka: KafkaConfig = KafkaConfig()
    questdb: QuestDBConfig = QuestDBConfig()
    postgres: PostgresConfig = PostgresConfig()
    redis: RedisConfig = RedisConfig()
    serve: ServeConfig = ServeConfig()


@lru_cache
def get_settings() -> Settings:
    """The process's settings (cached; tests build their own ``Settings``)."""
    return Settings()

"""All settings, read in one place from ``FLOWSENSE_*`` environment variables.

Nested sections use ``__``: ``FLOWSENSE_RISK__MAX_POSITION=200``. Build a
``Settings()`` where a command starts and pass it (or its sections) down;
nothing else reads the environment.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from operators.config import DriftConfig, RiskConfig, StrategyConfig

T = TypeVar("T")
EmptyIsNone = Annotated[T | None, BeforeValidator(lambda v: None if v == "" else v)]
"""An optional setting that an empty environment variable unsets."""

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


class IBConfig(BaseModel):
    """Interactive Brokers TWS / IB Gateway (``FLOWSENSE_BROKER__IB__*``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    port: int = 4002
    """IB Gateway paper trading; TWS paper is 7497."""
    client_id: int = 17
    account: SecretStr = SecretStr("")
    """The IB account orders are placed for (empty: the gateway's only account)."""
    connect_timeout_s: float = Field(5.0, gt=0)
    connect_attempts: int = Field(5, gt=0)
    retry_delay_s: float = Field(1.0, ge=0)
    """First wait between attempts; doubled after each failure."""
    group: str = "flowsense-execute"
    """Kafka consumer group of ``flowsense execute`` on the ``orders`` topic."""


class ModelsConfig(BaseModel):
    """Trained models: MLflow tracking, which model the dataflow loads, training defaults
    (``FLOWSENSE_MODELS__*``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tracking_uri: str = ""
    """MLflow tracking URI; empty: the local file store ``<runs_dir>/mlruns``."""
    experiment: str = "flowsense"
    registered_name: str = "flowsense-orderflow"
    """Registry name under which ``flowsense train`` registers each bundle."""
    source: str = ""
    """Model the dataflow loads: a bundle folder, ``models:/NAME/VERSION`` (or ``/latest``);
    empty: the latest version of ``registered_name``."""
    window: int = Field(16, ge=2)
    """Rows each transformer layer attends to (two layers: a row sees the 31 before it)."""
    horizon: int = Field(20, gt=0)
    """Label horizon in events (rows)."""
    label_method: Literal["point", "smoothed"] = "point"
    label_alpha: float = Field(0.0, ge=0)
    """Relative mid change that counts as a move."""
    epochs: int = Field(4, gt=0)
    max_windows: int = Field(40_000, gt=0)
    """Labelled rows (prediction targets) sampled per training epoch, at most."""
    threads: int = Field(1, gt=0)
    """torch threads of a dataflow worker (and of training)."""
    seed: int = 0


class BrokerConfig(BaseModel):
    """Execution (``FLOWSENSE_BROKER__*``): the paper broker, or Interactive Brokers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["paper"] = "paper"
    """The flow's account executes on the paper broker (the strategy's book);
    ``flowsense execute`` sends the orders it accepts to Interactive Brokers."""
    fee_bps: float = Field(0.0, ge=0)
    order_type: Literal["market", "limit"] = "market"
    """Market orders pay the touch; limit orders join the queue at the touch."""
    entry_latency_ms: float = Field(0.0, ge=0)
    """Order entry latency of the paper broker, event time."""
    md_latency_ms: float = Field(0.0, ge=0)
    """Market data latency of the paper broker, event time (adds to the entry latency)."""
    ib: IBConfig = IBConfig()


class ArchiveConfig(BaseModel):
    """The archiver, output topics -> QuestDB (``FLOWSENSE_ARCHIVE__*``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    group: str = "flowsense-archive"
    """Kafka consumer group: its committed offsets say what is archived."""
    batch_messages: int = Field(1000, gt=0)
    """Messages read (and written to QuestDB together) at most per poll."""
    nice: int = Field(5, ge=0, le=19)
    """CPU priority below the trading flow's, for the process ``flowsense live`` starts."""


class RecoveryConfig(BaseModel):
    """Crash recovery of the live flow: Bytewax snapshots (``FLOWSENSE_RECOVERY__*``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True
    """``flowsense live`` snapshots every stateful step and resumes from the last snapshot."""
    dir: Path | None = None
    """Recovery partitions (SQLite files); unset: ``<runtime_dir>/recovery/live``."""
    partitions: int = Field(1, gt=0)
    """Recovery partitions created in a new folder (more: parallel snapshot writes)."""
    snapshot_s: float = Field(2.0, gt=0)
    """Seconds between snapshots (Bytewax's epoch): at most this much input is redone
    after a crash."""
    backup_s: float = Field(0.0, ge=0)
    """How long superseded snapshots are kept (for a backup job copying the folder)."""


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
    merge_wait_ms: EmptyIsNone[float] = Field(50.0, ge=0)
    """Live: how long (wall clock) the account step waits for a symbol gone quiet before
    it trades the other symbols' rows without it. Empty: wait for every symbol, as the
    replay does (the same orders as the replay of the same input, even over a backlog,
    at the cost of stalling every symbol while one is quiet)."""


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
    workers: int = Field(1, ge=1, le=64)
    """API processes sharing the port (servers only). Each runs its own Kafka feed and
    Socket.IO clients, which must then use the websocket transport (no sticky sessions);
    ``/metrics`` adds up all of them."""
    redis_connections: int = Field(64, gt=0)
    """Redis connections of one API process (a request waits for a free one)."""
    """Log every request (JSON on stdout); off keeps the hot path fast."""
    web_dir: Path = PROJECT_ROOT / "web" / "out"
    """The dashboard's static export (``npm run build`` in ``web/``, run by
    ``scripts/setup.sh``), served at ``/`` when it exists."""


class TracingConfig(BaseModel):
    """OpenTelemetry traces of the dataflows (``FLOWSENSE_TRACING__*``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    otlp_endpoint: str | None = None
    """OTLP/HTTP traces endpoint (``http://host:4318/v1/traces``) of the dataflows, and of
    the API unless ``serve.otlp_endpoint`` names another; unset: no tracing, no cost."""
    service: str = "flowsense-dataflow"
    """``service.name`` of the dataflows' spans."""


class DriftSettings(DriftConfig):
    """Drift of the live flow's features against a reference (``FLOWSENSE_DRIFT__*``), and
    the thresholds of ``flowsense drift``."""

    reference: EmptyIsNone[Path] = None
    """Reference features (training data): a run folder, a Parquet/CSV features table or
    market data. Unset: the live flow measures no drift (no step, no cost)."""
    features: list[str] = Field(
        default_factory=lambda: ["ofi", "spread", "bid_depth", "ask_depth", "trade_sz"]
    )
    window_rows: int = Field(5_000, ge=100)
    """Live window: the newest rows of each symbol."""
    every_s: float = Field(60.0, gt=0)
    """Event-time seconds between two measures of a symbol's window."""
    reference_rows: int = Field(50_000, ge=100)
    """Reference rows kept per feature (an even subsample), to bound memory and KS time."""


class FeastConfig(BaseModel):
    """The Feast feature repository (``FLOWSENSE_FEAST__*``; ``dataflows.stores.feast``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    project: str = "flowsense"
    """Feast project: its registry entries and its keys in Redis."""
    dir: Path | None = None
    """Registry and offline file; default ``<runtime_dir>/feast``."""
    ttl_s: float = Field(60.0, gt=0)
    """TTL of the ``ofi_features`` view: how old a row may be and still be served."""
    levels: int = Field(5, gt=0)
    """Multi-level OFI features in the view: ``ofi_1`` ... ``ofi_<levels>``."""
    push: bool = False
    """The live flow pushes each batch's newest features to the online store."""


class VaultConfig(BaseModel):
    """HashiCorp Vault as a source of settings (``FLOWSENSE_VAULT__*``; ``flowsense.secrets``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    addr: str | None = None
    """e.g. ``https://vault:8200``; unset: Vault is not read."""
    token: SecretStr | None = None
    mount: str = "secret"
    """KV v2 secrets engine mount."""
    path: str = "flowsense"
    """The secret whose keys are setting names (``postgres__password``...)."""
    namespace: str | None = None


class Settings(BaseSettings):
    """FlowSense settings. Every field can be set as ``FLOWSENSE_<NAME>``; secrets may also
    come from Vault or files (``flowsense.secrets``)."""

    model_config = SettingsConfigDict(
        env_prefix="FLOWSENSE_", env_nested_delimiter="__", frozen=True, extra="forbid"
    )

    data: Path = SHARED_DATA / "lobster"
    """Default input of ``flowsense replay``."""
    runs_dir: Path = Path("runs")
    """Where each replay writes its run folder."""
    cache_dir: EmptyIsNone[Path] = Path.home() / ".cache" / "flowsense" / "feeds"
    """Parsed input files, kept to make repeated replays fast; empty to disable."""
    runtime_dir: Path = PROJECT_ROOT / "runtime"
    """Data and logs of the local servers started by ``flowsense services``."""
    downloads_dir: Path = Path.home() / ".cache" / "flowsense" / "downloads"
    """Server downloads (Kafka and QuestDB jars), so a second ``services up`` is offline."""
    replay: ReplayConfig = ReplayConfig()

    strategy: StrategyConfig = StrategyConfig()
    risk: RiskConfig = RiskConfig()
    broker: BrokerConfig = BrokerConfig()
    models: ModelsConfig = ModelsConfig()
    archive: ArchiveConfig = ArchiveConfig()
    recovery: RecoveryConfig = RecoveryConfig()
    kafka: KafkaConfig = KafkaConfig()
    questdb: QuestDBConfig = QuestDBConfig()
    postgres: PostgresConfig = PostgresConfig()
    redis: RedisConfig = RedisConfig()
    serve: ServeConfig = ServeConfig()
    drift: DriftSettings = DriftSettings()
    tracing: TracingConfig = TracingConfig()
    vault: VaultConfig = VaultConfig()
    feast: FeastConfig = FeastConfig()
    secrets_dir: Path | None = None
    """A folder of secret settings, one file each (``flowsense.secrets``)."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Code, then the environment, then Vault (when an address is set), then files."""
        from flowsense.secrets import files_source, vault_source

        init = getattr(init_settings, "init_kwargs", {})
        return (
            init_settings,
            env_settings,
            vault_source(settings_cls, init),
            files_source(settings_cls, init),
        )


@lru_cache
def get_settings() -> Settings:
    """The process's settings (cached; tests build their own ``Settings``)."""
    return Settings()

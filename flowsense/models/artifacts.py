"""Model bundles on disk and in MLflow: save, log, register, resolve and load.

A bundle folder holds ``bundle.json`` (Hawkes parameters, window, stacker,
training metadata) and ``transformer.pt`` (TorchScript). Training logs the
folder as the run's ``model`` artifact and registers it as a new version of
``settings.models.registered_name``. The default tracking store is the
MLflow file store under ``<runs_dir>/mlruns``: the SQLite store needs
SQLAlchemy and Alembic, which mlflow-skinny does not bring, and MLflow 3
refuses the file store unless ``MLFLOW_ALLOW_FILE_STORE`` is set, which is
done here for file URIs only.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

from flowsense.errors import InputError
from flowsense.settings import ModelsConfig, Settings

BUNDLE_JSON = "bundle.json"
TRANSFORMER_FILE = "transformer.pt"


class ModelMissingError(InputError):
    """No trained model where the settings point."""


def tracking_uri(settings: Settings) -> str:
    uri = settings.models.tracking_uri
    if uri:
        return uri
    return (settings.runs_dir / "mlruns").resolve().as_uri()


def _mlflow(settings: Settings):
    uri = tracking_uri(settings)
    if uri.startswith("file:") or "://" not in uri:
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    import mlflow

    mlflow.set_tracking_uri(uri)
    return mlflow


def save_bundle(folder: Path, bundle: Any) -> Path:
    """Write ``bundle`` (an ``operators.ensemble.ModelBundle``) to ``folder``."""
    import torch

    folder.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.save(bundle.transformer, str(folder / TRANSFORMER_FILE))
    meta = {
        "hawkes": bundle.hawkes.to_dict(),
        "window": bundle.window,
        "levels": bundle.levels,
        "hawkes_min_confidence": bundle.hawkes_min_confidence,
        "stacker": bundle.stacker.to_dict() if bundle.stacker else None,
        "meta": bundle.meta,
    }
    (folder / BUNDLE_JSON).write_text(json.dumps(meta, indent=2, default=str))
    return folder


def load_bundle_folder(folder: Path, threads: int = 1) -> Any:
    """A ``ModelBundle`` from a bundle folder (TorchScript on CPU, ``threads`` torch threads)."""
    import torch

    from operators.ensemble import ModelBundle, Stacker
    from operators.hawkes import HawkesParams

    if not (folder / BUNDLE_JSON).exists() or not (folder / TRANSFORMER_FILE).exists():
        raise ModelMissingError(
            f"{folder}: not a model bundle (no {BUNDLE_JSON} / {TRANSFORMER_FILE})"
        )
    torch.set_num_threads(threads)
    meta = json.loads((folder / BUNDLE_JSON).read_text())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit's deprecation notice
        model = torch.jit.load(str(folder / TRANSFORMER_FILE), map_location="cpu").eval()
    return ModelBundle(
        hawkes=HawkesParams.from_dict(meta["hawkes"]),
        transformer=model,
        window=int(meta["window"]),
        stacker=Stacker.from_dict(meta["stacker"]) if meta.get("stacker") else None,
        levels=int(meta["levels"]),
        hawkes_min_confidence=float(meta["hawkes_min_confidence"]),
        meta=meta.get("meta", {}),
    )


def _train_hint(settings: Settings) -> str:
    return (
        "no trained model: run `flowsense train --data FILE` first "
        f"(looked for registry model {settings.models.registered_name!r} at "
        f"{tracking_uri(settings)}; or set FLOWSENSE_MODELS__SOURCE to a bundle folder)"
    )


def resolve(settings: Settings) -> Path:
    """The local folder of the bundle the settings name (downloaded from MLflow if needed)."""
    mc: ModelsConfig = settings.models
    source = mc.source
    if source and not source.startswith("models:/"):
        path = Path(source)
        if not path.exists():
            raise ModelMissingError(f"{path}: no such model bundle folder")
        return path
    if source:
        name, _, version = source.removeprefix("models:/").partition("/")
    else:
        name, version = mc.registered_name, "latest"
        store = settings.runs_dir / "mlruns"
        if not mc.tracking_uri and not store.exists():
            raise ModelMissingError(_train_hint(settings))  # fail fast, without importing mlflow
    mlflow = _mlflow(settings)
    client = mlflow.MlflowClient()
    try:
        versions = client.search_model_versions(f"name='{name}'")
    except Exception:
        versions = []
    if version in ("", "latest"):
        if not versions:
            raise ModelMissingError(_train_hint(settings))
        chosen = max(versions, key=lambda v: int(v.version))
    else:
        chosen = next((v for v in versions if v.version == version), None)
        if chosen is None:
            raise ModelMissingError(
                f"model {name!r} has no version {version}; {_train_hint(settings)}"
            )
    return Path(mlflow.artifacts.download_artifacts(artifact_uri=chosen.source))


def load_bundle(settings: Settings) -> Any:
    """The ``ModelBundle`` the settings name."""
    return load_bundle_folder(resolve(settings), settings.models.threads)


def log_training_run(
    settings: Settings, folder: Path, params: dict, metrics: dict, tags: dict
) -> dict:
    """Log a training run (parameters, metrics, tags, the bundle) and register the bundle."""
    mlflow = _mlflow(settings)
    mlflow.set_experiment(settings.models.experiment)
    client = mlflow.MlflowClient()
    with mlflow.start_run() as run:
        mlflow.log_params(params)
        mlflow.log_metrics(metrics)
        mlflow.set_tags(tags)
        mlflow.log_artifacts(str(folder), "model")
        name = settings.models.registered_name
        try:
            client.get_registered_model(name)
        except Exception:
            client.create_registered_model(name)
        mv = client.create_model_version(
            name, source=f"{run.info.artifact_uri}/model", run_id=run.info.run_id
        )
    return {
        "run_id": run.info.run_id,
        "tracking_uri": tracking_uri(settings),
        "model": f"models:/{name}/{mv.version}",
    }

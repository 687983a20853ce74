"""Transformer sanity, export fidelity, training with MLflow, and the models in the dataflow."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from dataflows.sinks import read_table  # noqa: E402
from flowsense.commands.replay import run_replay  # noqa: E402
from flowsense.models.artifacts import load_bundle, load_bundle_folder  # noqa: E402
from flowsense.models.dataset import load_features  # noqa: E402
from flowsense.models.metrics import classification, pnl_curve  # noqa: E402
from flowsense.settings import Settings  # noqa: E402
from operators.hawkes import HawkesParams  # noqa: E402
from operators.labels import event_labels  # noqa: E402
from operators.model_inputs import InputState  # noqa: E402
from operators.transformer import OrderFlowTransformer, export, predict_proba  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
LOBSTER = ROOT.parent / "shared" / "data" / "lobster"
PARAMS = HawkesParams(np.array([0.3, 0.3]), np.array([[0.3, 0.1], [0.1, 0.3]]), 2.0)


@pytest.fixture(scope="module")
def two_symbols(tmp_path_factory) -> Path:
    """First 6 000 rows of AMZN and GOOG (5 levels): a tiny two-symbol day."""
    folder = tmp_path_factory.mktemp("two")
    for symbol in ("AMZN", "GOOG"):
        for kind in ("message", "orderbook"):
            name = f"{symbol}_2012-06-21_34200000_57600000_{kind}_5.csv"
            with open(LOBSTER / name) as f:
                (folder / name).write_text("".join(next(f) for _ in range(6_000)))
    return folder


def _rows(path: Path, horizon: int = 10):
    f = load_features(path)["AMZN"]
    x, _ = InputState(PARAMS).update(f)
    y, valid = event_labels(f["mid"], horizon)
    return x, y, valid


def test_transformer_overfits_a_tiny_real_batch(two_symbols):
    x, y, valid = _rows(two_symbols)
    torch.manual_seed(0)
    model = OrderFlowTransformer(x.shape[1], 8, dropout=0.0)
    model.set_scaler(x)
    ctx = model.context_rows
    starts = [500, 1500, 2500, 3500]
    xb = torch.from_numpy(np.stack([x[t - ctx : t + 32] for t in starts]))
    yb = torch.from_numpy(np.stack([y[t : t + 32] + 1 for t in starts]).astype(np.int64))
    assert all(valid[t : t + 32].all() for t in starts)
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    for _ in range(200):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(xb)[:, ctx:].reshape(-1, 3), yb.ravel())
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        acc = (model(xb)[:, ctx:].argmax(-1) == yb).float().mean().item()
    assert acc >= 0.95, acc


def test_exported_artifact_gives_the_eager_outputs_whatever_the_batching(two_symbols, tmp_path):
    x, _, _ = _rows(two_symbols)
    torch.manual_seed(1)
    model = OrderFlowTransformer(x.shape[1], 8)
    model.set_scaler(x)
    model.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.save(export(model), str(tmp_path / "m.pt"))
        loaded = torch.jit.load(str(tmp_path / "m.pt"))
    rows = x[:1200]
    none = rows[:0]
    eager = predict_proba(model, none, rows)
    assert eager.std(axis=0).min() > 0  # not a constant output
    np.testing.assert_allclose(predict_proba(loaded, none, rows), eager, rtol=1e-5, atol=1e-6)
    # Batches of 1, 7 and 300 rows with their context rows: the same outputs.
    for size in (1, 7, 300):
        parts = [
            predict_proba(loaded, rows[:i], rows[i : min(i + size, 300)])
            for i in range(0, 300, size)
        ]
        np.testing.assert_allclose(np.concatenate(parts), eager[:300], rtol=1e-5, atol=1e-6)
    # A row sees only the context_rows rows before it: changing an older row changes nothing.
    ctx = model.context_rows
    other = rows.copy()
    other[600 - ctx - 1] += 5.0
    np.testing.assert_allclose(predict_proba(loaded, none, other)[600:], eager[600:], atol=1e-6)
    assert not np.allclose(predict_proba(loaded, none, other)[600 - 1], eager[600 - 1])


def test_metrics_by_hand():
    y = np.array([-1, -1, 0, 0, 0, 1, 1, 1])
    p = np.array([-1, 0, 0, 0, 1, 1, 1, -1])
    m = classification(y, p, None)
    # down: P 1/2 R 1/2; flat: P 2/3 R 2/3; up: P 2/3 R 2/3
    assert m["accuracy"] == pytest.approx(5 / 8)
    assert m["macro_f1"] == pytest.approx((0.5 + 2 / 3 + 2 / 3) / 3)
    assert m["per_class"]["down"]["precision"] == pytest.approx(0.5)
    proba = np.full((8, 3), 1 / 3)
    assert classification(y, p, proba)["log_loss"] == pytest.approx(np.log(3))
    assert pnl_curve(np.array([1, -1, 0, 1]), np.array([10.0, 11.0, 10.5, 12.0])).tolist() == [
        1.0,
        1.5,
        1.5,
        1.5,
    ]


@pytest.fixture(scope="module")
def trained(two_symbols, tmp_path_factory):
    from flowsense.models.training import train

    runs = tmp_path_factory.mktemp("runs")
    settings = Settings(
        runs_dir=runs,
        models={"window": 8, "horizon": 10, "epochs": 1, "max_windows": 1_500},
        replay={"batch_size": 1_000},
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        report = train(settings, two_symbols)
    return settings, report


def test_training_logs_and_registers_the_model(trained, two_symbols):
    settings, report = trained
    assert report["model"] == "models:/flowsense-orderflow/1"
    assert report["symbols"] == ["AMZN", "GOOG"]
    mlflow = pytest.importorskip("mlflow")
    run = mlflow.MlflowClient(report["tracking_uri"]).get_run(report["run_id"])
    assert run.data.params["window"] == "8"
    assert run.data.tags["data_fingerprint"] == report["data_fingerprint"]
    assert "val_ensemble_macro_f1" in run.data.metrics
    # Loading by registry name/version and by path gives the same model.
    from_registry = load_bundle(settings)
    from_path = load_bundle_folder(Path(report["bundle"]))
    assert from_registry.hawkes.to_dict() == from_path.hawkes.to_dict()
    assert from_registry.window == 8 and from_registry.stacker is not None


@pytest.mark.parametrize("predictor", ["hawkes", "transformer", "ensemble"])
def test_dataflow_with_the_models_predicts_for_every_symbol(trained, two_symbols, predictor):
    settings, _ = trained
    settings = settings.model_copy(
        update={"replay": settings.replay.model_copy(update={"predictor": predictor})}
    )
    out = settings.runs_dir / f"replay-{predictor}"
    summary = run_replay(settings, two_symbols, run_dir=out)
    assert summary["predictions"] == summary["events"] == 12_000
    preds = read_table(out, "predictions")
    assert preds.group_by("symbol").len().sort("symbol").rows() == [("AMZN", 6000), ("GOOG", 6000)]
    assert preds["model"].unique().to_list() == [predictor]
    probs = preds.select("p_down", "p_flat", "p_up").to_numpy()
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-6)
    assert np.array_equal(preds["direction"].to_numpy(), probs.argmax(1) - 1)
    if predictor == "ensemble":
        for col in ("ofi_direction", "hawkes_confidence", "transformer_direction"):
            assert col in preds.columns


def test_model_predictions_do_not_depend_on_batching(trained, two_symbols):
    from operators.predictors import make_predictor

    _settings, report = trained
    bundle = load_bundle_folder(Path(report["bundle"]))
    f = load_features(two_symbols)["GOOG"]
    whole = make_predictor("ensemble", bundle).update(f).columns["p_up"]
    p = make_predictor("ensemble", bundle)
    from flowsense.models.dataset import slice_batch

    parts = [
        p.update(slice_batch(f, slice(i, i + 777))).columns["p_up"] for i in range(0, 6000, 777)
    ]
    np.testing.assert_allclose(np.concatenate(parts), whole, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ["transformer", "ensemble"])
def test_a_snapshot_resumes_the_models_where_they_stopped(trained, two_symbols, name):
    """Recovery pickles a predictor mid-stream: the copy refers to the shared bundle (a
    TorchScript module does not pickle) and goes on exactly as the original."""
    import pickle

    from flowsense.models.dataset import slice_batch
    from operators.ensemble import share
    from operators.predictors import make_predictor

    _settings, report = trained
    bundle = share(load_bundle_folder(Path(report["bundle"])))
    f = load_features(two_symbols)["GOOG"]
    p = make_predictor(name, bundle)
    p.update(slice_batch(f, slice(0, 3000)))
    snapshot = pickle.dumps(p)
    assert len(snapshot) < 1_000_000  # the state, not the model
    rest = slice_batch(f, slice(3000, 6000))
    resumed = pickle.loads(snapshot)
    np.testing.assert_array_equal(
        resumed.update(rest).columns["p_up"], p.update(rest).columns["p_up"]
    )


def test_evaluate_reports_every_model_and_baseline(trained, two_symbols, tmp_path):
    from flowsense.models.evaluation import evaluate

    settings, report = trained
    bundle = load_bundle_folder(Path(report["bundle"]))
    res = evaluate(settings, two_symbols, bundle, tmp_path, symbols=["GOOG"])
    assert set(res["results"]) == {
        "majority",
        "last_move",
        "ofi_sign",
        "hawkes",
        "transformer",
        "ensemble",
    }
    assert res["symbols"] == ["GOOG"] and res["rows_scored"] == 6000 - 10
    assert all(Path(p).stat().st_size > 10_000 for p in res["plots"])
    maj = res["results"]["majority"]
    assert maj["accuracy"] == pytest.approx(max(res["class_share"].values()))
    json.dumps(res)


def test_missing_model_is_one_line_and_exit_2(two_symbols, tmp_path):
    env = {"FLOWSENSE_RUNS_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    for args in (
        ["replay", "--data", str(two_symbols), "--predictor", "ensemble"],
        ["evaluate", "--data", str(two_symbols)],
    ):
        res = subprocess.run(
            [str(ROOT / ".venv" / "bin" / "flowsense"), *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
        )
        assert res.returncode == 2, res.stderr
        assert res.stderr.strip().count("\n") == 0
        assert "run `flowsense train" in res.stderr


def test_default_replay_imports_neither_torch_nor_mlflow(two_symbols, tmp_path):
    code = (
        "import sys; from pathlib import Path; from flowsense.settings import Settings; "
        "from flowsense.commands.replay import run_replay; "
        f"run_replay(Settings(runs_dir=Path({str(tmp_path)!r})), Path({str(two_symbols)!r})); "
        "print(sorted(m for m in ('torch', 'mlflow') if m in sys.modules))"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().splitlines()[-1] == "[]"


def test_evaluate_json_is_one_object(trained, two_symbols, tmp_path):
    _, report = trained
    env = {"FLOWSENSE_RUNS_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    res = subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "flowsense"),
            "evaluate",
            "--data",
            str(two_symbols),
            "--model",
            report["bundle"],
            "--symbol",
            "AMZN",
            "--out",
            str(tmp_path / "ev"),
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert res.returncode == 0, res.stderr
    (line,) = res.stdout.strip().splitlines()
    out = json.loads(line)
    assert out["symbols"] == ["AMZN"] and out["rows_scored"] == 6000 - 10
    assert (tmp_path / "ev" / "pnl.png").exists()

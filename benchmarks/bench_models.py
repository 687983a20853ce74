"""Hawkes fit time against event count, and model inference latency per batch, on CPU.

    .venv/bin/python benchmarks/bench_models.py [--model BUNDLE] [--threads 1] [--json]

1. Hawkes: one log-likelihood + gradient pass (the O(n) recursion) and a whole
   maximum-likelihood fit on Ogata-simulated paths of growing length; the
   exponent of a log-log fit of time against n (1 = linear). The baseline is
   the textbook O(n^2) likelihood (NumPy, one vector per event) on the same
   events, as far as it runs in reasonable time.
2. Inference: the ``predict`` step's state (``TransformerPredictor`` and
   ``EnsemblePredictor``, the code the dataflow runs per batch) on real
   feature batches of 1 to 1024 rows, p50/p99 per batch over many calls;
   and the whole replay dataflow's events/s with each predictor, against
   the OFI baseline in the same run.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import best_of, machine  # noqa: E402
from flowsense.settings import SHARED_DATA, Settings  # noqa: E402
from operators.hawkes import HawkesParams, fit, loglik_grad, simulate  # noqa: E402

TRUE = HawkesParams(np.array([0.5, 0.4]), np.array([[0.3, 0.2], [0.1, 0.4]]), 3.0)


def naive_loglik(times: np.ndarray, marks: np.ndarray, horizon: float, p: HawkesParams) -> float:
    """O(n^2): every event's intensity summed over all earlier events."""
    ll = 0.0
    for k in range(len(times)):
        dt = times[k] - times[:k]
        lam = p.mu[marks[k]] + (p.alpha[marks[k], marks[:k]] * p.beta * np.exp(-p.beta * dt)).sum()
        ll += np.log(lam)
    comp = p.mu.sum() * horizon
    for i in range(2):
        comp += (p.alpha[i, marks] * (1 - np.exp(-p.beta * (horizon - times)))).sum()
    return ll - comp


def bench_hawkes(repeat: int) -> list[dict]:
    rows = []
    loglik_grad(*simulate(TRUE, 10.0), 10.0, TRUE.mu, TRUE.alpha, TRUE.beta)  # compile
    for horizon in (2_500.0, 5_000.0, 10_000.0, 20_000.0, 40_000.0, 80_000.0, 160_000.0):
        times, marks = simulate(TRUE, horizon, seed=1)
        n = len(times)
        one = best_of(
            lambda t=times, m=marks, h=horizon: loglik_grad(
                t, m, h, TRUE.mu, TRUE.alpha, TRUE.beta
            ),
            repeat * 5,
        )
        fit_s = best_of(lambda t=times, m=marks, h=horizon: fit(t, m, h), repeat)
        naive = (
            best_of(lambda t=times, m=marks, h=horizon: naive_loglik(t, m, h, TRUE), 1)
            if n <= 20_000
            else None
        )
        rows.append({"events": n, "loglik_grad_s": one, "fit_s": fit_s, "naive_loglik_s": naive})
        print(
            f"hawkes n={n:,}: loglik+grad {one * 1e3:.2f} ms, fit {fit_s:.3f} s, "
            f"naive {naive if naive is None else round(naive, 3)} s",
            file=sys.stderr,
        )
    return rows


def exponent(ns: list[int], ts: list[float]) -> float:
    """Slope of log(time) against log(n): 1 for linear, 2 for quadratic."""
    return float(np.polyfit(np.log(ns), np.log(ts), 1)[0])


def _bundle(path: Path | None, threads: int):
    """A trained bundle, or the default architecture with random weights (same cost)."""
    import torch

    from flowsense.models.artifacts import load_bundle_folder
    from operators.ensemble import ModelBundle, Stacker, stack_inputs
    from operators.model_inputs import input_names
    from operators.transformer import OrderFlowTransformer, export

    torch.set_num_threads(threads)
    if path is not None:
        return load_bundle_folder(path, threads), str(path)
    d, window = len(input_names()), Settings().models.window
    model = OrderFlowTransformer(d, window)
    k = stack_inputs(np.zeros(1), np.zeros(1), np.full((1, 3), 1 / 3)).shape[1]
    stacker = Stacker(np.zeros((3, k)), np.zeros(3))
    return ModelBundle(TRUE, export(model), window, stacker), "untrained (random weights)"


def bench_inference(bundle, sizes: list[int], calls: int) -> list[dict]:
    from flowsense.models.dataset import load_features, slice_batch
    from operators.predictors import make_predictor

    features = load_features(SHARED_DATA / "binance" / "spot_ethusdt_20240808.gz")["ETHUSDT"]
    out = []
    for name in ("transformer", "ensemble"):
        for size in sizes:
            pred = make_predictor(name, bundle)
            pred.update(slice_batch(features, slice(0, bundle.window)))  # warm: tail, JIT
            lat = []
            start = bundle.window
            for _ in range(min(calls, max(100, 50_000 // size))):
                if start + size > len(features):
                    start = bundle.window
                batch = slice_batch(features, slice(start, start + size))
                t = time.perf_counter()
                pred.update(batch)
                lat.append(time.perf_counter() - t)
                start += size
            lat_ms = np.array(lat) * 1e3
            row = {
                "predictor": name,
                "rows_per_batch": size,
                "p50_ms": float(np.percentile(lat_ms, 50)),
                "p99_ms": float(np.percentile(lat_ms, 99)),
                "rows_per_s": float(size / np.median(lat)),
            }
            out.append(row)
            print(
                f"{name} batch {size}: p50 {row['p50_ms']:.3f} ms p99 {row['p99_ms']:.3f} ms",
                file=sys.stderr,
            )
    return out


def bench_replay(model: Path | None) -> list[dict]:
    """Whole replay dataflow (ETHUSDT 08-08 + 08-09, one worker) per predictor."""
    from flowsense.commands.replay import run_replay

    data = Path(tempfile.mkdtemp())
    for day in ("20240808", "20240809"):
        (data / f"spot_ethusdt_{day}.gz").symlink_to(
            SHARED_DATA / "binance" / f"spot_ethusdt_{day}.gz"
        )
    rows = []
    # The first replay pays the parse of the input into the feed cache and the Numba load:
    # run the baseline once before timing anything.
    for predictor in ("warm-up", "ofi", "hawkes", "transformer", "ensemble"):
        if predictor in ("transformer", "ensemble") and model is None:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            base = Settings(runs_dir=Path(tmp))
            s = base.model_copy(
                update={
                    "replay": base.replay.model_copy(
                        update={"predictor": predictor.replace("warm-up", "ofi"), "batch_size": 256}
                    ),
                    "models": base.models.model_copy(update={"source": str(model or "")}),
                }
            )
            summary = run_replay(s, data, run_dir=Path(tmp) / "run")
        if predictor == "warm-up":
            continue
        rows.append(
            {
                "predictor": predictor,
                "events": summary["events"],
                "events_per_s": summary["events_per_s"],
            }
        )
        print(f"replay {predictor}: {summary['events_per_s']:,} events/s", file=sys.stderr)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=Path, help="A trained bundle folder (default: random weights).")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    warnings.simplefilter("ignore", FutureWarning)
    hawkes = bench_hawkes(args.repeat)
    bundle, what = _bundle(args.model, args.threads)
    inference = bench_inference(bundle, [1, 16, 64, 256, 1024], args.calls)
    replay = bench_replay(args.model)
    ns = [r["events"] for r in hawkes]
    naive = [r for r in hawkes if r["naive_loglik_s"]]
    report = {
        "machine": machine(),
        "torch_threads": args.threads,
        "model": what,
        "hawkes": hawkes,
        "hawkes_exponent_loglik": exponent(ns, [r["loglik_grad_s"] for r in hawkes]),
        "hawkes_exponent_fit": exponent(ns, [r["fit_s"] for r in hawkes]),
        "naive_exponent": exponent(
            [r["events"] for r in naive], [r["naive_loglik_s"] for r in naive]
        ),
        "inference": inference,
        "replay": replay,
    }
    if args.json:
        print(json.dumps(report))
        return
    print(f"machine: {report['machine']}; torch threads {args.threads}; model {what}")
    print("| events | loglik+grad (ms) | ns/event | whole fit (s) | naive O(n^2) (s) | x naive |")
    print("|---:|---:|---:|---:|---:|---:|")
    for r in hawkes:
        one, naive_s = r["loglik_grad_s"], r["naive_loglik_s"]
        naive_txt = "" if naive_s is None else f"{naive_s:.2f}"
        ratio_txt = "" if naive_s is None else f"{naive_s / one:,.0f}"
        print(
            f"| {r['events']:,} | {one * 1e3:.2f} | {one / r['events'] * 1e9:.0f} | "
            f"{r['fit_s']:.3f} | {naive_txt} | {ratio_txt} |"
        )
    print(
        f"log-log slope: loglik+grad {report['hawkes_exponent_loglik']:.2f}, "
        f"fit {report['hawkes_exponent_fit']:.2f}, naive {report['naive_exponent']:.2f}"
    )
    print("| predictor | rows/batch | p50 (ms) | p99 (ms) | rows/s |")
    print("|---|---:|---:|---:|---:|")
    for r in inference:
        print(
            f"| {r['predictor']} | {r['rows_per_batch']} | {r['p50_ms']:.3f} | "
            f"{r['p99_ms']:.3f} | {r['rows_per_s']:,.0f} |"
        )
    base = next(r for r in replay if r["predictor"] == "ofi")["events_per_s"]
    print("| replay predictor | events/s | x ofi |")
    print("|---|---:|---:|")
    for r in replay:
        print(f"| {r['predictor']} | {r['events_per_s']:,} | {r['events_per_s'] / base:.2f} |")


if __name__ == "__main__":
    main()

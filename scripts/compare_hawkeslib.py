"""Our Hawkes likelihood and fit against hawkeslib (an established library) on the same events.

    .venv/bin/python scripts/compare_hawkeslib.py --hawkeslib-python /tmp/hkvenv/bin/python

hawkeslib needs NumPy < 2 and Cython, so it lives in a side environment
(``uv venv /tmp/hkvenv; uv pip install cython "numpy<2" scipy setuptools;
uv pip install --no-build-isolation hawkeslib``) and is called as a
subprocess. It is univariate, so the comparison is on paths where the two
event types do not excite each other: (1) our bivariate log-likelihood with
no type-1 events equals hawkeslib's univariate log-likelihood; (2) on a
path without cross-excitation, our joint fit of the type-0 parameters
matches hawkeslib's fit of the type-0 events alone.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from operators.hawkes import HawkesParams, fit, log_likelihood, simulate

SIDE = """
import json, sys, numpy as np
from hawkeslib import UnivariateExpHawkesProcess as U
d = np.load(sys.argv[1])
t, T = d["t"], float(d["T"])
p = U(); p.set_params(float(d["mu"]), float(d["alpha"]), float(d["beta"]))
ll = p.log_likelihood(t, T)
q = U(); q.fit(d["t0"], float(d["T0"]))
mu, alpha, theta = q.get_params()
print(json.dumps({"loglik": float(ll), "fit": [float(mu), float(alpha), float(theta)]}))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hawkeslib-python", required=True)
    args = ap.parse_args()
    uni = HawkesParams(np.array([0.6, 0.0]), np.array([[0.5, 0.0], [0.0, 0.0]]), 2.0)
    t, _ = simulate(uni, 3_000.0, seed=7)
    ours_ll = log_likelihood(t, np.zeros(len(t), np.int64), 3_000.0, uni)
    sep = HawkesParams(np.array([0.5, 0.4]), np.array([[0.4, 0.0], [0.0, 0.3]]), 3.0)
    times, marks = simulate(sep, 20_000.0, seed=3)
    ours = fit(times, marks, 20_000.0)
    with tempfile.TemporaryDirectory() as tmp:
        npz = Path(tmp) / "events.npz"
        np.savez(
            npz, t=t, T=3_000.0, mu=0.6, alpha=0.5, beta=2.0, t0=times[marks == 0], T0=20_000.0
        )
        out = subprocess.run(
            [args.hawkeslib_python, "-c", SIDE, str(npz)],
            capture_output=True,
            text=True,
            check=True,
        )
    lib = json.loads(out.stdout.strip().splitlines()[-1])
    report = {
        "loglik_events": len(t),
        "loglik_ours": ours_ll,
        "loglik_hawkeslib": lib["loglik"],
        "fit_events_type0": int((marks == 0).sum()),
        "true_type0": {"mu": 0.5, "alpha": 0.4, "beta": 3.0},
        "ours_type0": {
            "mu": ours.mu[0],
            "alpha": ours.alpha[0, 0],
            "beta": ours.beta,
            "cross": ours.alpha[0, 1],
        },
        "hawkeslib_type0": dict(zip(("mu", "alpha", "beta"), lib["fit"], strict=True)),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

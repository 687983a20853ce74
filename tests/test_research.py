"""OFI price impact against the independent reference figures of ../shared/data/README.md."""

from __future__ import annotations

import numpy as np
import pytest

from flowsense.commands.research import ofi_impact_report
from operators.impact import ols
from tests.conftest import lobster

# CKS protocol on this day (data README): mean R² over the 13 half-hour windows,
# and one fit over the whole day, best-level OFI over 10 s bars.
REFERENCE = {"AMZN": (0.50, 0.32), "GOOG": (0.41, 0.16)}


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    plot = tmp_path_factory.mktemp("plots") / "impact.png"
    return ofi_impact_report(lobster("AMZN", "message", 1).parent, plot=plot)


@pytest.mark.parametrize("symbol", ["AMZN", "GOOG"])
def test_ofi_r2_matches_the_published_reference(report, symbol):
    mean_r2, day_r2 = REFERENCE[symbol]
    ofi = report["symbols"][symbol]["ofi"]
    assert ofi["windows"] == 13
    assert ofi["mean_r2"] == pytest.approx(mean_r2, abs=0.03)
    assert ofi["all"]["r2"] == pytest.approx(day_r2, abs=0.01)
    assert ofi["all"]["beta"] > 0 and ofi["all"]["t_stat"] > 10


@pytest.mark.parametrize("symbol", ["AMZN", "GOOG"])
def test_ofi_explains_more_than_trade_imbalance_per_window(report, symbol):
    s = report["symbols"][symbol]
    assert s["ofi"]["mean_r2"] > s["trade_imbalance"]["mean_r2"]


def test_plot_is_written(report):
    with open(report["plot"], "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_ols_matches_the_normal_equations():
    rng = np.random.default_rng(7)
    x = rng.normal(size=500)
    y = 2.5 * x + 1.0 + rng.normal(scale=0.5, size=500)
    fit = ols(x, y)
    design = np.column_stack([np.ones_like(x), x])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    resid = y - design @ coef
    r2 = 1 - resid @ resid / ((y - y.mean()) @ (y - y.mean()))
    se = np.sqrt(resid @ resid / (len(x) - 2) / ((x - x.mean()) @ (x - x.mean())))
    assert (fit.alpha, fit.beta) == pytest.approx(tuple(coef))
    assert fit.r2 == pytest.approx(r2)
    assert fit.t_stat == pytest.approx(coef[1] / se)

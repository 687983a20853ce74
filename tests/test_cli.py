"""The command line: --json is one object equal to the library's; bad input is one line, exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest

from flowsense.cli import main
from flowsense.commands.features import features_report
from flowsense.commands.replay import parse_speed
from flowsense.errors import InputError
from flowsense.options import parse_duration


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def flowsense(monkeypatch, capsys):
    """Run the real entry point in this process (``main()`` with ``sys.argv``)."""

    def run(*args: str, cwd: Path | None = None) -> Result:
        if cwd is not None:
            monkeypatch.chdir(cwd)
        monkeypatch.setattr(sys, "argv", ["flowsense", *args])
        capsys.readouterr()
        try:
            main()
            code = 0
        except SystemExit as e:
            code = int(e.code or 0)
        out = capsys.readouterr()
        return Result(code, out.out, out.err)

    return run


def test_entry_point_runs_as_a_program(lobster_sample, tmp_path):
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "flowsense",
            "features",
            str(lobster_sample("AMZN", 1, 10)),
            "--out",
            str(tmp_path / "x.txt"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 2
    assert (
        res.stderr.strip()
        == f"flowsense: error: {tmp_path / 'x.txt'}: output must end in .parquet or .csv"
    )


def test_features_json_equals_the_library_report(flowsense, lobster_sample, tmp_path):
    path = lobster_sample("AMZN", 5, 3000)
    res = flowsense(
        "features", str(path), "--out", str(tmp_path / "cli.parquet"), "--levels", "3", "--json"
    )
    assert res.returncode == 0, res.stderr
    got = json.loads(res.stdout)  # exactly one JSON document on stdout
    want = features_report(path, tmp_path / "lib.parquet", 3, None)
    assert {k: v for k, v in got.items() if k != "out"} == {
        k: v for k, v in want.items() if k != "out"
    }
    assert pl.read_parquet(tmp_path / "cli.parquet").equals(
        pl.read_parquet(tmp_path / "lib.parquet")
    )
    assert got["columns"][-5:] == ["ofi_2", "ofi_3", "bid_depth", "ask_depth", "trade_sz"]


def test_bars_from_the_cli(flowsense, lobster_sample, tmp_path):
    path = lobster_sample("GOOG", 10, 5000)
    res = flowsense(
        "features", str(path), "--bar", "10s", "--out", str(tmp_path / "bars.parquet"), "--json"
    )
    assert res.returncode == 0, res.stderr
    bars = pl.read_parquet(tmp_path / "bars.parquet")
    assert {"ts_event", "symbol", "ofi", "dmid", "n_events", "trade_imbalance"} <= set(bars.columns)
    assert (bars["ts_event"] % 10**10 == 0).all()
    assert bars["n_events"].sum() == 5000


@pytest.mark.parametrize(
    "args",
    [
        ["features", "/no/such/file.csv", "--out", "x.parquet"],
        ["features", "{sample}", "--out", "x.txt"],
        ["features", "{sample}", "--out", "x.parquet", "--bar", "10q"],
        ["features", "{sample}", "--out", "x.parquet", "--levels", "0"],
        ["features"],
        ["features", "{sample}", "--out", "x.parquet", "--bogus"],
        ["replay", "--data", "{sample}", "--predictor", "nope"],
        ["replay", "--data", "{sample}", "--speed", "fast"],
        ["research", "ofi-impact", "/no/such/folder"],
        ["risk", "reset"],
        ["risk", "reset", "--operator", " "],
        ["serve", "--embedded", "--workers", "2"],
        ["replay", "--from-kafka", "ticks.raw", "--start", "yesterday"],
        ["replay", "--start", "2026-01-01T00:00:00"],
        ["replay", "--from-kafka", "ticks.raw", "--data", "{sample}"],
        ["replay", "--from-kafka", "ticks.raw", "--speed", "1x"],
        ["replay", "--from-kafka", "ticks.raw", "--start", "2026-01-02", "--end", "2026-01-01"],
        ["serve", "--workers", "0"],
    ],
)
def test_bad_input_is_one_line_on_stderr_and_exit_2(flowsense, args, lobster_sample, tmp_path):
    sample = str(lobster_sample("AMZN", 1, 100))
    res = flowsense(*[a.replace("{sample}", sample) for a in args], cwd=tmp_path)
    assert res.returncode == 2, res.stderr
    assert res.stdout == ""
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert "Traceback" not in res.stderr


def test_risk_reset_without_kafka_is_one_line_and_exit_2(flowsense, monkeypatch):
    monkeypatch.setenv("FLOWSENSE_KAFKA__BOOTSTRAP", "127.0.0.1:1")  # nothing listens there
    res = flowsense("risk", "reset", "--operator", "alice", "--json")
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.count("\n") == 1 and "did not take the reset" in res.stderr


def test_malformed_file_is_a_clear_error(flowsense, tmp_path):
    bad = tmp_path / "junk.gz"
    bad.write_bytes(b"not gzip at all")
    res = flowsense("features", str(bad), "--out", str(tmp_path / "x.parquet"))
    assert res.returncode == 2
    assert "not a LOBSTER .csv file nor a Binance .gz capture" in res.stderr


def test_replay_json_is_one_object_with_the_summary(flowsense, lobster_sample, tmp_path):
    sample = lobster_sample("AMZN", 1, 4000)
    res = flowsense("replay", "--data", str(sample), "--run-dir", str(tmp_path / "run"), "--json")
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert summary["events"] == 4000 and summary["predictor"] == "ofi"
    assert set(summary["symbols"]) == {"AMZN"}
    assert (tmp_path / "run" / "features").is_dir()


def test_option_parsers():
    assert parse_speed("max") is None
    assert parse_speed("10x") == 10.0
    assert parse_speed("0.5x") == 0.5
    for bad in ("10", "0x", "x", "-1x"):
        with pytest.raises(InputError):
            parse_speed(bad)
    assert parse_duration("10s") == 10**10
    assert parse_duration("250ms") == 250 * 10**6
    assert parse_duration("1m") == 60 * 10**9
    with pytest.raises(InputError):
        parse_duration("0s")

"""The hand-made NumPy -> Arrow conversion of the output tables equals ``pa.array``'s."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from dataflows.tables import arrow, repeated

DTYPES = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "f4", "f8"]


@pytest.mark.parametrize("dtype", DTYPES)
def test_numbers_convert_as_pa_array_does(dtype):
    rng = np.random.default_rng(7)
    col = (rng.standard_normal(50) * 100).astype(dtype)
    if col.dtype.kind == "f":
        col[[3, 9]] = [np.nan, np.inf]  # stay values, as with pa.array, never nulls
    got, ref = arrow(col), pa.array(col)
    assert got.type == ref.type
    assert got.null_count == ref.null_count == 0
    # element by element against pa.array's, NaN equal to NaN (Array.equals says not)
    np.testing.assert_array_equal(got.to_numpy(zero_copy_only=False), ref.to_numpy())
    np.testing.assert_array_equal(got.to_numpy(zero_copy_only=False), col)


def test_strided_bool_and_empty_columns_fall_back_correctly():
    block = np.arange(30, dtype=np.int64).reshape(10, 3)
    assert arrow(block[:, 1]).to_pylist() == list(range(1, 30, 3))  # a strided view
    flags = np.array([True, False, True])
    assert arrow(flags).to_pylist() == [True, False, True]
    assert arrow(np.array([], dtype=np.float64)).to_pylist() == []


def test_repeated_text():
    col = repeated("AMZN", 3)
    assert col.type == pa.string() and col.to_pylist() == ["AMZN"] * 3

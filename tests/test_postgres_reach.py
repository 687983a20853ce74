"""The PostgreSQL service says which folder keeps its OS user out, instead of initdb failing."""

from __future__ import annotations

import pwd

from flowsense.services.postgres import _untraversable


def test_a_private_folder_above_the_runtime_is_named(tmp_path):
    nobody = pwd.getpwnam("nobody")  # owns none of these folders, in none of their groups
    private = tmp_path / "private"
    inner = private / "runtime" / "postgres"
    inner.mkdir(parents=True)
    private.chmod(0o700)
    tmp_path.chmod(0o755)
    assert _untraversable(inner, nobody) == private
    private.chmod(0o711)
    assert _untraversable(inner, nobody) is None or _untraversable(inner, nobody) not in (
        private,
        private / "runtime",
    )

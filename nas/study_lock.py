"""One process of a study at a time inside a block, across machines.

Used for the recovery of failed trials at start-up: two workers resuming one study at once
must not both re-queue the same failed candidate. PostgreSQL studies take a session advisory
lock named after the study (released by the database if the holder dies); SQLite studies live
on one machine and take an flock on a file beside the database.
"""
from __future__ import annotations

import fcntl
from contextlib import contextmanager
from typing import Iterator

from edgeformer.nas.supernet_store import advisory_lock_id, key_digest


def _lock_id(study: str) -> int:
    return advisory_lock_id(key_digest({"study-lock": study}))


@contextmanager
def study_lock(url: str, study: str) -> Iterator[None]:
    """Held by one process of `study` (at the SQLAlchemy `url`) at a time."""
    if url.startswith("postgresql"):
        import sqlalchemy as sa

        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": _lock_id(study)})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": _lock_id(study)})
                conn.commit()
        engine.dispose()
    elif url.startswith("sqlite:///") and not url.endswith(":memory:"):
        with open(url[len("sqlite:///"):] + ".lock", "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
    else:
        yield

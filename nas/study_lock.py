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
    elif sqlite_file(url):
        with file_lock(sqlite_file(url) + ".lock"):
            yield
    else:
        yield


def sqlite_file(url: str) -> str | None:
    """The database file of a SQLite URL (query options such as ?timeout= dropped); None for
    other databases and for an in-memory SQLite."""
    import sqlalchemy as sa

    u = sa.engine.make_url(url)
    return u.database if u.get_backend_name() == "sqlite" and u.database not in (None, "", ":memory:") else None


@contextmanager
def file_lock(path: str) -> Iterator[None]:
    """An flock on `path` (created empty if absent, never truncated). Each call opens its own
    file, so threads of one process exclude each other too, not only processes."""
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)

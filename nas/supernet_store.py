"""A distributed study's supernet, kept in the study's own PostgreSQL database.

Workers of one study (`edgeformer search --storage postgresql://... --study NAME` on many
machines) must score candidates with the same supernet: accuracies from different supernets
do not compare, and Optuna's sampler would mix them. So the first worker to need a supernet
takes a PostgreSQL advisory lock named after the supernet's cache key and the study, trains it and stores
the checkpoint (the bytes of supernet.pt) in a table beside Optuna's; the others wait on the
lock and load the stored bytes instead of training. The lock belongs to the trainer's database
session: a killed trainer releases it, and the next worker trains in its place.

SQLite studies live on one machine; their workers share the supernet.pt file already.
"""
from __future__ import annotations

import hashlib
import json
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

TABLE = "edgeformer_supernet"
POLL_S = 2.0


def key_digest(key: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()


def advisory_lock_id(digest: str) -> int:
    return int(digest[:15], 16)   # 60 bits: a positive PostgreSQL bigint


class SupernetStore:
    """Checkpoints (supernet.pt's bytes, metadata inside) of study `study` in TABLE of the
    database at `url` (a SQLAlchemy URL), by digest of the supernet cache key and the study's
    name: a study's workers share one supernet, a new study trains its own."""

    def __init__(self, url: str, study: str) -> None:
        import sqlalchemy as sa

        self._sa, self.study = sa, study
        self.engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        meta = sa.MetaData()
        self.table = sa.Table(TABLE, meta,
                              sa.Column("digest", sa.String(64), primary_key=True),
                              sa.Column("checkpoint", sa.LargeBinary, nullable=False),
                              sa.Column("created", sa.Float, nullable=False))
        self._meta = meta

    def digest(self, key: dict[str, Any]) -> str:
        return key_digest({**key, "study": self.study})

    @contextmanager
    def training_lock(self, digest: str, log: Callable[[str], None]) -> Iterator[None]:
        """Held while this worker fetches, or trains and stores, the supernet `digest`."""
        sa = self._sa
        with self.engine.connect() as conn:
            waited = False
            while not conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": advisory_lock_id(digest)}).scalar():
                if not waited:
                    log("supernet: another worker of this study is training it; waiting for the study database")
                    waited = True
                conn.rollback()
                time.sleep(POLL_S)
            conn.commit()
            try:
                self._create_table()
                yield
            finally:
                conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": advisory_lock_id(digest)})
                conn.commit()

    def _create_table(self) -> None:
        # One creator at a time: two workers of different studies could race on CREATE TABLE.
        with self.engine.begin() as conn:
            conn.execute(self._sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": advisory_lock_id(key_digest({TABLE: 0}))})
            self._meta.create_all(conn, checkfirst=True)

    def fetch(self, digest: str) -> bytes | None:
        sa = self._sa
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(self.table.c.checkpoint).where(self.table.c.digest == digest)).first()
        return None if row is None else bytes(row[0])

    def has(self, digest: str) -> bool:
        sa = self._sa
        with self.engine.connect() as conn:
            return conn.execute(sa.select(self.table.c.digest).where(self.table.c.digest == digest)).first() is not None

    def put(self, digest: str, checkpoint: bytes) -> None:
        with self.engine.begin() as conn:
            conn.execute(self.table.delete().where(self.table.c.digest == digest))
            conn.execute(self.table.insert().values(digest=digest, checkpoint=checkpoint, created=time.time()))

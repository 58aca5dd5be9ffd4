"""Where a study lives: the Optuna storage URL (SQLite file by default, PostgreSQL for many
processes), its study name, heartbeats, and the retry of a dead worker's trial under the study lock."""
from __future__ import annotations

from typing import TYPE_CHECKING

from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.trial import TrialState

from edgeformer.errors import UserError

if TYPE_CHECKING:
    from edgeformer.nas.study import SearchConfig

HEARTBEAT_S, GRACE_S = 2, 8   # a trial silent for GRACE_S belongs to a dead worker

MAX_RETRY = 2                 # a candidate whose trial failed is re-run at most this often


def driver(url: str) -> str:
    """postgresql:// means psycopg (v3) to SQLAlchemy 2.1; the `postgres` extra installs psycopg2."""
    import importlib.util

    if not url.startswith("postgresql://"):
        return url
    if importlib.util.find_spec("psycopg") is not None:
        return url
    if importlib.util.find_spec("psycopg2") is not None:
        return "postgresql+psycopg2://" + url[len("postgresql://"):]
    raise UserError("--storage postgresql://... needs a PostgreSQL driver: pip install 'edgeformer[postgres]'")


def study_name(cfg: SearchConfig) -> str:
    return cfg.study_name or f"{cfg.space.family}-{cfg.dataset.name}"


def storage_url(cfg: SearchConfig) -> str:
    return driver(cfg.storage or f"sqlite:///{(cfg.out / 'study.db').resolve()}")


def storage_for(cfg: SearchConfig) -> RDBStorage:
    url = storage_url(cfg)
    try:
        return ClaimOnceStorage(url, heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_S,
                          heartbeat_stale_trial_callback=LockedRetry(url),
                          engine_kwargs={"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {})
    except Exception as e:  # SQLAlchemy's connection/driver errors, Optuna's URL checks
        import sqlalchemy

        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        try:
            shown = sqlalchemy.engine.make_url(url).render_as_string(hide_password=True)
        except Exception:
            shown = url.split("@")[-1]
        raise UserError(f"--storage {shown}: cannot open the study storage: {first[:200]}") from None


class ClaimOnceStorage(RDBStorage):
    """Optuna's RDB storage, where a trial is this process's from its first moment, and a queued
    (WAITING) trial is claimed by one worker only.

    - Every trial this process creates or claims carries its `worker` user attribute from then on
      (in the creating transaction; right after a claim). A Ctrl-C or kill that lands before the
      objective runs still leaves a trial that a resume, or this process's own Ctrl-C handler,
      can tell as this worker's.
    - Optuna claims a queued trial by reading its state and writing RUNNING. PostgreSQL locks the
      row (FOR UPDATE); SQLite does not, so two threads of `--jobs N` (or two processes on one
      study.db) could both claim a queued start or retry, run it twice and fail the second tell
      ("Cannot tell a COMPLETE trial"). Here SQLite claims take an flock beside the database."""

    def __init__(self, url: str, **kwargs) -> None:
        from edgeformer.nas.study_lock import sqlite_file

        super().__init__(url, **kwargs)
        db = sqlite_file(url)
        self.claim_lock_path = db + ".claim" if db else None

    def _create_new_trial(self, study_id: int, template_trial=None):
        # The private one: Optuna's cache in front of an RDB storage calls it, not create_new_trial.
        if template_trial is None:
            from optuna.trial import create_trial

            from edgeformer.nas.study_resume import WORKER
            template_trial = create_trial(state=TrialState.RUNNING, user_attrs={"worker": WORKER})
        return super()._create_new_trial(study_id, template_trial)

    def set_trial_state_values(self, trial_id: int, state: TrialState, values=None) -> bool:
        if state != TrialState.RUNNING:
            return super().set_trial_state_values(trial_id, state, values)
        from contextlib import nullcontext

        from edgeformer.nas.study_lock import file_lock
        from edgeformer.nas.study_resume import WORKER

        with file_lock(self.claim_lock_path) if self.claim_lock_path else nullcontext():
            claimed = super().set_trial_state_values(trial_id, state, values)
            if claimed:
                self.set_trial_user_attr(trial_id, "worker", WORKER)
        return claimed


class LockedRetry:
    """Queues a failed trial's candidate again (Optuna's retry callback) unless some trial's
    retry history already holds it, under the study lock: workers that fail the same stale
    trials, or resume together, queue each failure once."""

    def __init__(self, url: str) -> None:
        self.url = url

    def __call__(self, study, trial) -> None:
        from edgeformer.nas.study_lock import study_lock

        with study_lock(self.url, study.study_name):
            ts = study.get_trials(deepcopy=False)
            # A retry lists every trial of its chain in retry_history ("failed_trial" names the first).
            if trial.number not in {n for t in ts for n in t.system_attrs.get("retry_history", ())}:
                RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY)(study, trial)

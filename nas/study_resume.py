"""Resume: a dead worker's or an interrupted trial is failed and its candidate queued again."""
from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING

from optuna.trial import TrialState

from edgeformer.nas.study_storage import GRACE_S, LockedRetry, storage_url
from edgeformer.nas.study_trials import trial_counts

if TYPE_CHECKING:
    from edgeformer.nas.study import SearchConfig

WORKER = f"{socket.gethostname()}:{os.getpid()}"


def recover(study, cfg: SearchConfig) -> None:
    """Re-run the candidates of trials a previous run left unfinished: RUNNING ones of a dead
    worker of this machine (its process is gone: no need to wait out the heartbeat grace; a
    remote worker's are failed by the heartbeat check as the study runs), and FAIL ones nothing
    re-ran yet (an interrupted trial is marked FAIL by Optuna, with no retry of its own). Each
    comes back as a WAITING trial with the same params, which the study runs first."""
    host = socket.gethostname()
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        where, _, pid = t.user_attrs.get("worker", "").rpartition(":")
        if where == host and pid.isdigit() and not _alive(int(pid)):
            study.tell(t.number, state=TrialState.FAIL, skip_if_finished=True)
    retry = LockedRetry(storage_url(cfg))
    for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,)):
        retry(study, t)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True    # another user's process
    return True


def note_resume(study, cfg: SearchConfig) -> None:
    ts = study.get_trials(deepcopy=False)
    if ts:
        c = trial_counts(study)
        cfg.log(f"resuming study {study.study_name}: " + ", ".join(f"{v} {k}" for k, v in c.items())
                + (" (a dead worker's running trials are failed and re-run: at once for this machine's, "
                   f"after {GRACE_S} s without heartbeat for others')" if c.get("running") else ""))

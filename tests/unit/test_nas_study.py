"""The study's resume rules: failed trials re-run once per failure, settings pinned to the study."""
import optuna
import pytest
from optuna.trial import TrialState

from edgeformer.data import load_dataset
from edgeformer.errors import UserError
from edgeformer.nas import study as st
from edgeformer.nas.study_resume import recover
from edgeformer.nas.study_settings import check_settings
from edgeformer.nas.study_storage import MAX_RETRY
from edgeformer.nas.memory import Budget
from edgeformer.nas.space import SPACES
from tests.conftest import postgres_url


def _cfg(tmp_path, sram=48 * 1024, **kw):
    return st.SearchConfig(SPACES["vit"], load_dataset("digits"), Budget(sram, 1 << 20), tmp_path, **kw)


def _study(cfg):
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(study_name=st.study_name(cfg), storage=st.storage_for(cfg), load_if_exists=True,
                               directions=["maximize", "minimize"])


DIMS = optuna.distributions.CategoricalDistribution((8, 16, 24))


def _fail(study, params):
    study.add_trial(optuna.trial.create_trial(state=TrialState.FAIL, params=params,
                                              distributions={k: DIMS for k in params}))


def test_a_failed_trial_is_re_run_once_per_failure_up_to_max_retry(tmp_path):
    cfg = _cfg(tmp_path)
    study = _study(cfg)
    _fail(study, {"dim": 16})
    for _ in range(2):                      # resuming twice does not queue the candidate twice
        recover(study, cfg)
    waiting = study.get_trials(states=(TrialState.WAITING,))
    assert len(waiting) == 1 and waiting[0].params == {"dim": 16}
    for n in range(MAX_RETRY):              # each re-run fails too: re-run again, MAX_RETRY times in all
        t = study.ask()                     # takes the waiting trial
        assert t.params == {"dim": 16}
        study.tell(t, state=TrialState.FAIL)
        recover(study, cfg)
        recover(study, cfg)
        expect = 1 if n + 1 < MAX_RETRY else 0
        assert len(study.get_trials(states=(TrialState.WAITING,))) == expect


def test_a_study_refuses_a_resume_under_other_settings(tmp_path):
    study = _study(_cfg(tmp_path))
    check_settings(study, _cfg(tmp_path))
    check_settings(study, _cfg(tmp_path, trials=50, jobs=2, tau_candidates=0))  # not scoring settings
    with pytest.raises(UserError, match="--sram giving sram_bytes=49152 \\(now 40960\\)"):
        check_settings(study, _cfg(tmp_path, sram=40 * 1024))
    with pytest.raises(UserError, match="--max-train"):
        check_settings(study, _cfg(tmp_path, max_train=100))


@pytest.mark.parametrize("storage", ["sqlite", "postgresql"])
def test_workers_resuming_together_queue_a_failure_once(tmp_path, storage):
    import threading
    import uuid

    cfg = _cfg(tmp_path) if storage == "sqlite" else _cfg(tmp_path, storage=postgres_url(),
                                                          study_name=f"recover-{uuid.uuid4().hex[:8]}")
    study = _study(cfg)
    for d in (8, 16, 24):
        _fail(study, {"dim": d})
    studies = [_study(cfg) for _ in range(4)]    # four workers, each with its own connection
    threads = [threading.Thread(target=recover, args=(s, cfg)) for s in studies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    waiting = study.get_trials(states=(TrialState.WAITING,))
    assert sorted(t.params["dim"] for t in waiting) == [8, 16, 24]


def test_another_family_on_the_same_study_is_refused(tmp_path):
    study = _study(_cfg(tmp_path))
    check_settings(study, _cfg(tmp_path))
    other = st.SearchConfig(SPACES["lmuformer"], load_dataset("digits"), Budget(48 * 1024, 1 << 20), tmp_path)
    with pytest.raises(UserError, match="--family giving family=vit \\(now lmuformer\\)"):
        check_settings(study, other)


def test_an_unreachable_storage_is_one_line_without_the_password(tmp_path):
    cfg = _cfg(tmp_path, storage="postgresql://user:s3cret@127.0.0.1:1/db")
    with pytest.raises(UserError) as e:
        st.storage_for(cfg)
    assert "cannot open the study storage" in str(e.value) and "s3cret" not in str(e.value)
    assert "\n" not in str(e.value)


def test_start_specs_are_queued_once_and_asked_first(tmp_path):
    """A warm start is the first trial the study asks; a resume (queued or run) adds it not again."""
    from edgeformer.nas.space_start import params_of
    from edgeformer.zoo import preset

    cfg = _cfg(tmp_path)
    params = params_of(cfg.space, preset("vit-digits"), cfg.dataset)
    study, said = _study(cfg), []
    st.enqueue_starts(study, [params], said.append)
    st.enqueue_starts(_study(cfg), [params], said.append)   # resumed before the queued trial ran
    assert len(said) == 1 and len(study.get_trials()) == 1
    trial = study.ask()
    assert cfg.space.suggest(trial, cfg.dataset) == preset("vit-digits")
    study.tell(trial, [0.5, 1.0])
    st.enqueue_starts(_study(cfg), [params], said.append)   # resumed after it ran
    assert len(said) == 1 and len(study.get_trials()) == 1


def test_a_queued_trial_is_claimed_by_one_thread_of_n_jobs(tmp_path):
    """SQLite has no row lock: without the storage's claim lock, two threads of `--jobs 4` take
    one queued start, run it twice and fail the second tell ("Cannot tell a COMPLETE trial")."""
    import time

    def objective(trial):
        x = trial.suggest_categorical("dim", (8, 16, 24))
        time.sleep(0.005)
        return float(x), 0.0

    for run in range(8):
        cfg = _cfg(tmp_path / str(run))
        cfg.out.mkdir()
        study = _study(cfg)
        for dim in (8, 16, 24):
            study.enqueue_trial({"dim": dim})
        study.optimize(objective, n_trials=8, n_jobs=4)   # raised in about 1 run of 5 before the lock
        firsts = [t.params["dim"] for t in study.get_trials()[:3]]
        assert firsts == [8, 16, 24] and all(t.state == TrialState.COMPLETE for t in study.get_trials())


@pytest.mark.parametrize("url, path", [("sqlite:////tmp/s/study.db", "/tmp/s/study.db"), ("sqlite:///rel.db", "rel.db"),
                                       ("sqlite:///s.db?timeout=10", "s.db"), ("sqlite:///:memory:", None),
                                       ("sqlite://", None), ("postgresql://u:p@host/db", None)])
def test_the_lock_files_sit_beside_the_sqlite_file_only(url, path):
    """study.db.lock and study.db.claim go beside the database file, never into a query option's name."""
    from edgeformer.nas.study_lock import sqlite_file
    assert sqlite_file(url) == path


def test_ctrl_c_fails_this_workers_running_trials_only(tmp_path):
    """Wherever a Ctrl-C lands in Optuna, this process's running trial ends FAIL (a resume re-runs
    it); another worker's running trial is left to its own process."""
    from edgeformer.nas.study_resume import WORKER

    study = _study(_cfg(tmp_path))
    ours, theirs = study.ask(), study.ask()
    # A trial is this worker's from its creation, before any objective code runs.
    assert [t.user_attrs.get("worker") for t in study.get_trials()] == [WORKER, WORKER]
    theirs.set_user_attr("worker", "elsewhere:1")
    st.fail_own_running(study)
    states = {t.number: t.state for t in study.get_trials()}
    assert states == {ours.number: TrialState.FAIL, theirs.number: TrialState.RUNNING}

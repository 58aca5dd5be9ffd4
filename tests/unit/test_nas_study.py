"""The study's resume rules: failed trials re-run once per failure, settings pinned to the study."""
import optuna
import pytest
from optuna.trial import TrialState

from edgeformer.data import load_dataset
from edgeformer.errors import UserError
from edgeformer.nas import study as st
from edgeformer.nas.memory import Budget
from edgeformer.nas.space import SPACES


def _cfg(tmp_path, sram=48 * 1024, **kw):
    return st.SearchConfig(SPACES["vit"], load_dataset("digits"), Budget(sram, 1 << 20), tmp_path, **kw)


def _study(cfg):
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(study_name=st.study_name(cfg), storage=st.storage_for(cfg), load_if_exists=True,
                               directions=["maximize", "minimize"])


def _fail(study, params):
    t = study.ask()
    for k, v in params.items():
        t.suggest_categorical(k, [v])
    study.tell(t, state=TrialState.FAIL)


def test_a_failed_trial_is_re_run_once_per_failure_up_to_max_retry(tmp_path):
    cfg = _cfg(tmp_path)
    study = _study(cfg)
    _fail(study, {"dim": 16})
    for _ in range(2):                      # resuming twice does not queue the candidate twice
        st._recover(study, cfg)
    waiting = study.get_trials(states=(TrialState.WAITING,))
    assert len(waiting) == 1 and waiting[0].params == {"dim": 16}
    for n in range(st.MAX_RETRY):           # each re-run fails too: re-run again, MAX_RETRY times in all
        t = study.ask()                     # takes the waiting trial
        assert t.params == {"dim": 16}
        study.tell(t, state=TrialState.FAIL)
        st._recover(study, cfg)
        st._recover(study, cfg)
        expect = 1 if n + 1 < st.MAX_RETRY else 0
        assert len(study.get_trials(states=(TrialState.WAITING,))) == expect


def test_a_study_refuses_a_resume_under_other_settings(tmp_path):
    study = _study(_cfg(tmp_path))
    st._check_settings(study, _cfg(tmp_path))
    st._check_settings(study, _cfg(tmp_path, trials=50, jobs=2, tau_candidates=0))  # not scoring settings
    with pytest.raises(UserError, match="--sram giving sram_bytes=49152 \\(now 40960\\)"):
        st._check_settings(study, _cfg(tmp_path, sram=40 * 1024))
    with pytest.raises(UserError, match="--max-train"):
        st._check_settings(study, _cfg(tmp_path, max_train=100))

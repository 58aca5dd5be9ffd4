"""What a stored trial says: its memory constraints, whether it is feasible, counts by state."""
from __future__ import annotations

import optuna
from optuna.trial import TrialState


def constraints(trial: optuna.trial.FrozenTrial) -> list[float]:
    return trial.user_attrs.get("constraints", [1.0, 1.0])  # <= 0 feasible (Optuna's convention)


def feasible(t: optuna.trial.FrozenTrial) -> bool:
    return t.state == TrialState.COMPLETE and all(c <= 0 for c in constraints(t))


def trial_counts(study) -> dict[str, int]:
    ts = study.get_trials(deepcopy=False)
    out = {s.name.lower(): sum(t.state == s for t in ts) for s in TrialState}
    out["feasible"] = sum(feasible(t) for t in ts)
    return {k: v for k, v in out.items() if v}

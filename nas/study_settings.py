"""A study keeps the settings its trials were scored under: resuming it with others is an error."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from edgeformer.errors import UserError

if TYPE_CHECKING:
    from edgeformer.nas.study import SearchConfig


def check_objective(study, cfg: SearchConfig) -> None:
    """A study's accuracies are all of one kind: supernet scores and trained accuracies do not mix."""
    want = "supernet" if cfg.supernet else "standalone"
    have = study.user_attrs.get("objective")
    if have is None:
        if study.get_trials(deepcopy=False):
            have = "standalone"  # studies from before the supernet
        else:
            study.set_user_attr("objective", want)
            return
    if have != want:
        flag = "--supernet" if have == "supernet" else "--no-supernet"
        raise UserError(f"study {study.study_name} holds {have} accuracies; resume it with {flag}, "
                        f"or start a new one with another --out or --study")


# What a trial's values and constraints depend on, with the flag that sets it: a study resumed
# with other settings would mix incomparable trials and judge them against another budget.
SETTINGS_FLAGS = {"family": "--family", "dataset": "--dataset", "sram_bytes": "--sram", "flash_bytes": "--flash", "core": "--board",
                  "clock_hz": "--board", "max_train": "--max-train", "seed": "--seed",
                  "supernet_epochs": "--supernet-epochs", "pool_size": "--pool", "epochs": "--epochs",
                  "supernet_distill": "--supernet-distill"}


def settings(cfg: SearchConfig) -> dict[str, Any]:
    b = cfg.budget
    out = {"family": cfg.space.family, "dataset": cfg.dataset.name, "sram_bytes": b.sram_bytes, "flash_bytes": b.flash_bytes, "core": b.core,
           "clock_hz": b.clock_hz, "max_train": cfg.max_train, "seed": cfg.seed}
    # --epochs trains each candidate only without a supernet (with one it is the tau check's).
    out.update({"supernet_epochs": cfg.supernet_epochs, "pool_size": cfg.pool_size} if cfg.supernet
               else {"epochs": cfg.epochs})
    if cfg.supernet and cfg.supernet_distill:   # recorded only when on: older studies stay resumable
        out["supernet_distill"] = True
    return out


def check_settings(study, cfg: SearchConfig) -> None:
    want = settings(cfg)
    have = study.user_attrs.get("settings")
    if have is None:   # a new study, or one from before settings were stored: these are its settings
        study.set_user_attr("settings", want)
        return
    for k, v in want.items():
        if k in have and have[k] != v:
            raise UserError(f"study {study.study_name} was run with {SETTINGS_FLAGS[k]} giving {k}={have[k]} "
                            f"(now {v}); resume it with the same settings, or start a new one with another "
                            "--out or --study")

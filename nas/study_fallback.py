"""The space's smallest specs against the budget: the smallest SRAM/flash it reaches, and the
fallback trial for a budget at the space's edge (DoesNotFit when nothing fits)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from edgeformer.errors import DoesNotFit

if TYPE_CHECKING:
    from edgeformer.nas.study import SearchConfig
    from edgeformer.nas.memory import MemoryModel


def smallest_reachable(cfg: SearchConfig, memory: MemoryModel) -> tuple[dict[str, int], dict[str, Any]]:
    """The smallest SRAM and flash over the space's corner specs, and the Optuna params of the
    fitting corner with the least SRAM (the study's fallback trial); DoesNotFit if none fits."""
    corners = cfg.space.corner_trials(cfg.dataset)
    mems = memory.many([spec for _, spec in corners])
    sram, flash = min(m["sram_bytes"] for m in mems), min(m["flash_bytes"] for m in mems)
    b = cfg.budget
    fit = [(m["sram_bytes"], params) for (params, _), m in zip(corners, mems)
           if m["sram_bytes"] <= b.sram_bytes and m["flash_bytes"] <= b.flash_bytes]
    if not fit:
        where = f"SRAM {b.sram_bytes} B / flash {b.flash_bytes} B{' of ' + b.board if b.board else ''}"
        if sram <= b.sram_bytes and flash <= b.flash_bytes:   # each fits alone, no one spec fits both
            low_sram = min((m for m in mems if m["sram_bytes"] <= b.sram_bytes), key=lambda m: m["flash_bytes"])
            low_flash = min((m for m in mems if m["flash_bytes"] <= b.flash_bytes), key=lambda m: m["sram_bytes"])
            raise DoesNotFit(f"no {cfg.space.family} candidate fits {where}: the smallest within the SRAM needs flash "
                             f"{low_sram['flash_bytes']} B, the smallest within the flash needs SRAM "
                             f"{low_flash['sram_bytes']} B")
        raise DoesNotFit(f"no {cfg.space.family} candidate fits {where}: the smallest the space reaches is SRAM "
                         f"{sram} B ({max(0, sram - b.sram_bytes)} B over) and flash {flash} B "
                         f"({max(0, flash - b.flash_bytes)} B over)")
    return {"sram_bytes": sram, "flash_bytes": flash}, min(fit, key=lambda f: f[0])[1]

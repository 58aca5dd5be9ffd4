"""plan.png: the arena over time, one rectangle per buffer (x = op index, y = byte offset)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from edgeformer.fsio import write_atomic

if TYPE_CHECKING:
    from edgeformer.export.memory import BufferReq, Plan


def plot_plan(buffers: list[BufferReq], plan: Plan, path: str | os.PathLike,
              title: str = "") -> None:
    """Write the plan as a PNG (atomically). A buffer spans ops first_op..last_op inclusive,
    drawn as [first_op, last_op + 1); in-place aliases are hatched."""
    import matplotlib  # lazy: the search imports the planner and never plots
    # A bare Figure (no pyplot) renders PNG with Agg and leaves the user's backend alone.
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    fig = Figure(figsize=(10, 5.5), dpi=110)
    ax = fig.add_subplot()
    n_ops = max((b.last_op for b in buffers), default=0) + 1
    top = max(plan.arena_bytes, plan.liveness_bound_bytes, 1)
    colours = matplotlib.colormaps["tab20"].colors
    ax.set_xlim(0, n_ops)
    ax.set_ylim(0, top * 1.08)
    fig.subplots_adjust(left=0.1, right=0.97, top=0.9, bottom=0.1)
    bbox = ax.get_window_extent()  # axes size in pixels, to label only where text fits
    ax_w, ax_h = bbox.width, bbox.height
    for k, b in enumerate(buffers):
        off, w = plan.offsets[b.name], b.last_op + 1 - b.first_op
        ax.add_patch(Rectangle((b.first_op, off), w, b.size, facecolor=colours[k % 20],
                               edgecolor="black", linewidth=0.5,
                               hatch="//" if b.alias_of else None))
        px_w, px_h = w / n_ops * ax_w, b.size / (top * 1.08) * ax_h
        if px_h >= 10 and px_w >= 6.5 * len(b.name) + 4:
            ax.text(b.first_op + w / 2, off + b.size / 2, b.name, ha="center", va="center",
                    fontsize=8, clip_on=True)
    ax.axhline(plan.arena_bytes, color="crimson", linewidth=1,
               label=f"arena {plan.arena_bytes:,} B ({plan.strategy})")
    ax.axhline(plan.liveness_bound_bytes, color="black", linestyle="--", linewidth=1,
               label=f"liveness bound {plan.liveness_bound_bytes:,} B")
    ax.set_xlabel("op index")
    ax.set_ylabel("byte offset in arena")
    gap = plan.arena_bytes / plan.liveness_bound_bytes - 1 if plan.liveness_bound_bytes else 0
    ax.set_title(title or f"{len(buffers)} buffers, gap to bound {gap:.1%}, "
                 f"no reuse {plan.no_reuse_bytes:,} B", fontsize=10, loc="left")
    # Above the axes, right: the arena top is where the interesting rectangles are.
    ax.legend(loc="lower right", bbox_to_anchor=(1, 1), ncol=2, fontsize=8, frameon=False)
    write_atomic(path, lambda fh: fig.savefig(fh, format="png"), mode="wb")

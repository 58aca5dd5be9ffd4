"""Model specs: frozen dataclasses that fully determine a network.

A spec is what the search samples, what `train --spec` reads and what a run
directory records in `spec.json`. Each family validates its own fields and
round-trips through JSON (`to_dict` / `spec_from_dict`).
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Union

from edgeformer.errors import UserError

ACTIVATIONS = ("gelu", "relu")


def _check_range(family: str, name: str, value, lo, hi) -> None:
    if not (lo <= value <= hi):
        raise UserError(f"{family} spec: field '{name}' = {value!r} is out of range; allowed {lo}..{hi}")


def _check_int(family: str, name: str, value, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise UserError(f"{family} spec: field '{name}' must be an integer in {lo}..{hi}, got {value!r}")
    _check_range(family, name, value, lo, hi)


def _check_float(family: str, name: str, value, lo: float, hi: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UserError(f"{family} spec: field '{name}' must be a number in {lo}..{hi}, got {value!r}")
    _check_range(family, name, float(value), lo, hi)


def low_rank_dim(ratio: float, d_in: int, d_out: int) -> int:
    """Inner width r of a low-rank linear d_in -> r -> d_out (ratio 1.0 means dense)."""
    return max(1, int(round(ratio * min(d_in, d_out))))


@dataclass(frozen=True)
class ViTSpec:
    """MCUFormer-style vision transformer.

    Conv patch embedding (kernel = stride = patch_size), learned position
    embedding, pre-LayerNorm blocks (MHSA + MLP), final LayerNorm, mean over
    tokens, linear head. `low_rank_ratio` < 1 factorises every block linear
    d_in -> d_out into d_in -> r -> d_out with r = ratio * min(d_in, d_out).
    `spiking_mlp` replaces the MLP activation with a single-step LIF neuron.
    """

    family: ClassVar[str] = "vit"
    in_channels: int = 3
    image_size: int = 32
    patch_size: int = 4
    dim: int = 64
    depth: int = 2
    heads: int = 4
    mlp_ratio: float = 2.0
    low_rank_ratio: float = 1.0
    activation: str = "gelu"
    num_classes: int = 10
    spiking_mlp: bool = False
    lif_threshold: float = 1.0

    def __post_init__(self) -> None:
        f = "vit"
        _check_int(f, "in_channels", self.in_channels, 1, 4)
        _check_int(f, "image_size", self.image_size, 4, 256)
        _check_int(f, "patch_size", self.patch_size, 1, 32)
        if self.image_size % self.patch_size:
            raise UserError(f"vit spec: field 'patch_size' = {self.patch_size} must divide image_size = {self.image_size}")
        _check_int(f, "dim", self.dim, 4, 1024)
        _check_int(f, "depth", self.depth, 1, 24)
        _check_int(f, "heads", self.heads, 1, 32)
        if self.dim % self.heads:
            raise UserError(f"vit spec: field 'heads' = {self.heads} must divide dim = {self.dim}")
        _check_float(f, "mlp_ratio", self.mlp_ratio, 0.25, 8.0)
        _check_float(f, "low_rank_ratio", self.low_rank_ratio, 0.05, 1.0)
        if self.activation not in ACTIVATIONS:
            raise UserError(f"vit spec: field 'activation' = {self.activation!r}; allowed {', '.join(ACTIVATIONS)}")
        _check_int(f, "num_classes", self.num_classes, 2, 1000)
        if not isinstance(self.spiking_mlp, bool):
            raise UserError(f"vit spec: field 'spiking_mlp' must be true or false, got {self.spiking_mlp!r}")
        _check_float(f, "lif_threshold", self.lif_threshold, 0.01, 10.0)

    @property
    def tokens(self) -> int:
        return (self.image_size // self.patch_size) ** 2

    @property
    def mlp_hidden(self) -> int:
        return max(1, int(round(self.dim * self.mlp_ratio)))

    @property
    def input_shape(self) -> tuple[int, ...]:
        """One sample, no batch axis: C x H x W."""
        return (self.in_channels, self.image_size, self.image_size)

    def to_dict(self) -> dict[str, Any]:
        return {"family": self.family, **dataclasses.asdict(self)}


@dataclass(frozen=True)
class LMUFormerSpec:
    """LMUFormer for sequences (N x T x F).

    Causal Conv1d patch embedding (stride 1, left padding kernel-1, so that
    streaming one step at a time is exact), then `depth` blocks of
    [LMU token mixer + residual, 1x1-conv channel mixer with BatchNorm +
    residual], mean over time, linear head. The LMU memory is the Legendre
    delay system of Voelker et al. (order `memory_order`, window `theta` steps),
    discretised by zero-order hold; its input u_t = W_u x_t has `memory_inputs`
    channels. `spiking` swaps the patch-embedding and channel-mixer activations
    for LIF neurons (threshold `lif_threshold`, leak `lif_leak`, hard reset).
    """

    family: ClassVar[str] = "lmuformer"
    in_features: int = 13
    seq_len: int = 32
    patch_channels: tuple[int, ...] = (32, 64)
    patch_kernel: int = 3
    dim: int = 64
    memory_order: int = 32
    theta: float = 32.0
    memory_inputs: int = 1
    hidden: int = 64
    mlp_ratio: float = 2.0
    depth: int = 1
    num_classes: int = 10
    spiking: bool = False
    lif_threshold: float = 1.0
    lif_leak: float = 0.5

    def __post_init__(self) -> None:
        f = "lmuformer"
        if isinstance(self.patch_channels, list):  # JSON gives lists
            object.__setattr__(self, "patch_channels", tuple(self.patch_channels))
        _check_int(f, "in_features", self.in_features, 1, 512)
        _check_int(f, "seq_len", self.seq_len, 2, 4096)
        if not isinstance(self.patch_channels, tuple) or not 1 <= len(self.patch_channels) <= 4:
            raise UserError(f"lmuformer spec: field 'patch_channels' must be a list of 1..4 widths, got {self.patch_channels!r}")
        for w in self.patch_channels:
            _check_int(f, "patch_channels[]", w, 2, 1024)
        _check_int(f, "patch_kernel", self.patch_kernel, 1, 9)
        _check_int(f, "dim", self.dim, 2, 1024)
        _check_int(f, "memory_order", self.memory_order, 1, 256)
        _check_float(f, "theta", self.theta, 1.0, 100000.0)
        _check_int(f, "memory_inputs", self.memory_inputs, 1, 64)
        _check_int(f, "hidden", self.hidden, 2, 1024)
        _check_float(f, "mlp_ratio", self.mlp_ratio, 0.25, 8.0)
        _check_int(f, "depth", self.depth, 1, 12)
        _check_int(f, "num_classes", self.num_classes, 2, 1000)
        if not isinstance(self.spiking, bool):
            raise UserError(f"lmuformer spec: field 'spiking' must be true or false, got {self.spiking!r}")
        _check_float(f, "lif_threshold", self.lif_threshold, 0.01, 10.0)
        _check_float(f, "lif_leak", self.lif_leak, 0.0, 1.0)

    @property
    def mlp_hidden(self) -> int:
        return max(1, int(round(self.dim * self.mlp_ratio)))

    @property
    def input_shape(self) -> tuple[int, ...]:
        """One sample, no batch axis: T x F."""
        return (self.seq_len, self.in_features)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["patch_channels"] = list(self.patch_channels)
        return {"family": self.family, **d}


Spec = Union[ViTSpec, LMUFormerSpec]
FAMILIES: dict[str, type] = {"vit": ViTSpec, "lmuformer": LMUFormerSpec}


# Keys a search's best.json carries beside the spec (accuracy, sizes, budget ...): metadata,
# not architecture. They are ignored; any other unknown key is refused by name, because a
# misspelt field ("depht") would otherwise train the default silently.
METADATA_KEYS = frozenset({
    "accuracy", "trial", "sram_bytes", "flash_bytes", "arena_bytes", "weights_bytes", "est_latency_ms", "macs",
    "budget", "dataset", "epochs", "study", "supernet_accuracy", "final_epochs", "final_run", "kendall_tau",
    "objective", "supernet_epochs", "params", "model", "seed",
})


def _nearest(key: str, known) -> str:
    import difflib
    close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.5)
    return f"did you mean '{close[0]}'?" if close else f"known fields: {', '.join(sorted(known))}"


def spec_from_dict(d: dict[str, Any]) -> Spec:
    """Build a spec from its JSON form; unknown families and fields are named in the error,
    with the nearest known field."""
    if not isinstance(d, dict):
        raise UserError(f"spec must be a JSON object, got {type(d).__name__}")
    family = d.get("family")
    if "family" not in d:
        raise UserError(f"spec has no 'family' field; add \"family\": one of {', '.join(FAMILIES)}")
    if not isinstance(family, str) or family not in FAMILIES:
        raise UserError(f"spec: field 'family' = {family!r}; allowed {', '.join(FAMILIES)}")
    cls = FAMILIES[family]
    known = {f.name for f in fields(cls)}
    unknown = [k for k in d if k not in known and k != "family" and k not in METADATA_KEYS]
    if unknown:
        key = unknown[0]
        raise UserError(f"{family} spec: unknown field {key!r}; {_nearest(str(key), known)} "
                        f"(remove or rename it)")
    kwargs = {k: v for k, v in d.items() if k in known}
    try:
        return cls(**kwargs)
    except TypeError as e:  # a field of an unhashable or odd type that the checks did not reach
        raise UserError(f"{family} spec: {e}") from None


def spec_to_json(spec: Spec) -> str:
    return json.dumps(spec.to_dict(), indent=2, sort_keys=True)


def load_spec(path) -> Spec:
    """A spec JSON file (e.g. a search's best.json); every failure names the file and the fix."""
    from pathlib import Path

    p = Path(path)
    if p.is_dir():
        found = sorted(q.name for q in p.glob("*.json"))[:3]
        hint = f" (it holds {', '.join(found)})" if found else ""
        raise UserError(f"--spec {p} is a folder{hint}; give the spec JSON file itself, e.g. {p / 'best.json'}")
    try:
        with open(p, encoding="utf-8") as fh:
            d = json.load(fh)
    except FileNotFoundError:
        raise UserError(f"spec file {p} does not exist; give a spec JSON file (a search's best.json "
                        "or a run's spec.json)") from None
    except PermissionError:
        raise UserError(f"spec file {p} cannot be read (permission denied); fix its permissions") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        first = str(e).splitlines()[0][:120]
        raise UserError(f"spec file {p} is not valid JSON ({first}); write a JSON object such as "
                        '{"family": "vit", ...}') from None
    except RecursionError:
        raise UserError(f"spec file {p} is nested too deeply to be a spec; write a flat JSON object") from None
    try:
        return spec_from_dict(d)
    except UserError as e:
        raise UserError(f"spec file {p}: {e}") from None

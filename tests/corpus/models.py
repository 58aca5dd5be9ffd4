"""Third-party transformer architectures in small random-init configs (nothing is downloaded).

Each factory returns a `Case`: the torch module (eval, seeded), example inputs (a tuple of
tensors, batch 1), their names, and what an input is (image, audio frames, token ids), so
the corpus can write a calibration npz of the right kind. `size` picks "small" (the tests)
or "full" (bench/corpus.py): full configs are still tiny, only deeper and wider.

Provenance: every module is built with torch.manual_seed(0) right before construction.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn


@dataclass
class Case:
    name: str
    module: nn.Module
    inputs: tuple[torch.Tensor, ...]
    input_names: tuple[str, ...]
    kind: str                       # "image" | "audio" | "tokens" | "sequence"
    vocab: int = 0                  # token models: ids are drawn from [0, vocab)
    output_names: tuple[str, ...] = ("logits",)
    meta: dict = field(default_factory=dict)


class _Logits(nn.Module):
    """A transformers model called with keyword inputs, returning one output tensor (what a
    user writes around a Hugging Face model before torch.onnx.export)."""

    def __init__(self, model: nn.Module, names: tuple[str, ...], attr: str = "logits"):
        super().__init__()
        self.model, self.names, self.attr = model, names, attr

    def forward(self, *xs):
        return getattr(self.model(**dict(zip(self.names, xs))), self.attr)


def _seed() -> None:
    torch.manual_seed(0)


def vit(size: str = "small") -> Case:
    from transformers import ViTConfig, ViTForImageClassification
    full = size == "full"
    cfg = ViTConfig(image_size=32, patch_size=8 if not full else 4, num_channels=3,
                    hidden_size=32 if not full else 64, num_hidden_layers=1 if not full else 2,
                    num_attention_heads=2 if not full else 4, intermediate_size=64 if not full else 128,
                    num_labels=10)
    _seed()
    m = ViTForImageClassification(cfg).eval()
    return Case("hf-vit", _Logits(m, ("pixel_values",)), (torch.randn(1, 3, 32, 32),), ("pixel_values",), "image")


def deit(size: str = "small") -> Case:
    from transformers import DeiTConfig, DeiTForImageClassification
    full = size == "full"
    cfg = DeiTConfig(image_size=32, patch_size=8 if not full else 4, num_channels=3,
                     hidden_size=32 if not full else 64, num_hidden_layers=1 if not full else 2,
                     num_attention_heads=2 if not full else 4, intermediate_size=64 if not full else 128,
                     num_labels=10)
    _seed()
    m = DeiTForImageClassification(cfg).eval()
    return Case("hf-deit", _Logits(m, ("pixel_values",)), (torch.randn(1, 3, 32, 32),), ("pixel_values",), "image")


def bert(size: str = "small") -> Case:
    from transformers import BertConfig, BertForSequenceClassification
    full = size == "full"
    cfg = BertConfig(vocab_size=100, hidden_size=32 if not full else 64, num_hidden_layers=1 if not full else 2,
                     num_attention_heads=2 if not full else 4, intermediate_size=64 if not full else 128,
                     max_position_embeddings=32, num_labels=4)
    _seed()
    m = BertForSequenceClassification(cfg).eval()
    ids = torch.randint(0, 100, (1, 16))
    return Case("hf-bert", _Logits(m, ("input_ids",)), (ids,), ("input_ids",), "tokens", vocab=100)


def bert_masked(size: str = "small") -> Case:
    """BERT over (input_ids, attention_mask): two integer inputs, the mask turned additive in-graph."""
    case = bert(size)
    mask = torch.ones(1, 16, dtype=torch.int64)
    mask[:, 12:] = 0   # padding at the end, as a tokenizer pads
    return Case("hf-bert-mask", _Logits(case.module.model, ("input_ids", "attention_mask")), (case.inputs[0], mask),
                ("input_ids", "attention_mask"), "tokens", vocab=100)


def roberta(size: str = "small") -> Case:
    """RoBERTa: position ids computed from the token ids in-graph (ne, cumsum, mul, add)."""
    from transformers import RobertaConfig, RobertaForSequenceClassification
    full = size == "full"
    cfg = RobertaConfig(vocab_size=100, hidden_size=32 if not full else 64, num_hidden_layers=1 if not full else 2,
                        num_attention_heads=2 if not full else 4, intermediate_size=64 if not full else 128,
                        max_position_embeddings=40, num_labels=3)
    _seed()
    m = RobertaForSequenceClassification(cfg).eval()
    return Case("hf-roberta", _Logits(m, ("input_ids",)), (torch.randint(2, 100, (1, 16)),), ("input_ids",),
                "tokens", vocab=100)


def gpt2(size: str = "small") -> Case:
    from transformers import GPT2Config, GPT2LMHeadModel
    full = size == "full"
    cfg = GPT2Config(vocab_size=64, n_positions=16, n_embd=32 if not full else 64, n_layer=1 if not full else 2,
                     n_head=2 if not full else 4, use_cache=False)
    _seed()
    m = GPT2LMHeadModel(cfg).eval()
    ids = torch.randint(0, 64, (1, 16))
    return Case("hf-gpt2", _Logits(m, ("input_ids",)), (ids,), ("input_ids",), "tokens", vocab=64)


def whisper_encoder(size: str = "small") -> Case:
    from transformers import WhisperConfig
    from transformers.models.whisper.modeling_whisper import WhisperEncoder
    full = size == "full"
    cfg = WhisperConfig(num_mel_bins=16, d_model=32 if not full else 64, encoder_layers=1 if not full else 2,
                        encoder_attention_heads=2 if not full else 4, encoder_ffn_dim=64 if not full else 128,
                        max_source_positions=16)
    _seed()
    m = WhisperEncoder(cfg).eval()
    return Case("hf-whisper-enc", _Logits(m, ("input_features",), "last_hidden_state"),
                (torch.randn(1, 16, 32),), ("input_features",), "audio", output_names=("last_hidden_state",))


def ast(size: str = "small") -> Case:
    from transformers import ASTConfig, ASTForAudioClassification
    full = size == "full"
    cfg = ASTConfig(hidden_size=32 if not full else 64, num_hidden_layers=1 if not full else 2,
                    num_attention_heads=2 if not full else 4, intermediate_size=64 if not full else 128,
                    patch_size=8, frequency_stride=8, time_stride=8, max_length=32, num_mel_bins=16, num_labels=5)
    _seed()
    m = ASTForAudioClassification(cfg).eval()
    return Case("hf-ast", _Logits(m, ("input_values",)), (torch.randn(1, 32, 16),), ("input_values",), "audio")


def mobilevit(size: str = "small") -> Case:
    from transformers import MobileViTConfig, MobileViTForImageClassification
    full = size == "full"
    px = 32 if not full else 64
    cfg = MobileViTConfig(image_size=px, num_channels=3, hidden_sizes=[16, 24, 32] if not full else [32, 48, 64],
                          neck_hidden_sizes=[8, 8, 16, 16, 24, 32, 64] if not full else [16, 16, 24, 24, 48, 64, 80],
                          num_attention_heads=2, mlp_ratio=2.0, patch_size=2, num_labels=10)
    _seed()
    m = MobileViTForImageClassification(cfg).eval()
    # transformers draws conv and BatchNorm weights ~N(0, 0.02): activations vanish by the last
    # stage and every input gives the same (zero) logits. torch's own initialisation instead:
    for mod in m.modules():
        if isinstance(mod, nn.Conv2d):
            nn.init.kaiming_normal_(mod.weight, nonlinearity="linear")
        elif isinstance(mod, nn.BatchNorm2d):
            nn.init.ones_(mod.weight)
    # 32 px: the smallest feature map (1/32) is 1x1, which MobileViT interpolates (Resize) up to
    # its 2x2 patch and back; at 64 px the patch divides it and there is no Resize
    return Case("hf-mobilevit", _Logits(m, ("pixel_values",)), (torch.randn(1, 3, px, px),), ("pixel_values",),
                "image")


class TorchEncoderClassifier(nn.Module):
    """A plain nn.TransformerEncoder classifier over feature sequences (the PyTorch tutorial's shape)."""

    def __init__(self, feat: int = 8, dim: int = 32, depth: int = 1, heads: int = 2, classes: int = 5):
        super().__init__()
        self.proj = nn.Linear(feat, dim)
        layer = nn.TransformerEncoderLayer(dim, heads, dim * 2, dropout=0.0, batch_first=True)
        self.enc = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        return self.head(self.enc(self.proj(x)).mean(1))


class TorchMHAClassifier(nn.Module):
    """nn.MultiheadAttention (packed in-projection) + LayerNorm + MLP, mean-pooled."""

    def __init__(self, feat: int = 8, dim: int = 32, heads: int = 2, classes: int = 5):
        super().__init__()
        self.proj = nn.Linear(feat, dim)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        h = self.proj(x)
        a, _ = self.attn(h, h, h, need_weights=False)
        h = self.norm(h + a)
        h = h + self.mlp(h)
        return self.head(h.mean(1))


class EinsumCausalLM(nn.Module):
    """A hand-written decoder block as research code writes it: token embedding, einsum
    attention with a causal mask built by torch.triu, two heads' outputs (next-token logits and
    the final hidden state: a model with several outputs)."""

    def __init__(self, vocab: int = 48, ctx: int = 16, dim: int = 32, heads: int = 2):
        super().__init__()
        self.heads = heads
        self.emb = nn.Embedding(vocab, dim)
        self.pos = nn.Parameter(torch.randn(1, ctx, dim) * 0.02)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.norm = nn.LayerNorm(dim)
        self.ff = nn.Sequential(nn.Linear(dim, 2 * dim), nn.SiLU(), nn.Linear(2 * dim, dim))
        self.head = nn.Linear(dim, vocab)
        self.register_buffer("causal", torch.triu(torch.ones(ctx, ctx, dtype=torch.bool), diagonal=1))

    def forward(self, ids):
        b, t = ids.shape
        h = self.emb(ids) + self.pos[:, :t]
        q, k, v = self.qkv(h).chunk(3, dim=-1)
        q, k, v = (z.reshape(b, t, self.heads, -1).transpose(1, 2) for z in (q, k, v))
        s = torch.einsum("bhqd,bhkd->bhqk", q, k) / (q.shape[-1] ** 0.5)
        s = s.masked_fill(self.causal[:t, :t], torch.finfo(s.dtype).min)
        a = torch.einsum("bhqk,bhkd->bhqd", s.softmax(-1), v).transpose(1, 2).reshape(b, t, -1)
        h = self.norm(h + self.out(a))
        h = h + self.ff(h)
        return self.head(h), h


class TimmStyleViT(nn.Module):
    """A ViT written the way timm writes one (timm itself needs torchvision, whose ops do not
    load against torch 2.13.0+cpu): conv patch embedding, class token, one packed qkv Linear
    read through reshape(B, N, 3, H, D).permute(2, 0, 3, 1, 4).unbind(0), and
    F.scaled_dot_product_attention (decomposed by both exporters); pre-LN blocks, class-token head."""

    def __init__(self, px: int = 32, patch: int = 8, dim: int = 32, depth: int = 1, heads: int = 2,
                 classes: int = 10):
        super().__init__()
        self.heads = heads
        self.patch = nn.Conv2d(3, dim, patch, patch)
        self.cls = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.pos = nn.Parameter(torch.randn(1, (px // patch) ** 2 + 1, dim) * 0.02)
        self.blocks = nn.ModuleList(nn.ModuleDict({
            "n1": nn.LayerNorm(dim), "qkv": nn.Linear(dim, 3 * dim), "proj": nn.Linear(dim, dim),
            "n2": nn.LayerNorm(dim), "fc1": nn.Linear(dim, 2 * dim), "fc2": nn.Linear(2 * dim, dim)})
            for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        x = self.patch(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], 1) + self.pos
        b, n, c = x.shape
        for blk in self.blocks:
            qkv = blk["qkv"](blk["n1"](x)).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
            q, k, v = qkv.unbind(0)
            a = nn.functional.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, n, c)
            x = x + blk["proj"](a)
            x = x + blk["fc2"](nn.functional.gelu(blk["fc1"](blk["n2"](x))))
        return self.head(self.norm(x)[:, 0])


def timm_style_vit(size: str = "small") -> Case:
    full = size == "full"
    _seed()
    m = TimmStyleViT(patch=8 if not full else 4, dim=32 if not full else 64, depth=1 if not full else 2,
                     heads=2 if not full else 4).eval()
    return Case("torch-timm-vit", m, (torch.randn(1, 3, 32, 32),), ("pixel_values",), "image")


def einsum_lm(size: str = "small") -> Case:
    _seed()
    m = EinsumCausalLM(dim=32 if size != "full" else 64).eval()
    return Case("torch-einsum-lm", m, (torch.randint(0, 48, (1, 16)),), ("ids",), "tokens", vocab=48,
                output_names=("logits", "hidden"))


def llama(size: str = "small") -> Case:
    from transformers import LlamaConfig, LlamaForCausalLM
    full = size == "full"
    cfg = LlamaConfig(vocab_size=64, hidden_size=32 if not full else 64, intermediate_size=64 if not full else 128,
                      num_hidden_layers=1 if not full else 2, num_attention_heads=2 if not full else 4,
                      num_key_value_heads=1 if not full else 2, max_position_embeddings=16, use_cache=False)
    _seed()
    m = LlamaForCausalLM(cfg).eval()
    return Case("hf-llama", _Logits(m, ("input_ids",)), (torch.randint(0, 64, (1, 16)),), ("input_ids",),
                "tokens", vocab=64)


def torch_encoder(size: str = "small") -> Case:
    _seed()
    m = TorchEncoderClassifier(depth=1 if size != "full" else 2).eval()
    return Case("torch-encoder", m, (torch.randn(1, 16, 8),), ("x",), "sequence")


def torch_mha(size: str = "small") -> Case:
    _seed()
    m = TorchMHAClassifier(dim=32 if size != "full" else 64).eval()
    return Case("torch-mha", m, (torch.randn(1, 16, 8),), ("x",), "sequence")


FACTORIES: dict[str, Callable[[str], Case]] = {
    "hf-vit": vit, "hf-deit": deit, "hf-bert": bert, "hf-gpt2": gpt2, "hf-whisper-enc": whisper_encoder,
    "hf-ast": ast, "hf-mobilevit": mobilevit, "torch-encoder": torch_encoder, "torch-mha": torch_mha,
    "torch-einsum-lm": einsum_lm, "hf-llama": llama, "hf-bert-mask": bert_masked,
    "hf-roberta": roberta, "torch-timm-vit": timm_style_vit,
}


def build(name: str, size: str = "small") -> Case:
    if name not in FACTORIES:
        raise KeyError(f"unknown corpus model {name!r}; known: {', '.join(sorted(FACTORIES))}")
    return FACTORIES[name](size)

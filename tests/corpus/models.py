"""Third-party transformer architectures in small random-init configs (nothing is downloaded).

Each factory returns a `Case`: the torch module (eval, seeded), example inputs (a tuple of
tensors, batch 1), their names, and what an input is (image, audio frames, token ids), so
the corpus can write a calibration npz of the right kind. `size` picks "small" (the tests)
or "full" (bench/corpus.py): full configs are still tiny, only deeper and wider.

The first 14 are what tests/e2e/test_corpus.py draws from; the rest (FACTORIES.update below)
widen the ONNX patterns bench/corpus.py sees: encoder variants (DistilBERT, ALBERT, MobileBERT,
DeBERTa-v2, XLM-R, SqueezeBERT, three-input BERT, T5), decoders (Qwen2, Gemma, Phi, OPT,
GPT-Neo, BLOOM), vision (Swin, BEiT, ConvNeXt, LeViT, SegFormer, torchvision-style ViT and
MobileNetV3, PoolFormer), audio (Wav2Vec2, a Conformer block) and an LSTM. Modules of
libraries that are not installed (timm, torchvision, torchaudio) are written out in their style.

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


# ---- breadth: more architectures, each for an ONNX pattern the ones above do not show ----

def _hf_text(cls_cfg, cls_model, name: str, size: str, vocab: int = 100, low: int = 0, **kw) -> Case:
    """A transformers text classifier/LM over input_ids (tiny config; kw are config fields)."""
    _seed()
    m = cls_model(cls_cfg(**kw)).eval()
    return Case(name, _Logits(m, ("input_ids",)), (torch.randint(low, vocab, (1, 16)),), ("input_ids",),
                "tokens", vocab=vocab)


def _dims(size: str) -> dict:
    full = size == "full"
    return dict(hidden=32 if not full else 64, layers=1 if not full else 2, heads=2 if not full else 4,
                inter=64 if not full else 128)


def distilbert(size: str = "small") -> Case:
    """DistilBERT: no token types, attention mask expanded with masked_fill(finfo.min)."""
    from transformers import DistilBertConfig, DistilBertForSequenceClassification
    d = _dims(size)
    return _hf_text(DistilBertConfig, DistilBertForSequenceClassification, "hf-distilbert", size,
                    vocab_size=100, dim=d["hidden"], n_layers=d["layers"], n_heads=d["heads"],
                    hidden_dim=d["inter"], max_position_embeddings=32, num_labels=4)


def albert(size: str = "small") -> Case:
    """ALBERT: factorised embedding (E < H: an extra projection), shared layer weights, gelu_new."""
    from transformers import AlbertConfig, AlbertForSequenceClassification
    d = _dims(size)
    return _hf_text(AlbertConfig, AlbertForSequenceClassification, "hf-albert", size, vocab_size=100,
                    embedding_size=16, hidden_size=d["hidden"], num_hidden_layers=d["layers"] + 1,
                    num_attention_heads=d["heads"], intermediate_size=d["inter"], max_position_embeddings=32,
                    num_labels=3)


def mobilebert(size: str = "small") -> Case:
    """MobileBERT: NoNorm (elementwise mul+add instead of LayerNorm), bottlenecks, stacked FFNs,
    trigram embedding (token embeddings concatenated with their shifted neighbours)."""
    from transformers import MobileBertConfig, MobileBertForSequenceClassification
    d = _dims(size)
    return _hf_text(MobileBertConfig, MobileBertForSequenceClassification, "hf-mobilebert", size,
                    vocab_size=100, hidden_size=d["hidden"], embedding_size=16, num_hidden_layers=d["layers"],
                    num_attention_heads=d["heads"], intermediate_size=d["inter"], intra_bottleneck_size=16,
                    true_hidden_size=16, num_feedforward_networks=2, max_position_embeddings=32, num_labels=3)


def deberta_v2(size: str = "small") -> Case:
    """DeBERTa-v2: disentangled attention (content-to-position and position-to-content through
    gathers over relative-position buckets, log buckets)."""
    from transformers import DebertaV2Config, DebertaV2ForSequenceClassification
    d = _dims(size)
    return _hf_text(DebertaV2Config, DebertaV2ForSequenceClassification, "hf-deberta-v2", size, vocab_size=100,
                    hidden_size=d["hidden"], num_hidden_layers=d["layers"], num_attention_heads=d["heads"],
                    intermediate_size=d["inter"], max_position_embeddings=32, relative_attention=True,
                    position_buckets=8, max_relative_positions=16, pos_att_type=["p2c", "c2p"],
                    type_vocab_size=0, norm_rel_ebd="layer_norm", share_att_key=True, num_labels=3)


def xlm_roberta(size: str = "small") -> Case:
    """XLM-RoBERTa (also CamemBERT's graph): padding-aware position ids, pad id 1, token types."""
    from transformers import XLMRobertaConfig, XLMRobertaForSequenceClassification
    d = _dims(size)
    return _hf_text(XLMRobertaConfig, XLMRobertaForSequenceClassification, "hf-xlm-roberta", size, vocab_size=100,
                    low=2, hidden_size=d["hidden"], num_hidden_layers=d["layers"], num_attention_heads=d["heads"],
                    intermediate_size=d["inter"], max_position_embeddings=40, num_labels=3)


def qwen2(size: str = "small") -> Case:
    """Qwen2: RoPE, grouped-query attention (repeat_kv), RMSNorm, q/k/v biases, SiLU-gated MLP."""
    from transformers import Qwen2Config, Qwen2ForCausalLM
    d = _dims(size)
    return _hf_text(Qwen2Config, Qwen2ForCausalLM, "hf-qwen2", size, vocab=64, vocab_size=64,
                    hidden_size=d["hidden"], intermediate_size=d["inter"], num_hidden_layers=d["layers"],
                    num_attention_heads=d["heads"] * 2, num_key_value_heads=d["heads"] // 2 or 1,
                    max_position_embeddings=16, use_cache=False, tie_word_embeddings=True)


def gemma(size: str = "small") -> Case:
    """Gemma: embeddings scaled by sqrt(hidden), RMSNorm with (1 + w), GeGLU (tanh GELU), MQA."""
    from transformers import GemmaConfig, GemmaForCausalLM
    d = _dims(size)
    return _hf_text(GemmaConfig, GemmaForCausalLM, "hf-gemma", size, vocab=64, vocab_size=64,
                    hidden_size=d["hidden"], intermediate_size=d["inter"], num_hidden_layers=d["layers"],
                    num_attention_heads=d["heads"], num_key_value_heads=1, head_dim=16,
                    max_position_embeddings=16, use_cache=False)


def opt(size: str = "small") -> Case:
    """OPT: learned positions with an offset of 2 computed from the attention mask (cumsum), ReLU."""
    from transformers import OPTConfig, OPTForCausalLM
    d = _dims(size)
    return _hf_text(OPTConfig, OPTForCausalLM, "hf-opt", size, vocab=64, vocab_size=64, hidden_size=d["hidden"],
                    ffn_dim=d["inter"], num_hidden_layers=d["layers"], num_attention_heads=d["heads"],
                    word_embed_proj_dim=d["hidden"], max_position_embeddings=16, use_cache=False)


def t5_encoder(size: str = "small") -> Case:
    """T5 encoder: relative-position buckets (log of the distance, min/where), RMS LayerNorm
    without mean, no attention scaling, ReLU FFN."""
    from transformers import T5Config, T5EncoderModel
    d = _dims(size)
    cfg = T5Config(vocab_size=100, d_model=d["hidden"], d_kv=16, d_ff=d["inter"], num_layers=d["layers"],
                   num_heads=d["heads"], relative_attention_num_buckets=8, relative_attention_max_distance=16,
                   use_cache=False)
    _seed()
    m = T5EncoderModel(cfg).eval()
    return Case("hf-t5-enc", _Logits(m, ("input_ids",), "last_hidden_state"), (torch.randint(0, 100, (1, 16)),),
                ("input_ids",), "tokens", vocab=100, output_names=("last_hidden_state",))


def swin(size: str = "small") -> Case:
    """Swin: window partition (reshape/permute), shifted windows (torch.roll), relative position
    bias table gathered by a constant index, attention mask for the shifted windows, patch merging."""
    from transformers import SwinConfig, SwinForImageClassification
    full = size == "full"
    cfg = SwinConfig(image_size=32, patch_size=4, num_channels=3, embed_dim=16 if not full else 32,
                     depths=[2, 1] if not full else [2, 2], num_heads=[1, 2] if not full else [2, 4], window_size=4,
                     mlp_ratio=2.0, num_labels=10)
    _seed()
    m = SwinForImageClassification(cfg).eval()
    return Case("hf-swin", _Logits(m, ("pixel_values",)), (torch.randn(1, 3, 32, 32),), ("pixel_values",), "image")


def beit(size: str = "small") -> Case:
    """BEiT: relative position bias per layer, layer scale (lambda), mean pooling of patch tokens."""
    from transformers import BeitConfig, BeitForImageClassification
    d = _dims(size)
    cfg = BeitConfig(image_size=32, patch_size=8, num_channels=3, hidden_size=d["hidden"],
                     num_hidden_layers=d["layers"], num_attention_heads=d["heads"], intermediate_size=d["inter"],
                     use_relative_position_bias=True, use_mean_pooling=True, layer_scale_init_value=0.1,
                     num_labels=10)
    _seed()
    m = BeitForImageClassification(cfg).eval()
    return Case("hf-beit", _Logits(m, ("pixel_values",)), (torch.randn(1, 3, 32, 32),), ("pixel_values",), "image")


def convnext(size: str = "small") -> Case:
    """ConvNeXt: patchify stem, depthwise 7x7 conv, channels-last LayerNorm (permute), layer scale."""
    from transformers import ConvNextConfig, ConvNextForImageClassification
    full = size == "full"
    cfg = ConvNextConfig(num_channels=3, patch_size=4, hidden_sizes=[16, 32] if not full else [32, 64],
                         depths=[1, 1] if not full else [2, 2], num_stages=2, num_labels=10)
    _seed()
    m = ConvNextForImageClassification(cfg).eval()
    return Case("hf-convnext", _Logits(m, ("pixel_values",)), (torch.randn(1, 3, 32, 32),), ("pixel_values",),
                "image")


def levit(size: str = "small") -> Case:
    """LeViT: conv stem with Hardswish, attention bias gathered by a constant index, BatchNorm1d
    after linears (on flattened tokens), subsampling attention, two heads averaged."""
    from transformers import LevitConfig, LevitForImageClassification
    full = size == "full"
    cfg = LevitConfig(image_size=32, num_channels=3, kernel_size=3, stride=2, padding=1, patch_size=16,
                      hidden_sizes=[32, 48] if not full else [64, 96], num_attention_heads=[2, 3],
                      depths=[1, 1], key_dim=[8, 8], drop_path_rate=0, mlp_ratio=[2, 2], attention_ratio=[2, 2],
                      down_ops=[["Subsample", 8, 2, 2, 2, 2]], num_labels=10)
    _seed()
    m = LevitForImageClassification(cfg).eval()
    return Case("hf-levit", _Logits(m, ("pixel_values",)), (torch.randn(1, 3, 32, 32),), ("pixel_values",), "image")


def wav2vec2(size: str = "small") -> Case:
    """Wav2Vec2 (HuBERT's graph too): conv feature extractor over raw audio with GroupNorm,
    feature projection, grouped positional conv embedding (weight-normed), transformer encoder."""
    from transformers import Wav2Vec2Config, Wav2Vec2Model
    d = _dims(size)
    cfg = Wav2Vec2Config(hidden_size=d["hidden"], num_hidden_layers=d["layers"], num_attention_heads=d["heads"],
                         intermediate_size=d["inter"], conv_dim=(16, 16), conv_stride=(5, 2), conv_kernel=(10, 3),
                         num_conv_pos_embeddings=8, num_conv_pos_embedding_groups=4, feat_extract_norm="group",
                         do_stable_layer_norm=False, mask_time_prob=0.0)
    _seed()
    m = Wav2Vec2Model(cfg).eval()
    return Case("hf-wav2vec2", _Logits(m, ("input_values",), "last_hidden_state"), (torch.randn(1, 400),),
                ("input_values",), "audio", output_names=("last_hidden_state",))


class TorchvisionViT(nn.Module):
    """torchvision's vit_b_16 in miniature (torchvision itself is not installed): conv_proj,
    class token concatenated in front, Encoder = pos embedding + EncoderBlocks built on
    nn.MultiheadAttention (batch_first) and an MLP of Linear/GELU, final LayerNorm, class-token head."""

    def __init__(self, px: int = 32, patch: int = 8, dim: int = 32, depth: int = 1, heads: int = 2,
                 classes: int = 10):
        super().__init__()
        self.conv_proj = nn.Conv2d(3, dim, patch, patch)
        self.class_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embedding = nn.Parameter(torch.empty(1, (px // patch) ** 2 + 1, dim).normal_(std=0.02))
        self.ln1 = nn.ModuleList(nn.LayerNorm(dim, eps=1e-6) for _ in range(depth))
        self.attn = nn.ModuleList(nn.MultiheadAttention(dim, heads, batch_first=True) for _ in range(depth))
        self.ln2 = nn.ModuleList(nn.LayerNorm(dim, eps=1e-6) for _ in range(depth))
        self.mlp = nn.ModuleList(nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))
                                 for _ in range(depth))
        self.ln = nn.LayerNorm(dim, eps=1e-6)
        self.heads = nn.Sequential(nn.Linear(dim, classes))

    def forward(self, x):
        n = x.shape[0]
        x = self.conv_proj(x).reshape(n, self.conv_proj.out_channels, -1).permute(0, 2, 1)
        x = torch.cat([self.class_token.expand(n, -1, -1), x], dim=1) + self.pos_embedding
        for ln1, attn, ln2, mlp in zip(self.ln1, self.attn, self.ln2, self.mlp):
            h = ln1(x)
            h, _ = attn(h, h, h, need_weights=False)
            x = x + h
            x = x + mlp(ln2(x))
        return self.heads(self.ln(x)[:, 0])


def torchvision_vit(size: str = "small") -> Case:
    d = _dims(size)
    _seed()
    m = TorchvisionViT(dim=d["hidden"], depth=d["layers"], heads=d["heads"]).eval()
    return Case("torch-tv-vit", m, (torch.randn(1, 3, 32, 32),), ("pixel_values",), "image")


FACTORIES.update({
    "hf-distilbert": distilbert, "hf-albert": albert, "hf-mobilebert": mobilebert, "hf-deberta-v2": deberta_v2,
    "hf-xlm-roberta": xlm_roberta, "hf-qwen2": qwen2, "hf-gemma": gemma, "hf-opt": opt, "hf-t5-enc": t5_encoder,
    "hf-swin": swin, "hf-beit": beit, "hf-convnext": convnext, "hf-levit": levit, "hf-wav2vec2": wav2vec2,
    "torch-tv-vit": torchvision_vit,
})


def phi(size: str = "small") -> Case:
    """Phi: partial rotary (RoPE on part of each head, concatenated with the rest), attention and
    MLP in parallel off one LayerNorm, gelu_new, biases everywhere."""
    from transformers import PhiConfig, PhiForCausalLM
    d = _dims(size)
    return _hf_text(PhiConfig, PhiForCausalLM, "hf-phi", size, vocab=64, vocab_size=64, hidden_size=d["hidden"],
                    intermediate_size=d["inter"], num_hidden_layers=d["layers"], num_attention_heads=d["heads"],
                    partial_rotary_factor=0.5, max_position_embeddings=16, use_cache=False)


def gpt_neo(size: str = "small") -> Case:
    """GPT-Neo: alternating global and local (windowed causal) attention layers, no attention
    scaling, learned positions."""
    from transformers import GPTNeoConfig, GPTNeoForCausalLM
    d = _dims(size)
    return _hf_text(GPTNeoConfig, GPTNeoForCausalLM, "hf-gpt-neo", size, vocab=64, vocab_size=64,
                    hidden_size=d["hidden"], num_layers=2, attention_types=[[["global", "local"], 1]],
                    num_heads=d["heads"], intermediate_size=d["inter"], window_size=4, max_position_embeddings=16,
                    bos_token_id=0, eos_token_id=0, use_cache=False)


def _eager(factory: Callable[[str], Case], name: str) -> Callable[[str], Case]:
    """`factory` with attn_implementation="eager": transformers' default SDPA attention in
    Swin/BEiT/T5 makes the dynamo exporter fail inside torch ("Cannot view a tensor with shape
    ... and strides ..."), and eager is what a user switches to; the legacy exporter takes both."""
    def build_eager(size: str = "small") -> Case:
        case = factory(size)
        case.module.model.set_attn_implementation("eager")
        case.name = name
        return case
    build_eager.__doc__ = factory.__doc__
    return build_eager


FACTORIES.update({
    "hf-phi": phi, "hf-gpt-neo": gpt_neo, "hf-swin-eager": _eager(swin, "hf-swin-eager"),
    "hf-beit-eager": _eager(beit, "hf-beit-eager"), "hf-t5-enc-eager": _eager(t5_encoder, "hf-t5-enc-eager"),
})


class TorchvisionMobileNetV3(nn.Module):
    """torchvision's mobilenet_v3_small in miniature: Conv-BN-Hardswish stem, inverted residuals
    with depthwise convs, squeeze-excitation (AdaptiveAvgPool, 1x1 convs, ReLU, Hardsigmoid,
    Mul), AdaptiveAvgPool + Flatten + Linear/Hardswish/Linear classifier."""

    def __init__(self, width: int = 16, classes: int = 10):
        super().__init__()

        def cbn(i, o, k, s, g=1, act=nn.Hardswish):
            return nn.Sequential(nn.Conv2d(i, o, k, s, k // 2, groups=g, bias=False), nn.BatchNorm2d(o), act())

        w = width
        self.stem = cbn(3, w, 3, 2)
        self.expand = cbn(w, 4 * w, 1, 1, act=nn.ReLU)
        self.dw = cbn(4 * w, 4 * w, 3, 2, g=4 * w)
        self.se = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(4 * w, w, 1), nn.ReLU(), nn.Conv2d(w, 4 * w, 1),
                                nn.Hardsigmoid())
        self.project = nn.Sequential(nn.Conv2d(4 * w, w, 1, bias=False), nn.BatchNorm2d(w))
        self.last = cbn(w, 6 * w, 1, 1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Linear(6 * w, 4 * w), nn.Hardswish(), nn.Dropout(0.2),
                                        nn.Linear(4 * w, classes))
        for m in self.modules():   # running statistics as after training (not 0/1)
            if isinstance(m, nn.BatchNorm2d):
                nn.init.uniform_(m.running_var, 0.5, 2.0)
                nn.init.normal_(m.running_mean, 0, 0.1)

    def forward(self, x):
        x = self.stem(x)
        h = self.dw(self.expand(x))
        h = h * self.se(h)
        x = self.project(h) + nn.functional.avg_pool2d(x, 2)
        return self.classifier(torch.flatten(self.pool(self.last(x)), 1))


def torchvision_mobilenet(size: str = "small") -> Case:
    _seed()
    m = TorchvisionMobileNetV3(width=16 if size != "full" else 24).eval()
    return Case("torch-tv-mobilenet", m, (torch.randn(1, 3, 32, 32),), ("pixel_values",), "image")


class LSTMClassifier(nn.Module):
    """nn.LSTM over feature sequences (a keyword-spotting model's shape): the importer unrolls the
    ONNX LSTM over its static length (export/foreign_rnn.py)."""

    def __init__(self, feat: int = 8, dim: int = 16, classes: int = 5):
        super().__init__()
        self.lstm = nn.LSTM(feat, dim, batch_first=True)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        return self.head(self.lstm(x)[0][:, -1])


def torch_lstm(size: str = "small") -> Case:
    _seed()
    return Case("torch-lstm", LSTMClassifier().eval(), (torch.randn(1, 16, 8),), ("x",), "sequence")


FACTORIES.update({"torch-tv-mobilenet": torchvision_mobilenet, "torch-lstm": torch_lstm})


def bert_three_inputs(size: str = "small") -> Case:
    """BERT over (input_ids, attention_mask, token_type_ids), what a tokenizer returns and what
    optimum-style exports take: three integer inputs, the npz fills the first."""
    case = bert(size)
    mask = torch.ones(1, 16, dtype=torch.int64)
    mask[:, 13:] = 0
    types = torch.zeros(1, 16, dtype=torch.int64)
    types[:, 8:] = 1
    names = ("input_ids", "attention_mask", "token_type_ids")
    return Case("hf-bert-3in", _Logits(case.module.model, names), (case.inputs[0], mask, types), names, "tokens",
                vocab=100)


FACTORIES.update({"hf-bert-3in": bert_three_inputs})


class ConformerBlock(nn.Module):
    """torchaudio's Conformer layer written out (torchaudio is not installed): half-step FFNs
    with SiLU, nn.MultiheadAttention, the convolution module (pointwise Conv1d, GLU, depthwise
    Conv1d, BatchNorm1d, SiLU, pointwise Conv1d, all on (B, C, T) after a transpose), LayerNorms;
    a mean-pooled classifier over feature frames."""

    def __init__(self, feat: int = 16, dim: int = 32, heads: int = 2, kernel: int = 7, classes: int = 5):
        super().__init__()
        self.inp = nn.Linear(feat, dim)
        self.ff1 = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, 2 * dim), nn.SiLU(), nn.Linear(2 * dim, dim))
        self.attn_norm = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.conv_norm = nn.LayerNorm(dim)
        self.pw1 = nn.Conv1d(dim, 2 * dim, 1)
        self.dw = nn.Conv1d(dim, dim, kernel, padding=kernel // 2, groups=dim)
        self.bn = nn.BatchNorm1d(dim)
        self.pw2 = nn.Conv1d(dim, dim, 1)
        self.ff2 = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, 2 * dim), nn.SiLU(), nn.Linear(2 * dim, dim))
        self.final = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)
        nn.init.uniform_(self.bn.running_var, 0.5, 2.0)
        nn.init.normal_(self.bn.running_mean, 0, 0.1)

    def forward(self, x):
        x = self.inp(x)
        x = x + 0.5 * self.ff1(x)
        h = self.attn_norm(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        h = self.conv_norm(x).transpose(1, 2)
        h = nn.functional.glu(self.pw1(h), dim=1)
        h = self.pw2(nn.functional.silu(self.bn(self.dw(h))))
        x = x + h.transpose(1, 2)
        x = self.final(x + 0.5 * self.ff2(x))
        return self.head(x.mean(1))


def conformer(size: str = "small") -> Case:
    _seed()
    m = ConformerBlock(dim=32 if size != "full" else 64).eval()
    return Case("torch-conformer", m, (torch.randn(1, 20, 16),), ("features",), "sequence")


FACTORIES.update({"torch-conformer": conformer})


class PoolFormer(nn.Module):
    """timm's PoolFormer (MetaFormer) written out: conv patch stem, GroupNorm(1, C) as the norm,
    AvgPool2d(3, 1, 1, count_include_pad=False) - x as the token mixer, 1x1-conv MLP with GELU,
    layer scale (a per-channel Mul), a strided conv downsample, global average pool head."""

    def __init__(self, dims: tuple[int, int] = (16, 32), classes: int = 10):
        super().__init__()
        self.stem = nn.Conv2d(3, dims[0], 7, 4, 2)
        self.stages = nn.ModuleList()
        for i, d in enumerate(dims):
            self.stages.append(nn.ModuleDict({
                "down": nn.Conv2d(dims[i - 1], d, 3, 2, 1) if i else nn.Identity(),
                "n1": nn.GroupNorm(1, d), "pool": nn.AvgPool2d(3, 1, 1, count_include_pad=False),
                "n2": nn.GroupNorm(1, d), "fc1": nn.Conv2d(d, 2 * d, 1), "fc2": nn.Conv2d(2 * d, d, 1)}))
            self.register_parameter(f"ls{i}", nn.Parameter(torch.full((d, 1, 1), 0.5)))
        self.norm = nn.GroupNorm(1, dims[-1])
        self.head = nn.Linear(dims[-1], classes)

    def forward(self, x):
        x = self.stem(x)
        for i, st in enumerate(self.stages):
            x = st["down"](x)
            h = st["n1"](x)
            x = x + getattr(self, f"ls{i}") * (st["pool"](h) - h)
            x = x + st["fc2"](nn.functional.gelu(st["fc1"](st["n2"](x))))
        return self.head(self.norm(x).mean((2, 3)))


def poolformer(size: str = "small") -> Case:
    _seed()
    m = PoolFormer((16, 32) if size != "full" else (32, 64)).eval()
    return Case("torch-poolformer", m, (torch.randn(1, 3, 32, 32),), ("pixel_values",), "image")


FACTORIES.update({"torch-poolformer": poolformer})


def bloom(size: str = "small") -> Case:
    """BLOOM: ALiBi (a per-head linear bias of the key distance instead of positions), LayerNorm
    on the embeddings, fused query_key_value."""
    from transformers import BloomConfig, BloomForCausalLM
    d = _dims(size)
    return _hf_text(BloomConfig, BloomForCausalLM, "hf-bloom", size, vocab=64, vocab_size=64, hidden_size=d["hidden"],
                    n_layer=d["layers"], n_head=d["heads"], use_cache=False)


def squeezebert(size: str = "small") -> Case:
    """SqueezeBERT: every projection a grouped Conv1d over (B, C, T), attention on that layout."""
    from transformers import SqueezeBertConfig, SqueezeBertForSequenceClassification
    d = _dims(size)
    return _hf_text(SqueezeBertConfig, SqueezeBertForSequenceClassification, "hf-squeezebert", size, vocab_size=100,
                    hidden_size=d["hidden"], embedding_size=d["hidden"], num_hidden_layers=d["layers"],
                    num_attention_heads=d["heads"], intermediate_size=d["inter"], max_position_embeddings=32,
                    q_groups=2, k_groups=2, v_groups=2, post_attention_groups=2, intermediate_groups=2,
                    output_groups=2, num_labels=3)


def segformer(size: str = "small") -> Case:
    """SegFormer (MiT encoder): overlapping conv patch embeddings, spatial-reduction attention
    (keys/values from a strided conv), Mix-FFN with a depthwise conv between its linears."""
    from transformers import SegformerConfig, SegformerForImageClassification
    full = size == "full"
    cfg = SegformerConfig(num_encoder_blocks=2, depths=[1, 1] if not full else [2, 2], sr_ratios=[2, 1],
                          hidden_sizes=[16, 32] if not full else [32, 64], patch_sizes=[7, 3], strides=[4, 2],
                          num_attention_heads=[1, 2], mlp_ratios=[2, 2], num_labels=10)
    _seed()
    m = SegformerForImageClassification(cfg).eval()
    return Case("hf-segformer", _Logits(m, ("pixel_values",)), (torch.randn(1, 3, 32, 32),), ("pixel_values",),
                "image")


FACTORIES.update({"hf-bloom": bloom, "hf-squeezebert": squeezebert, "hf-segformer": segformer})


def build(name: str, size: str = "small") -> Case:
    if name not in FACTORIES:
        raise KeyError(f"unknown corpus model {name!r}; known: {', '.join(sorted(FACTORIES))}")
    return FACTORIES[name](size)

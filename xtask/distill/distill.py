"""Distil a sentence encoder into static token embeddings (Model2Vec's method).

Run by `cargo xtask distill`, which creates the virtual environment with pinned packages and
passes the arguments. Every vocabulary token goes through the teacher alone (`[CLS] token [SEP]`,
the teacher's mean pooling), the vectors are reduced by PCA, weighted by the token's Zipf rank
(smooth inverse frequency) and quantized to int8 with one f32 scale per token.

Output (little-endian): b"TSTE", u32 version=1, u32 vocab, u32 dim, f32 scale[vocab],
i8 values[vocab * dim]; and the teacher's `vocab.txt` beside it.

The teacher here is a BERT encoder (all-MiniLM-L6-v2); its forward pass is written in numpy so
no deep-learning framework is needed.
"""

import argparse
import json
import math
import os
import shutil
import struct
import sys
import time

import numpy as np
from safetensors.numpy import load_file


def layer_norm(x, weight, bias, eps):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def erf(x):
    # Numerical Recipes' erfc approximation (fractional error below 1.2e-7).
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.5 * a)
    y = 1.0 - t * np.exp(
        -a * a
        - 1.26551223
        + t * (1.00002368
        + t * (0.37409196
        + t * (0.09678418
        + t * (-0.18628806
        + t * (0.27886807
        + t * (-1.13520398
        + t * (1.48851587
        + t * (-0.82215223
        + t * 0.17087277))))))))
    )
    return sign * y


class Bert:
    """A BERT encoder's forward pass over full (unpadded) sequences of one length."""

    def __init__(self, model_dir):
        with open(os.path.join(model_dir, "config.json")) as f:
            self.config = json.load(f)
        self.w = {k: v.astype(np.float32) for k, v in
                  load_file(os.path.join(model_dir, "model.safetensors")).items()
                  if v.dtype != np.int64}
        self.heads = self.config["num_attention_heads"]
        self.layers = self.config["num_hidden_layers"]
        self.eps = self.config["layer_norm_eps"]

    def lin(self, x, name):
        key = name + ".weight_t"
        if key not in self.w:
            self.w[key] = np.ascontiguousarray(self.w[name + ".weight"].T)
        flat = x.reshape(-1, x.shape[-1]) @ self.w[key] + self.w[name + ".bias"]
        return flat.reshape(*x.shape[:-1], -1)

    def forward(self, ids):
        w = self.w
        batch, seq = ids.shape
        x = (w["embeddings.word_embeddings.weight"][ids]
             + w["embeddings.position_embeddings.weight"][:seq][None]
             + w["embeddings.token_type_embeddings.weight"][0][None, None])
        x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"],
                       self.eps)
        hidden = x.shape[-1]
        head = hidden // self.heads
        for i in range(self.layers):
            p = f"encoder.layer.{i}"
            q = self.lin(x, p + ".attention.self.query").reshape(batch, seq, self.heads, head)
            k = self.lin(x, p + ".attention.self.key").reshape(batch, seq, self.heads, head)
            v = self.lin(x, p + ".attention.self.value").reshape(batch, seq, self.heads, head)
            scores = np.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(head)
            scores -= scores.max(-1, keepdims=True)
            probs = np.exp(scores)
            probs /= probs.sum(-1, keepdims=True)
            ctx = np.einsum("bhqk,bkhd->bqhd", probs, v).reshape(batch, seq, hidden)
            x = layer_norm(x + self.lin(ctx, p + ".attention.output.dense"),
                           w[p + ".attention.output.LayerNorm.weight"],
                           w[p + ".attention.output.LayerNorm.bias"], self.eps)
            inter = self.lin(x, p + ".intermediate.dense")
            inter = 0.5 * inter * (1.0 + erf(inter / math.sqrt(2.0)))
            x = layer_norm(x + self.lin(inter, p + ".output.dense"),
                           w[p + ".output.LayerNorm.weight"], w[p + ".output.LayerNorm.bias"],
                           self.eps)
        return x


def progress(done, total):
    """One line per batch on stderr, which `cargo xtask distill` turns into a progress bar."""
    sys.stderr.write(f"progress {done} {total}\n")
    sys.stderr.flush()


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--out", required=True, help="the .bin table to write")
    parser.add_argument("--vocab-out", required=True)
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--sif", type=float, default=1e-4)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--limit", type=int, default=0, help="only the first N tokens (tests)")
    args = parser.parse_args()

    with open(os.path.join(args.model_dir, "vocab.txt"), encoding="utf-8") as f:
        vocab = [line.rstrip("\n") for line in f]
    bert = Bert(args.model_dir)
    cls_id, sep_id = vocab.index("[CLS]"), vocab.index("[SEP]")
    n = len(vocab) if args.limit == 0 else min(args.limit, len(vocab))
    hidden = bert.config["hidden_size"]
    out = np.zeros((n, hidden), dtype=np.float32)
    started = time.time()
    for start in range(0, n, args.batch):
        ids = np.arange(start, min(start + args.batch, n))
        seqs = np.stack([np.full_like(ids, cls_id), ids, np.full_like(ids, sep_id)], axis=1)
        out[ids] = bert.forward(seqs).mean(axis=1)
        progress(int(ids[-1]) + 1, n)

    # PCA: centre, project on the top principal directions.
    mean = out.mean(axis=0)
    centred = out - mean
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    dim = min(args.dim, hidden)
    reduced = centred @ vt[:dim].T
    # Smooth inverse frequency by rank: the vocabulary is (roughly) in frequency order.
    rank = np.arange(n, dtype=np.float64) + 2.0
    proba = (1.0 / rank) / np.sum(1.0 / rank)
    reduced *= (args.sif / (args.sif + proba))[:, None].astype(np.float32)

    scale = np.abs(reduced).max(axis=1) / 127.0
    scale[scale == 0] = 1.0
    values = np.clip(np.round(reduced / scale[:, None]), -127, 127).astype(np.int8)
    with open(args.out, "wb") as f:
        f.write(b"TSTE")
        f.write(struct.pack("<III", 1, n, dim))
        f.write(scale.astype("<f4").tobytes())
        f.write(values.tobytes())
    shutil.copyfile(os.path.join(args.model_dir, "vocab.txt"), args.vocab_out)
    err = np.abs(values * scale[:, None] - reduced).mean()
    print(json.dumps({"tokens": n, "dim": dim, "bytes": os.path.getsize(args.out),
                      "mean_quantization_error": float(err),
                      "seconds": round(time.time() - started, 1)}))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""The Python `safetensors` library opens a ponder checkpoint with the right
names, shapes, dtypes and values.

Runs the C++ test CheckpointExport.WritesForInterop (tests_policy) with
PONDER_EXPORT_DIR set, which writes a small GQA, untied checkpoint whose values
follow a known pattern (pattern_value in tests/policy/test_checkpoint.cc), then
checks model.safetensors, optimizer.safetensors, config.json, checksums.json and
trainer_state.json against what the config implies.

Run by ctest (interop.safetensors) with the venv made by scripts/setup.
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile
import zlib

import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file

# small_config() in tests/policy/test_checkpoint.cc.
CONFIG = dict(vocab_size=272, hidden_size=16, intermediate_size=24, num_hidden_layers=2,
              num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=32,
              rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=False)


def parameter_specs(c):
    """(name, shape) in ponder's flat order (policy/model_config.h)."""
    v, d, f = c["vocab_size"], c["hidden_size"], c["intermediate_size"]
    hd = d // c["num_attention_heads"]
    q, kv = c["num_attention_heads"] * hd, c["num_key_value_heads"] * hd
    specs = [("model.embed_tokens.weight", (v, d))]
    for i in range(c["num_hidden_layers"]):
        p = f"model.layers.{i}."
        specs += [(p + "input_layernorm.weight", (d,)),
                  (p + "self_attn.q_proj.weight", (q, d)),
                  (p + "self_attn.k_proj.weight", (kv, d)),
                  (p + "self_attn.v_proj.weight", (kv, d)),
                  (p + "self_attn.o_proj.weight", (d, q)),
                  (p + "post_attention_layernorm.weight", (d,)),
                  (p + "mlp.gate_proj.weight", (f, d)),
                  (p + "mlp.up_proj.weight", (f, d)),
                  (p + "mlp.down_proj.weight", (d, f))]
    specs.append(("model.norm.weight", (d,)))
    if not c["tie_word_embeddings"]:
        specs.append(("lm_head.weight", (v, d)))
    return specs


def pattern_values(start, count):
    """pattern_value(i) for i in [start, start + count), as float32."""
    i = np.arange(start, start + count, dtype=np.uint64)
    u = ((i * np.uint64(2654435761)) & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    bits = (u & np.uint32(0x80000000)) | np.uint32(0x3F800000) | ((u >> np.uint32(9)) &
                                                                    np.uint32(0x7FFFFF))
    return bits.view(np.float32)


def header_order(path):
    """Tensor names in data-offset order, read from the raw header."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    header.pop("__metadata__", None)
    return [k for k, _ in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0])]


class Checks:
    def __init__(self):
        self.passed = 0
        self.failures = []

    def check(self, ok, what):
        if ok:
            self.passed += 1
        else:
            self.failures.append(what)


def check_tensors(t, path, expected, flat, what):
    """`expected` = [(name, shape)], `flat` = the values in that order."""
    tensors = load_file(path)
    t.check(sorted(tensors) == sorted(n for n, _ in expected),
            f"{what}: names {sorted(tensors)} != {sorted(n for n, _ in expected)}")
    t.check(header_order(path) == [n for n, _ in expected], f"{what}: tensors not in flat order")
    offset = 0
    for name, shape in expected:
        size = int(np.prod(shape))
        if name not in tensors:
            offset += size
            continue
        a = tensors[name]
        t.check(a.dtype == np.float32, f"{what}: {name} dtype {a.dtype}")
        t.check(tuple(a.shape) == shape, f"{what}: {name} shape {a.shape} != {shape}")
        want = flat[offset:offset + size].reshape(shape)
        t.check(a.shape == want.shape and np.array_equal(a.view(np.uint32), want.view(np.uint32)),
                f"{what}: {name} values differ")
        offset += size


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tests-binary", required=True)
    args = parser.parse_args()
    t = Checks()

    with tempfile.TemporaryDirectory() as work:
        run = subprocess.run([args.tests_binary, "--gtest_filter=CheckpointExport.WritesForInterop"],
                             env=dict(os.environ, PONDER_EXPORT_DIR=work), capture_output=True,
                             text=True)
        ok = run.returncode == 0 and "[  PASSED  ] 1 test" in run.stdout and \
            "SKIPPED" not in run.stdout
        if not ok:
            print(run.stdout, run.stderr)
            print("FAIL: CheckpointExport.WritesForInterop did not write the checkpoint")
            print(f"0 passed, 1 failed")
            return 1
        ckpt = os.path.join(work, "checkpoint")
        specs = parameter_specs(CONFIG)
        n = sum(int(np.prod(s)) for _, s in specs)

        # model.safetensors: HF names and shapes, float32, exact values.
        model = os.path.join(ckpt, "model.safetensors")
        check_tensors(t, model, specs, pattern_values(0, n), "model.safetensors")
        with safe_open(model, framework="numpy") as f:
            t.check((f.metadata() or {}).get("format") == "pt",
                    f"model.safetensors metadata {f.metadata()} lacks format=pt")

        # optimizer.safetensors: the AdamW moments, per parameter.
        moments = []
        m, v = pattern_values(n, n), np.abs(pattern_values(2 * n, n))
        flat = []
        offset = 0
        for name, shape in specs:
            size = int(np.prod(shape))
            moments += [(name + ".exp_avg", shape), (name + ".exp_avg_sq", shape)]
            flat += [m[offset:offset + size], v[offset:offset + size]]
            offset += size
        check_tensors(t, os.path.join(ckpt, "optimizer.safetensors"), moments,
                      np.concatenate(flat), "optimizer.safetensors")

        # config.json: HF LlamaConfig fields.
        with open(os.path.join(ckpt, "config.json")) as f:
            config = json.load(f)
        for key, want in CONFIG.items():
            t.check(config.get(key) == want, f"config.json {key} = {config.get(key)} != {want}")
        for key, want in [("architectures", ["LlamaForCausalLM"]), ("model_type", "llama"),
                          ("hidden_act", "silu"), ("torch_dtype", "float32"), ("head_dim", 4),
                          ("bos_token_id", 272 - 14), ("eos_token_id", 272 - 14 + 3),
                          ("pad_token_id", 272 - 14 + 12)]:
            t.check(config.get(key) == want, f"config.json {key} = {config.get(key)} != {want}")

        # checksums.json: size and CRC32 of every other file.
        with open(os.path.join(ckpt, "checksums.json")) as f:
            sums = json.load(f)["files"]
        t.check(sorted(sums) == sorted(["config.json", "model.safetensors", "tokenizer.json",
                                        "optimizer.safetensors", "trainer_state.json"]),
                f"checksums.json lists {sorted(sums)}")
        for name, entry in sums.items():
            with open(os.path.join(ckpt, name), "rb") as f:
                data = f.read()
            t.check(entry["bytes"] == len(data) and int(entry["crc32"], 16) == zlib.crc32(data),
                    f"checksums.json entry for {name} does not match the file")

        # trainer_state.json: the state make_checkpoint() sets.
        with open(os.path.join(ckpt, "trainer_state.json")) as f:
            state = json.load(f)
        want_state = dict(format_version=1, step=42, tokens_seen=(1 << 40) + 7,
                          data_position=18446744073709551557, rng_state="5489 123 456",
                          world_size=1, extra={"sft": {"epoch": 2, "lr_scale": 0.1}})
        t.check(state == want_state, f"trainer_state.json is {state}")

    for f in t.failures:
        print("FAIL:", f)
    print(f"{t.passed} passed, {len(t.failures)} failed")
    return 1 if t.failures else 0


if __name__ == "__main__":
    sys.exit(main())

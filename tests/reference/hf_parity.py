#!/usr/bin/env python3
"""A ponder checkpoint loads in Hugging Face `transformers` as LlamaForCausalLM
and gives the same logits, log-probs and greedy decoding.

    hf_parity.py [CHECKPOINT_DIR ...] [--ponder build/ponder]
                 [--dump-logits build/tests/reference/ponder_dump_logits] [--device cpu|cuda]

Without a checkpoint it makes two with `ponder train` (tokenizer, shards and 5
pretraining steps on GSM8K text, in a temp dir): a GQA model with a separate
lm_head, and one with tied embeddings and non-default rope_theta and
rms_norm_eps. For each checkpoint it compares, against ponder_dump_logits
(ponder's Model<float>::forward and KV-cache decode):
  - the ids of a few texts: ponder's tokenizer vs HF `tokenizers` on tokenizer.json;
  - full-forward logits of several sequences (texts, random ids over the whole
    vocabulary incl. special tokens, one token, the longest sequence allowed):
    max |ponder - HF| / max |HF| <= --tolerance (1e-4) per sequence;
  - log π(next id) of the same sequences, to the same relative tolerance;
  - greedy decoding: ponder's tokens (several prompts as rows of one KV cache)
    equal HF `generate` (do_sample=False, no stop token); a divergence counts
    only where HF's top two logits differ by more than the tolerance; and the
    logits of every decode step match HF's full forward of prompt + tokens.
Everything runs in float32 (eager attention); HF on the CPU, ponder on the CPU or,
with --device cuda, on the GPU (its fp32 path; scripts/gpu-check runs that). Without torch or
transformers it prints "skipped: torch/transformers not installed" and exits 0.

Run by ctest (reference.hf_parity) with the scripts/setup venv, where it skips;
on a machine with torch and transformers, run it directly with that Python.
"""
import argparse
import glob
import json
import os
import random
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
GSM8K = os.path.join(ROOT, "data", "gsm8k", "train.jsonl")

TEXTS = [
    "Natalia sold clips to 48 of her friends in April, and then she sold half as many "
    "clips in May. How many clips did Natalia sell altogether in April and May?",
    "Weng earns $12 an hour for babysitting. Yesterday, she just did 50 minutes of "
    "babysitting. How much did she earn? 12/60 = 0.2 per minute; 0.2 * 50 = 10.",
    "special spellings stay bytes: <|end|> <|assistant|> and   spaces\n\nnew lines",
]

# Two tiny models; the vocabulary comes from a 512-token tokenizer.
MODELS = {
    "gqa_untied": {"hidden_size": 64, "intermediate_size": 176, "num_hidden_layers": 2,
                   "num_attention_heads": 4, "num_key_value_heads": 2,
                   "max_position_embeddings": 128},
    "tied_theta": {"hidden_size": 64, "intermediate_size": 160, "num_hidden_layers": 2,
                   "num_attention_heads": 4, "num_key_value_heads": 1,
                   "max_position_embeddings": 96, "tie_word_embeddings": True,
                   "rope_theta": 50000.0, "rms_norm_eps": 1e-6},
}


def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return repr(v)


def make_checkpoint(ponder, work, name, model):
    """Runs `ponder train` (tokenizer, shards, 5 pretraining steps); returns the checkpoint."""
    config = {
        "run": {"name": name, "out_dir": work, "seed": 7, "threads": 2,
                "stages": ["tokenizer", "shards", "pretrain"]},
        "tokenizer": {"inputs": [GSM8K], "vocab_size": 512, "max_input_mb": 1.0},
        "model": dict(model, initializer_range=0.1),
        "data": {"inputs": [GSM8K]},
        "optim": {"lr": 0.01, "warmup_steps": 1},
        "pretrain": {"steps": 5, "batch_size": 2, "seq_len": 32, "eval_every": 5,
                     "eval_batches": 1, "checkpoint_every": 5, "log_every": 5},
    }
    path = os.path.join(work, name + ".toml")
    with open(path, "w") as f:
        for section, keys in config.items():
            f.write(f"[{section}]\n")
            for key, value in keys.items():
                f.write(f"{key} = {toml_value(value)}\n")
    run = subprocess.run([ponder, "train", "--config", path], capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"hf_parity: `ponder train` failed for {name}:\n{run.stdout}{run.stderr}")
    found = sorted(glob.glob(os.path.join(work, name, "checkpoints", "step_*")))
    if not found:
        sys.exit(f"hf_parity: `ponder train` wrote no checkpoint for {name}")
    return found[-1]


def relative_diff(ours, theirs):
    import numpy as np
    ours, theirs = np.asarray(ours, np.float64), np.asarray(theirs, np.float64)
    if ours.shape != theirs.shape:
        return float("inf")
    return float(np.max(np.abs(ours - theirs)) / max(np.max(np.abs(theirs)), 1e-30))


def load_hf_model(checkpoint):
    import torch
    import transformers
    from transformers import LlamaForCausalLM
    major, minor = (int(x) for x in transformers.__version__.split(".")[:2])
    # `dtype` replaced `torch_dtype` in transformers 4.56.
    dtype_arg = "dtype" if (major, minor) >= (4, 56) else "torch_dtype"
    transformers.utils.logging.disable_progress_bar()
    model, info = LlamaForCausalLM.from_pretrained(
        checkpoint, attn_implementation="eager", output_loading_info=True,
        **{dtype_arg: torch.float32})
    problems = {key: value for key, value in info.items() if value}
    return model.eval(), problems


def hf_greedy(model, prompt, steps, pad_id):
    import torch
    from transformers import GenerationConfig
    config = GenerationConfig(max_new_tokens=steps, min_new_tokens=steps, do_sample=False,
                              eos_token_id=None, pad_token_id=pad_id, bos_token_id=None)
    ids = torch.tensor([prompt])
    out = model.generate(ids, attention_mask=torch.ones_like(ids), generation_config=config)
    return out[0, len(prompt):].tolist()


def check(checkpoint, dump_logits, tolerance, greedy_steps, device):
    """Compares ponder and HF on one checkpoint; returns (failures, checks, worst diff)."""
    import numpy as np
    import torch
    from tokenizers import Tokenizer

    failures, checks, worst = [], 0, 0.0
    with open(os.path.join(checkpoint, "config.json")) as f:
        config = json.load(f)
    vocab, max_pos = config["vocab_size"], config["max_position_embeddings"]
    tokenizer = Tokenizer.from_file(os.path.join(checkpoint, "tokenizer.json"))
    tokenizer.encode_special_tokens = True  # as ponder's encode: spellings stay bytes
    bos = tokenizer.token_to_id("<|bos|>")
    pad = tokenizer.token_to_id("<|pad|>")
    hf_text_ids = [tokenizer.encode(t).ids for t in TEXTS]

    rng = random.Random(11)
    sequences = [
        [bos] + [rng.randrange(vocab) for _ in range(40)],  # every id, specials included
        [rng.randrange(vocab)],
        [rng.randrange(vocab) for _ in range(max_pos)],  # up to the last position
    ]
    prompts = [[bos] + ids[:max_pos - greedy_steps - 1] for ids in hf_text_ids]
    prompts.append(sequences[0][:5])
    request = {"sequences": sequences, "texts": TEXTS, "greedy_prompts": prompts,
               "greedy_steps": greedy_steps}
    with tempfile.TemporaryDirectory() as work:
        request_path, out_path = os.path.join(work, "request.json"), os.path.join(work, "out.json")
        with open(request_path, "w") as f:
            json.dump(request, f)
        run = subprocess.run([dump_logits, "--checkpoint", checkpoint, "--request", request_path,
                              "--out", out_path, "--device", device],
                             capture_output=True, text=True)
        if run.returncode != 0:
            return [f"ponder_dump_logits failed: {run.stderr.strip()}"], 1, worst
        with open(out_path) as f:
            ours = json.load(f)

    for text, hf_ids, ponder_ids in zip(TEXTS, hf_text_ids, ours["text_ids"]):
        checks += 1
        if hf_ids != ponder_ids:
            failures.append(f"ids of {text[:30]!r}...: ponder {ponder_ids} != HF {hf_ids}")
    if failures:
        return failures, checks, worst

    model, problems = load_hf_model(checkpoint)
    checks += 1
    if problems:  # missing or unexpected tensor names, shape mismatches
        return failures + [f"HF loading: {problems}"], checks, worst
    with torch.no_grad():
        for i, seq in enumerate(ours["sequences"]):
            ids = seq["ids"]
            logits = model(torch.tensor([ids])).logits[0].double()
            diff = relative_diff(seq["logits"], logits.numpy())
            logprobs = torch.log_softmax(logits, dim=-1)
            hf_logprobs = [logprobs[t, ids[t + 1]].item() for t in range(len(ids) - 1)] + [0.0]
            lp_diff = relative_diff(seq["logprobs"], hf_logprobs)
            checks += 2
            worst = max(worst, diff, lp_diff)
            if diff > tolerance:
                failures.append(f"sequence {i} (length {len(ids)}): logits differ by {diff:.2e} "
                                f"of their scale")
            if lp_diff > tolerance:
                failures.append(f"sequence {i} (length {len(ids)}): log-probs differ by "
                                f"{lp_diff:.2e} of their scale")

        for i, (prompt, ponder) in enumerate(zip(prompts, ours["greedy"])):
            tokens, step_logits = ponder["tokens"], np.asarray(ponder["logits"])
            # KV-cache logits vs HF's full forward of the prompt and ponder's tokens.
            full = model(torch.tensor([prompt + tokens[:-1]])).logits[0].double().numpy()
            hf_step_logits = full[len(prompt) - 1:]
            diff = relative_diff(step_logits, hf_step_logits)
            checks += 2
            worst = max(worst, diff)
            if diff > tolerance:
                failures.append(f"greedy prompt {i}: decode-step logits differ from HF's forward "
                                f"by {diff:.2e} of their scale")
            hf_tokens = hf_greedy(model, prompt, greedy_steps, pad)
            for step, (a, b) in enumerate(zip(tokens, hf_tokens)):
                if a == b:
                    continue
                top2 = np.sort(hf_step_logits[step])[-2:]
                scale = np.max(np.abs(hf_step_logits[step]))
                if top2[1] - top2[0] > tolerance * scale:
                    failures.append(f"greedy prompt {i}: step {step} ponder chose {a}, HF {b} "
                                    f"(ponder {tokens}, HF {hf_tokens})")
                else:
                    print(f"  greedy prompt {i}: diverged at a near-tie at step {step}")
                break
            if len(hf_tokens) != len(tokens):
                failures.append(f"greedy prompt {i}: HF generated {len(hf_tokens)} tokens, "
                                f"ponder {len(tokens)}")
    return failures, checks, worst


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoints", nargs="*", help="ponder checkpoint directories")
    parser.add_argument("--ponder", default=os.path.join(ROOT, "build", "ponder"))
    parser.add_argument("--dump-logits",
                        default=os.path.join(ROOT, "build", "tests", "reference",
                                             "ponder_dump_logits"))
    parser.add_argument("--tolerance", type=float, default=1e-4)
    parser.add_argument("--greedy-steps", type=int, default=12)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                        help="where ponder computes (HF stays on the CPU)")
    args = parser.parse_args()
    try:
        import torch
        import transformers  # noqa: F401
    except ImportError:
        print("skipped: torch/transformers not installed")
        return 0
    torch.set_num_threads(min(4, os.cpu_count() or 1))

    with tempfile.TemporaryDirectory() as work:
        checkpoints = args.checkpoints or [make_checkpoint(args.ponder, work, name, model)
                                           for name, model in MODELS.items()]
        all_failures, total, worst = [], 0, 0.0
        for checkpoint in checkpoints:
            failures, checks, diff = check(checkpoint, args.dump_logits, args.tolerance,
                                           args.greedy_steps, args.device)
            label = os.path.basename(os.path.dirname(os.path.dirname(checkpoint))) \
                if not args.checkpoints else checkpoint
            print(f"{label}: {checks} checks, {len(failures)} failed, "
                  f"worst relative difference {diff:.2e}")
            all_failures += [f"{label}: {f}" for f in failures]
            total, worst = total + checks, max(worst, diff)
    for failure in all_failures:
        print("FAIL", failure)
    print(f"hf_parity: {total - len(all_failures)}/{total} checks passed; worst relative "
          f"difference {worst:.2e} (tolerance {args.tolerance:g}); ponder on {args.device}; "
          f"transformers "
          f"{transformers.__version__}, torch {torch.__version__}")
    return 1 if all_failures else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""PyTorch side by side with bench_gpu: the same ~124M Llama (hidden 768, 12
layers, 12 heads, intermediate 2048, vocab 50304, tied embeddings) as a
`transformers` LlamaForCausalLM in bf16 on the GPU, eager attention:

  - training: one step (forward, loss, backward, AdamW) at batch x 1024,
    milliseconds and tokens/s;
  - decoding: `generate` (greedy, KV cache) of --new-tokens tokens after a
    32-token prompt at 1, 64 and 256 rows, tokens/s.

    torch_llama.py [--batch 8] [--steps 10] [--new-tokens 64]

Without torch, transformers or a CUDA device it prints "skipped: ..." and
exits 0. Last line: JSON.
"""
import argparse
import json
import sys
import time


def config_of(transformers):
    return transformers.LlamaConfig(
        vocab_size=50304, hidden_size=768, intermediate_size=2048, num_hidden_layers=12,
        num_attention_heads=12, num_key_value_heads=12, max_position_embeddings=1024,
        tie_word_embeddings=True, attn_implementation="eager")


def train(torch, model, batch, steps):
    seq = model.config.max_position_embeddings
    ids = torch.randint(0, model.config.vocab_size, (batch, seq), device="cuda")
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4, fused=True)
    model.train()

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        return loss

    step()  # warm-up: allocations, kernel choices
    step()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        loss = step()
    torch.cuda.synchronize()
    seconds = (time.perf_counter() - t0) / steps
    return {"batch": batch, "seq": seq, "step_ms": seconds * 1e3,
            "tokens_per_s": batch * seq / seconds, "loss": float(loss)}


def generate(torch, model, rows, new_tokens):
    model.eval()
    ids = torch.randint(0, model.config.vocab_size, (rows, 32), device="cuda")
    kwargs = dict(max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False,
                  pad_token_id=0)
    with torch.no_grad():
        model.generate(ids, **dict(kwargs, max_new_tokens=4, min_new_tokens=4))  # warm-up
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        model.generate(ids, **kwargs)
        torch.cuda.synchronize()
    return {"rows": rows, "tokens_per_s": rows * new_tokens / (time.perf_counter() - t0)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--new-tokens", type=int, default=64)
    args = parser.parse_args()
    try:
        import torch
        import transformers
    except ImportError as e:
        print(f"skipped: no torch/transformers ({e})")
        print(json.dumps({"skipped": "no torch/transformers"}))
        return 0
    if not torch.cuda.is_available():
        print("skipped: torch sees no CUDA device")
        print(json.dumps({"skipped": "no CUDA device"}))
        return 0
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(config_of(transformers)).to("cuda", torch.bfloat16)
    result = {"device": torch.cuda.get_device_name(), "torch": torch.__version__,
              "transformers": transformers.__version__,
              "params": sum(p.numel() for p in model.parameters())}
    result["train"] = train(torch, model, args.batch, args.steps)
    print(f"torch train: batch {args.batch} x 1024: {result['train']['step_ms']:.1f} ms/step, "
          f"{result['train']['tokens_per_s']:.0f} tokens/s")
    result["decode"] = []
    for rows in (1, 64, 256):
        result["decode"].append(generate(torch, model, rows, args.new_tokens))
        print(f"torch generate: {rows:3} rows: {result['decode'][-1]['tokens_per_s']:.0f} tokens/s")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

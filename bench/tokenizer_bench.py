"""Driver of bench/tokenizer (see there). Builds the 10 MB corpus, times
`ponder tokenizer train` on it, then encodes it with ponder (bench_tokenizer)
and with HF `tokenizers` on one thread, and prints figures and their ratio."""
import argparse
import json
import os
import subprocess
import sys
import sysconfig
import time

os.environ["TOKENIZERS_PARALLELISM"] = "false"  # before importing tokenizers: one thread
os.environ["RAYON_NUM_THREADS"] = "1"
from tokenizers import Tokenizer  # noqa: E402


def build_corpus(path, target_bytes):
    """GSM8K (train + test, questions and answers) then Python standard-library
    source in sorted order, up to target_bytes: prose, math and code."""
    parts, size = [], 0
    for split in ("train", "test"):
        with open(f"data/gsm8k/{split}.jsonl") as f:
            for line in f:
                d = json.loads(line)
                text = d["question"] + "\n" + d["answer"] + "\n"
                parts.append(text)
                size += len(text.encode())
    gsm8k_bytes = size
    stdlib = sysconfig.get_paths()["stdlib"]
    for dirpath, dirnames, filenames in sorted(os.walk(stdlib)):
        dirnames.sort()
        if "site-packages" in dirpath or "test" in dirpath.split(os.sep):
            continue
        for name in sorted(filenames):
            if size >= target_bytes:
                break
            if name.endswith(".py"):
                with open(os.path.join(dirpath, name), encoding="utf-8", errors="replace") as f:
                    text = f.read()
                parts.append(text)
                size += len(text.encode())
    # Cut at the byte target, then drop a character split by the cut so both
    # tokenizers see the same valid UTF-8.
    data = "".join(parts).encode()[:target_bytes].decode("utf-8", errors="ignore").encode()
    with open(path, "wb") as f:
        f.write(data)
    return gsm8k_bytes, len(data)


def hf_encode_mb_per_s(tokenizer_json, corpus, repeats):
    hf = Tokenizer.from_file(tokenizer_json)
    hf.encode_special_tokens = True
    # Lines exactly as bench_tokenizer reads them (std::getline on '\n', newline re-added).
    with open(corpus, "rb") as f:
        raw = f.read().split(b"\n")
    if raw and raw[-1] == b"":
        raw.pop()
    lines = [(line + b"\n").decode("utf-8") for line in raw]
    size = sum(len(line.encode()) for line in lines)
    best, tokens = 1e30, 0
    for _ in range(repeats):
        start = time.perf_counter()
        encodings = hf.encode_batch(lines, add_special_tokens=False)
        best = min(best, time.perf_counter() - start)
        tokens = sum(len(e.ids) for e in encodings)
    return size / 1e6 / best, tokens


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ponder", required=True)
    parser.add_argument("--bench-binary", required=True)
    parser.add_argument("--mb", type=float, default=10.0)
    parser.add_argument("--vocab-size", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--work", default="build/bench-tokenizer")
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    corpus = os.path.join(args.work, "corpus.txt")
    gsm8k_bytes, corpus_bytes = build_corpus(corpus, int(args.mb * 1e6))
    print(f"corpus: {corpus_bytes / 1e6:.2f} MB ({gsm8k_bytes / 1e6:.2f} MB GSM8K, "
          f"the rest Python stdlib source)")

    tok_dir = os.path.join(args.work, "tok")
    start = time.perf_counter()
    subprocess.run([args.ponder, "tokenizer", "train", "--input", corpus, "--vocab-size",
                    str(args.vocab_size), "--out", tok_dir], check=True, stdout=subprocess.DEVNULL)
    train_s = time.perf_counter() - start
    print(f"ponder train: {corpus_bytes / 1e6:.1f} MB -> {args.vocab_size} tokens in {train_s:.1f} s "
          f"(limit 60 s: {train_s / 60:.2f} of it)")

    out = subprocess.run([args.bench_binary, tok_dir, corpus, str(args.repeats)], check=True,
                         capture_output=True, text=True).stdout.strip().splitlines()
    ours = json.loads(out[-1])
    hf_mb_s, hf_tokens = hf_encode_mb_per_s(os.path.join(tok_dir, "tokenizer.json"), corpus,
                                            args.repeats)
    ratio = ours["mb_per_s"] / hf_mb_s
    print(f"encode, one thread, line by line: ponder {ours['mb_per_s']:.2f} MB/s, "
          f"HF tokenizers {hf_mb_s:.2f} MB/s, ratio {ratio:.2f}x")
    if hf_tokens != ours["tokens"]:
        print(f"warning: token counts differ: ponder {ours['tokens']}, HF {hf_tokens}")
    print(json.dumps({
        "corpus_mb": round(corpus_bytes / 1e6, 3), "vocab_size": args.vocab_size,
        "train_seconds": round(train_s, 2), "train_limit_seconds": 60,
        "ponder_encode_mb_per_s": round(ours["mb_per_s"], 3),
        "hf_encode_mb_per_s": round(hf_mb_s, 3), "ponder_over_hf": round(ratio, 3),
        "tokens": ours["tokens"], "hf_tokens": hf_tokens}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

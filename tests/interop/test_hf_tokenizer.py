#!/usr/bin/env python3
"""Hugging Face `tokenizers` loads ponder's tokenizer.json and gives identical ids.

Trains two tokenizers with the real `ponder` binary (digits split one by one,
and in groups of three), then compares ponder's ids with HF's on the GSM8K
train set as one >= 1 MB text and on adversarial strings (emoji, CJK, numerals,
whitespace runs, special-token spellings). Invalid UTF-8 cannot enter HF, so
for it we check that HF decodes ponder's ids to the lossy decoding of the bytes.

Run by ctest (interop.hf_tokenizer) with the venv made by scripts/setup.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

from tokenizers import Tokenizer

ADVERSARIAL = [
    "",
    "I ❤️ 🤖 👩‍👩‍👧‍👦 🇯🇵 emoji😀😀 done",
    "日本語のテキスト、中文字符，한국어 텍스트",
    "1234567890" * 40,
    "３４５ fullwidth, ²½Ⅻⅻ ٣٤٥ ৩৪ other numerals",
    "a" + " " * 50 + "b",
    "\t\t\n\n\n   \r\n\r\n  x  \n",
    "nbsp\u00a0em\u2003ideographic\u3000nel\u0085zw\u200bend",
    "I'LL DON'T we've they're it's She'd he'S",
    "!!!???...---$$$ $1,234.56 -7.5e-3 (3+4)*5=35",
    "<|user|> hi <|end|><|assistant|><|think|>x<|/think|><|tool_call|>python\n1+1<|/tool_call|>",
    "e\u0301 combining, नमस्ते, สวัสดี, مرحبا, Ελληνικά, кириллица",
    "    indented code:\n        return x  # comment\n",
    "x" * 3000,
    " " * 3000,
    "\U0001F600" * 200,
]

INVALID_UTF8 = [b"\xff\xfe abc", b"ok \xc3 truncated", b"\xed\xa0\x80 surrogate", b"\xe2\x82"]


def ponder_encode(ponder, tok_dir, data, workdir):
    path = os.path.join(workdir, "input.bin")
    with open(path, "wb") as f:
        f.write(data)
    out = subprocess.run(
        [ponder, "tokenizer", "encode", "--tokenizer", tok_dir, "--file", path],
        check=True, capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ponder", required=True)
    args = parser.parse_args()
    failures = []
    checks = 0

    with open("data/gsm8k/train.jsonl") as f:
        docs = [json.loads(line) for line in f]
    gsm8k_text = "\n".join(d["question"] + "\n" + d["answer"] for d in docs)
    assert len(gsm8k_text.encode()) >= 1_000_000

    with tempfile.TemporaryDirectory() as work:
        for digits, vocab in ((1, 2048), (3, 1500)):
            tok_dir = os.path.join(work, f"tok{digits}")
            subprocess.run(
                [args.ponder, "tokenizer", "train", "--input", "data/gsm8k/train.jsonl",
                 "--vocab-size", str(vocab), "--digits-per-token", str(digits), "--out", tok_dir],
                check=True, capture_output=True)
            hf = Tokenizer.from_file(os.path.join(tok_dir, "tokenizer.json"))
            if hf.get_vocab_size() != vocab:
                failures.append(f"digits={digits}: HF vocab size {hf.get_vocab_size()} != {vocab}")
            # Special tokens: same ids when HF parses them; plain text when told not to.
            if hf.encode("<|end|>").ids != [vocab - 14 + 3]:
                failures.append(f"digits={digits}: HF id of <|end|> is {hf.encode('<|end|>').ids}")
            hf.encode_special_tokens = True

            for name, text in [("gsm8k", gsm8k_text)] + [(f"adversarial[{i}]", s)
                                                           for i, s in enumerate(ADVERSARIAL)]:
                checks += 1
                ours = ponder_encode(args.ponder, tok_dir, text.encode(), work)
                theirs = hf.encode(text).ids
                if ours != theirs:
                    at = next((i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b),
                              min(len(ours), len(theirs)))
                    failures.append(f"digits={digits} {name}: ids differ at {at}: ponder "
                                    f"{ours[at:at + 8]} vs HF {theirs[at:at + 8]}")
                elif hf.decode(ours, skip_special_tokens=False) != text:
                    failures.append(f"digits={digits} {name}: HF decode differs")
            for i, data in enumerate(INVALID_UTF8):
                checks += 1
                ours = ponder_encode(args.ponder, tok_dir, data, work)
                if hf.decode(ours) != data.decode("utf-8", errors="replace"):
                    failures.append(f"digits={digits} invalid[{i}]: HF decode of ponder ids differs")

    for f in failures:
        print("FAIL:", f)
    print(f"{checks - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

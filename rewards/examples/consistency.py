#!/usr/bin/env python3
"""A reward for ponder, computed by a program: does the reasoning back the answer?

ponder starts this script once and keeps it running. It writes one JSON request
per line to stdin and reads one JSON reply per line from stdout (docs/REWARDS.md
lists the fields). Use it from a run config:

    [[rl.rewards]]
    name = "consistency"
    kind = "command"
    command = ["python3", "rewards/examples/consistency.py"]
    weight = 0.2

Parts of the reply (each is kept per rollout as consistency.<part>):
  reached   1 when the final answer appears in the thinking as a whole number
            or word, else 0: the answer came from the reasoning, not from nowhere
  verified  1 when a tool call succeeded and its output holds the answer, else 0
A rollout with no final answer or no thinking is not this reward's business:
the reply is {"reward": null}, and `correct` and `format` judge it.
"""
import json
import re
import sys


def appears(answer, text):
    # "4" must not count as found inside "14" or "4.5".
    return re.search(r"(?<![\w.])" + re.escape(answer) + r"(?![\w]|\.\d)", text) is not None


def score(request):
    answer = request["final_answer"]
    thinking = request["thinking"]
    if answer is None or not thinking.strip():
        return {"reward": None}
    verified = any(call["status"] == "ok" and appears(answer, call["output"])
                   for call in request["tool_calls"])
    return {"rewards": {"reached": float(appears(answer, thinking)),
                        "verified": float(verified)}}


for line in sys.stdin:
    # One line in, one line out, flushed: ponder waits for it.
    print(json.dumps(score(json.loads(line))), flush=True)

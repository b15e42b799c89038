#!/usr/bin/env bash
# A rank killed with SIGKILL mid-training ends the whole job: mpirun exits
# non-zero, naming the rank, within the time limit, instead of rank 0 waiting
# forever in the next all-reduce. Exit 77 (ctest: skipped) without mpirun.
#
#   tests/parallel/kill_rank.sh build/ponder
set -euo pipefail
ponder=$(realpath "$1")
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
if ! command -v mpirun >/dev/null; then
  echo "skipped: mpirun not found (apt-get install openmpi-bin)"
  exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$root"
# A tiny model that trains far longer than the test waits.
"$ponder" config show /dev/null \
  --set run.out_dir="$work" --set run.name=t --set run.threads=1 \
  --set 'run.stages=["tokenizer", "shards", "pretrain"]' \
  --set 'tokenizer.inputs=["data/gsm8k/test.jsonl"]' --set tokenizer.vocab_size=300 \
  --set 'data.inputs=["data/gsm8k/test.jsonl"]' \
  --set model.hidden_size=32 --set model.intermediate_size=64 --set model.num_hidden_layers=1 \
  --set model.num_attention_heads=2 --set model.num_key_value_heads=1 \
  --set model.max_position_embeddings=64 --set pretrain.seq_len=32 --set pretrain.batch_size=2 \
  --set pretrain.steps=1000000 --set pretrain.log_every=1 >"$work/run.toml"

timeout 120 "$root/scripts/mpirun" -np 2 "$ponder" pretrain "$work/run.toml" \
  >"$work/log" 2>&1 &
job=$!
for _ in $(seq 600); do
  [[ -s "$work/t/metrics.jsonl" ]] && break
  sleep 0.1
done
[[ -s "$work/t/metrics.jsonl" ]] || { cat "$work/log"; echo "FAIL: training never started"; exit 1; }
# The ranks are mpirun's children; rank 1 is the one whose environment says so.
victim=""
for pid in $(pgrep -f "$work/run.toml"); do
  if tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qx OMPI_COMM_WORLD_RANK=1; then
    victim=$pid
  fi
done
[[ -n "$victim" ]] || { echo "FAIL: rank 1 not found"; exit 1; }
kill -9 "$victim"
status=0
wait "$job" || status=$?
tail -n 8 "$work/log"
if ((status == 124)); then echo "FAIL: the job hung after rank 1 was killed"; exit 1; fi
if ((status == 0)); then echo "FAIL: the job exited 0 after rank 1 was killed"; exit 1; fi
grep -q "rank 1 with PID" "$work/log" || { echo "FAIL: mpirun did not name rank 1"; exit 1; }
echo "ok: killing rank 1 ended the job with status $status"

// A tiny run that takes every stage in under a second: the overrides the
// pipeline tests (SFT, RL) start from, writing into `out_dir`.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace ponder::testing {

inline std::vector<std::string> tiny_pipeline_overrides(const std::filesystem::path& out_dir) {
  return {
      "run.out_dir=\"" + out_dir.string() + "\"",
      "run.name=t",
      "run.threads=1",
      "tokenizer.inputs=[\"data/gsm8k/test.jsonl\"]",
      "tokenizer.vocab_size=300",
      "model.hidden_size=32",
      "model.intermediate_size=64",
      "model.num_hidden_layers=1",
      "model.num_attention_heads=2",
      "model.num_key_value_heads=1",
      "model.max_position_embeddings=512",
      "pretrain.steps=2",
      "pretrain.batch_size=2",
      "pretrain.seq_len=64",
      "pretrain.eval_batches=1",
      "tasks.gsm8k=0",
      "tasks.lookup_entities=40",
      "sft.batch_size=2",
      "sft.seq_len=480",
      "sft.eval_batches=1",
  };
}

}  // namespace ponder::testing

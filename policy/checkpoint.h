// Checkpoints: a directory that Hugging Face `transformers` loads as
// LlamaForCausalLM, plus what training needs to resume exactly.
//
//   config.json            ModelConfig::to_hf_json (bos/eos/pad = <|bos|>, <|end|>, <|pad|>)
//   model.safetensors      parameters under HF names (parameter_specs order; tied
//                          embeddings have no lm_head.weight); metadata format=pt
//   tokenizer.json         Tokenizer::save
//   optimizer.safetensors  AdamW moments "<name>.exp_avg", "<name>.exp_avg_sq"
//                          (absent in an inference-only export)
//   trainer_state.json     TrainerState and a format version
//   checksums.json         size and CRC32 of every other file
//
// Invariants:
//  - A checkpoint directory is complete or absent: save builds it in
//    `<dir>.tmp-<pid>`, fsyncs it, and swaps it in with one rename (an existing
//    <dir> is replaced atomically where the filesystem allows, else renamed
//    aside first). A crash leaves the old checkpoint or the new one, never half.
//  - load verifies every checksum before reading anything, then checks the
//    tensors against parameter_specs(config); any mismatch is a ponder::Error
//    naming the directory and the file (and tensor or field).
//  - Loading returns exactly the bits that were saved.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "policy/model_config.h"
#include "policy/tokenizer.h"

namespace ponder {

struct TrainerState {
  int64_t step = 0;
  uint64_t tokens_seen = 0;
  uint64_t data_position = 0;
  std::string rng_state;
  int world_size = 1;
  nlohmann::json extra = nlohmann::json::object();  // free-form, for later stages

  bool operator==(const TrainerState&) const = default;
};

struct Checkpoint {
  ModelConfig config;
  std::vector<float> params;          // flat, parameter_specs(config) order
  std::vector<float> adam_m, adam_v;  // same layout; both empty = no optimizer state
  TrainerState state;
};

// Writes `checkpoint` to `dir` atomically (replacing any checkpoint there).
// Throws ponder::Error when sizes disagree with the config, the tokenizer has
// more ids than the model's vocab_size, or a write fails.
void save_checkpoint(const std::filesystem::path& dir, const Checkpoint& checkpoint,
                     const Tokenizer& tokenizer);

// Reads a checkpoint, verifying checksums, config, tensor names and shapes.
// With load_optimizer = false the moments are left empty (their file is still
// checksummed).
Checkpoint load_checkpoint(const std::filesystem::path& dir, bool load_optimizer = true);

// The checkpoint's tokenizer (its checksum verified); throws when it has more
// ids than the checkpoint's vocab_size.
Tokenizer load_checkpoint_tokenizer(const std::filesystem::path& dir);

// <checkpoints_dir>/step_<8-digit step>.
std::filesystem::path checkpoint_path(const std::filesystem::path& checkpoints_dir, int64_t step);

// The checkpoint of highest step in `checkpoints_dir` (entries named
// step_<digits>; temp dirs and anything else ignored), or nullopt when there
// is none or the folder does not exist.
std::optional<std::filesystem::path> latest_checkpoint(
    const std::filesystem::path& checkpoints_dir);

// Throws ponder::Error naming `dir` and each differing field with both values
// when the checkpoint's model is not the run's.
void require_same_model(const ModelConfig& run, const ModelConfig& checkpoint,
                        const std::filesystem::path& dir);

}  // namespace ponder

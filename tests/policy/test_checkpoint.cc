// Checkpoints: bitwise round trip, corruption and mismatch detection, finding
// the latest one, and atomic replacement.
#include <zlib.h>

#include <cstdlib>
#include <cstring>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "policy/checkpoint.h"
#include "policy/error.h"
#include "policy/pretokenizer.h"
#include "policy/safetensors.h"
#include "tests/test_util.h"

namespace ponder {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

Tokenizer small_tokenizer() {
  return Tokenizer({{'a', 'b'}, {256, 'c'}}, gpt4_style_pattern(1));
}

// V = the tokenizer's 272 ids, C 16, F 24, 2 layers, 4 heads, 2 kv heads.
ModelConfig small_config(bool tied = false) {
  ModelConfig c;
  c.vocab_size = 272;
  c.hidden_size = 16;
  c.intermediate_size = 24;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.max_position_embeddings = 32;
  c.tie_word_embeddings = tied;
  return c;
}

// Deterministic floats with every mantissa bit in play (tests/interop/
// test_safetensors.py computes the same): sign and mantissa from a hash of i.
float pattern_value(uint64_t i) {
  const auto u = static_cast<uint32_t>(i * 2654435761u);
  const uint32_t bits = (u & 0x80000000u) | 0x3F800000u | ((u >> 9) & 0x7FFFFFu);
  float x;
  std::memcpy(&x, &bits, 4);
  return x;
}

Checkpoint make_checkpoint(const ModelConfig& config, bool with_optimizer = true) {
  Checkpoint c;
  c.config = config;
  const size_t n = parameter_count(config);
  for (size_t i = 0; i < n; ++i) c.params.push_back(pattern_value(i));
  if (with_optimizer) {
    for (size_t i = 0; i < n; ++i) {
      c.adam_m.push_back(pattern_value(n + i));
      c.adam_v.push_back(std::abs(pattern_value(2 * n + i)));
    }
  }
  c.state.step = 42;
  c.state.tokens_seen = (uint64_t{1} << 40) + 7;
  c.state.data_position = 18446744073709551557ull;  // needs all 64 bits
  c.state.rng_state = "5489 123 456";
  c.state.world_size = 1;
  c.state.extra = {{"sft", {{"epoch", 2}, {"lr_scale", 0.1}}}};
  return c;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// Rewrites `name` in a checkpoint and fixes its entry in checksums.json, so a
// test reaches the checks behind the checksum.
void rewrite_with_checksum(const fs::path& dir, const std::string& name,
                           const std::string& contents) {
  testing::write_file(dir / name, contents);
  auto sums = nlohmann::json::parse(testing::read_file(dir / "checksums.json"));
  const auto crc = crc32(0, reinterpret_cast<const Bytef*>(contents.data()), contents.size());
  sums["files"][name] = {{"bytes", contents.size()}, {"crc32", fmt::format("{:08x}", crc)}};
  testing::write_file(dir / "checksums.json", sums.dump());
}

class CheckpointTest : public ::testing::Test {
 protected:
  std::string load_error(const fs::path& dir) {
    try {
      load_checkpoint(dir);
    } catch (const Error& e) {
      EXPECT_THAT(e.what(), HasSubstr(dir.string()));
      return e.what();
    }
    ADD_FAILURE() << "loading succeeded";
    return "";
  }

  testing::TempDir tmp_;
  const Tokenizer tokenizer_ = small_tokenizer();
};

TEST_F(CheckpointTest, RoundTripIsBitwise) {
  for (bool tied : {false, true}) {
    const Checkpoint saved = make_checkpoint(small_config(tied));
    const fs::path dir = tmp_ / (tied ? "tied" : "untied");
    save_checkpoint(dir, saved, tokenizer_);
    const Checkpoint loaded = load_checkpoint(dir);
    EXPECT_EQ(loaded.config, saved.config);
    EXPECT_TRUE(same_bits(loaded.params, saved.params));
    EXPECT_TRUE(same_bits(loaded.adam_m, saved.adam_m));
    EXPECT_TRUE(same_bits(loaded.adam_v, saved.adam_v));
    EXPECT_EQ(loaded.state, saved.state);

    const Tokenizer t = load_checkpoint_tokenizer(dir);
    EXPECT_EQ(t.vocab_size(), tokenizer_.vocab_size());
    EXPECT_EQ(t.merges(), tokenizer_.merges());
    EXPECT_EQ(t.encode("abc tab 12"), tokenizer_.encode("abc tab 12"));
  }
}

TEST_F(CheckpointTest, HfLayout) {
  save_checkpoint(tmp_ / "c", make_checkpoint(small_config(true)), tokenizer_);
  const auto config = nlohmann::json::parse(testing::read_file(tmp_ / "c" / "config.json"));
  EXPECT_EQ(config["bos_token_id"], tokenizer_.special_id(Special::kBos));
  EXPECT_EQ(config["eos_token_id"], tokenizer_.special_id(Special::kEnd));
  EXPECT_EQ(config["pad_token_id"], tokenizer_.special_id(Special::kPad));
  const SafetensorsFile model = read_safetensors(tmp_ / "c" / "model.safetensors");
  std::vector<std::string> names;
  for (const auto& s : parameter_specs(small_config(true))) names.push_back(s.name);
  EXPECT_EQ(model.names, names);
  EXPECT_FALSE(model.contains("lm_head.weight"));
  EXPECT_EQ(model.metadata.at("format"), "pt");
  const SafetensorsFile optimizer = read_safetensors(tmp_ / "c" / "optimizer.safetensors");
  EXPECT_EQ(optimizer.names.size(), 2 * names.size());
  EXPECT_TRUE(optimizer.contains("model.norm.weight.exp_avg"));
  EXPECT_TRUE(optimizer.contains("model.norm.weight.exp_avg_sq"));
}

TEST_F(CheckpointTest, InferenceOnlyExportHasNoOptimizerFile) {
  save_checkpoint(tmp_ / "c", make_checkpoint(small_config(), false), tokenizer_);
  EXPECT_FALSE(fs::exists(tmp_ / "c" / "optimizer.safetensors"));
  const Checkpoint loaded = load_checkpoint(tmp_ / "c");
  EXPECT_TRUE(loaded.adam_m.empty());
  EXPECT_TRUE(loaded.adam_v.empty());
}

TEST_F(CheckpointTest, LoadWithoutOptimizer) {
  const Checkpoint saved = make_checkpoint(small_config());
  save_checkpoint(tmp_ / "c", saved, tokenizer_);
  const Checkpoint loaded = load_checkpoint(tmp_ / "c", /*load_optimizer=*/false);
  EXPECT_TRUE(same_bits(loaded.params, saved.params));
  EXPECT_TRUE(loaded.adam_m.empty());
}

TEST_F(CheckpointTest, SaveRefusesInconsistentInput) {
  Checkpoint c = make_checkpoint(small_config());
  c.params.pop_back();
  EXPECT_THROW(save_checkpoint(tmp_ / "c", c, tokenizer_), Error);
  c = make_checkpoint(small_config());
  c.adam_v.clear();
  EXPECT_THROW(save_checkpoint(tmp_ / "c", c, tokenizer_), Error);
  ModelConfig small_vocab = small_config();
  small_vocab.vocab_size = 100;
  try {
    save_checkpoint(tmp_ / "c", make_checkpoint(small_vocab), tokenizer_);
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("the tokenizer has 272 ids but the model's vocab_size is 100"));
  }
  EXPECT_FALSE(fs::exists(tmp_ / "c"));
  EXPECT_TRUE(fs::is_empty(tmp_.path()));  // no temp folder left behind
}

TEST_F(CheckpointTest, CorruptByteIsDetected) {
  const fs::path dir = tmp_ / "c";
  save_checkpoint(dir, make_checkpoint(small_config()), tokenizer_);
  std::string bytes = testing::read_file(dir / "model.safetensors");
  bytes[bytes.size() / 2] ^= 0x01;
  testing::write_file(dir / "model.safetensors", bytes);
  EXPECT_EQ(load_error(dir),
            "checkpoint " + dir.string() + ": model.safetensors is corrupt (checksum mismatch)");
}

TEST_F(CheckpointTest, TruncationIsDetected) {
  const fs::path dir = tmp_ / "c";
  save_checkpoint(dir, make_checkpoint(small_config()), tokenizer_);
  const auto size = fs::file_size(dir / "optimizer.safetensors");
  fs::resize_file(dir / "optimizer.safetensors", size - 100);
  EXPECT_EQ(load_error(dir), fmt::format("checkpoint {}: optimizer.safetensors is truncated ({} "
                                         "bytes; expected {})",
                                         dir.string(), size - 100, size));
}

TEST_F(CheckpointTest, MissingFileIsDetected) {
  const fs::path dir = tmp_ / "c";
  for (const char* name : {"config.json", "model.safetensors", "tokenizer.json",
                           "optimizer.safetensors", "trainer_state.json", "checksums.json"}) {
    save_checkpoint(dir, make_checkpoint(small_config()), tokenizer_);
    fs::remove(dir / name);
    EXPECT_EQ(load_error(dir), fmt::format("checkpoint {}: missing file {}", dir.string(), name));
  }
  EXPECT_THAT(load_error(tmp_ / "absent"), HasSubstr("not found"));
}

TEST_F(CheckpointTest, CorruptChecksumList) {
  const fs::path dir = tmp_ / "c";
  save_checkpoint(dir, make_checkpoint(small_config()), tokenizer_);
  testing::write_file(dir / "checksums.json", "{\"format_version\": 1, \"fil");
  EXPECT_THAT(load_error(dir), HasSubstr("checksums.json is corrupt (not valid JSON)"));
  testing::write_file(dir / "checksums.json", R"({"format_version": 1, "files": {}})");
  EXPECT_THAT(load_error(dir), HasSubstr("checksums.json does not list config.json"));
  testing::write_file(
      dir / "checksums.json",
      R"({"format_version": 1, "files": {"config.json": {"bytes": 5, "crc32": 7}}})");
  EXPECT_THAT(load_error(dir),
              HasSubstr("checksums.json is corrupt (bad entry for `config.json`)"));
}

TEST_F(CheckpointTest, TensorShapeDiffersFromConfig) {
  const fs::path dir = tmp_ / "c";
  save_checkpoint(dir, make_checkpoint(small_config()), tokenizer_);
  ModelConfig wider = small_config();
  wider.intermediate_size = 32;
  rewrite_with_checksum(dir, "config.json", wider.to_hf_json(0, 0, 0));
  EXPECT_THAT(load_error(dir), HasSubstr(": model.safetensors: tensor "
                                         "`model.layers.0.mlp.gate_proj.weight` has shape "
                                         "[24, 16]; config.json expects [32, 16]"));
}

TEST_F(CheckpointTest, MissingAndUnexpectedTensors) {
  const fs::path dir = tmp_ / "c";
  save_checkpoint(dir, make_checkpoint(small_config()), tokenizer_);
  rewrite_with_checksum(dir, "config.json", small_config(true).to_hf_json(0, 0, 0));
  EXPECT_THAT(load_error(dir),
              HasSubstr("model.safetensors: tensor `lm_head.weight` is not a parameter"));

  save_checkpoint(dir, make_checkpoint(small_config(true)), tokenizer_);
  rewrite_with_checksum(dir, "config.json", small_config(false).to_hf_json(0, 0, 0));
  EXPECT_THAT(load_error(dir), HasSubstr("model.safetensors: missing tensor `lm_head.weight` "
                                         "(config.json expects shape [272, 16])"));
}

TEST_F(CheckpointTest, BadTrainerState) {
  const fs::path dir = tmp_ / "c";
  save_checkpoint(dir, make_checkpoint(small_config()), tokenizer_);
  auto state = nlohmann::json::parse(testing::read_file(dir / "trainer_state.json"));
  state.erase("step");
  rewrite_with_checksum(dir, "trainer_state.json", state.dump());
  EXPECT_THAT(load_error(dir), HasSubstr("trainer_state.json: missing `step`"));
  state["step"] = -3;
  rewrite_with_checksum(dir, "trainer_state.json", state.dump());
  EXPECT_THAT(load_error(dir), HasSubstr("`step` is -3; expected an integer >= 0"));
  state["step"] = 3;
  state["format_version"] = 99;
  rewrite_with_checksum(dir, "trainer_state.json", state.dump());
  EXPECT_THAT(load_error(dir), HasSubstr("format_version 99 is not supported"));
}

TEST_F(CheckpointTest, ConfigMismatchNamesEachField) {
  ModelConfig run = small_config();
  ModelConfig other = run;
  EXPECT_NO_THROW(require_same_model(run, other, tmp_ / "c"));
  other.hidden_size = 32;
  other.tie_word_embeddings = true;
  other.rope_theta = 500000;
  try {
    require_same_model(run, other, tmp_ / "c");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "checkpoint " + (tmp_ / "c").string() +
                  ": its model differs from the run's: hidden_size = 32 in the checkpoint, 16 in "
                  "the run; rope_theta = 500000 in the checkpoint, 10000 in the run; "
                  "tie_word_embeddings = true in the checkpoint, false in the run");
  }
}

TEST_F(CheckpointTest, LatestCheckpoint) {
  const fs::path root = tmp_ / "checkpoints";
  EXPECT_EQ(latest_checkpoint(root), std::nullopt);  // no folder yet
  fs::create_directories(root);
  EXPECT_EQ(latest_checkpoint(root), std::nullopt);
  for (const char* d : {"step_00000005", "step_00000012", "step_00000100.tmp-123",
                        "step_00000200.old-7", "step_", "step_-0000300", "notes"}) {
    fs::create_directories(root / d);
  }
  testing::write_file(root / "step_00000400", "a file, not a checkpoint");
  EXPECT_EQ(latest_checkpoint(root), root / "step_00000012");
  fs::create_directories(root / "step_123456789");  // past 8 digits still sorts by number
  EXPECT_EQ(latest_checkpoint(root), root / "step_123456789");
  EXPECT_EQ(checkpoint_path(root, 12), root / "step_00000012");
}

TEST_F(CheckpointTest, OverwriteIsAtomicAndLeavesNoDebris) {
  const fs::path root = tmp_ / "checkpoints";
  const fs::path dir = checkpoint_path(root, 7);
  Checkpoint first = make_checkpoint(small_config());
  save_checkpoint(dir, first, tokenizer_);
  Checkpoint second = make_checkpoint(small_config(), false);
  second.params[3] = 123.0f;
  second.state.step = 7;
  save_checkpoint(dir, second, tokenizer_);
  const Checkpoint loaded = load_checkpoint(dir);
  EXPECT_TRUE(same_bits(loaded.params, second.params));
  EXPECT_EQ(loaded.state.step, 7);
  EXPECT_FALSE(fs::exists(dir / "optimizer.safetensors"));  // the old folder is gone, not merged
  std::vector<std::string> entries;
  for (const auto& e : fs::directory_iterator(root)) entries.push_back(e.path().filename());
  EXPECT_EQ(entries, std::vector<std::string>{"step_00000007"});
  // A leftover temp folder from a crashed save neither hides nor breaks the checkpoint.
  fs::create_directories(root / "step_00000009.tmp-999");
  EXPECT_EQ(latest_checkpoint(root), dir);
}

// Writes a checkpoint for tests/interop/test_safetensors.py to open with the
// Python `safetensors` library; skipped unless that script runs it.
TEST(CheckpointExport, WritesForInterop) {
  const char* out = std::getenv("PONDER_EXPORT_DIR");
  if (out == nullptr) GTEST_SKIP() << "PONDER_EXPORT_DIR is not set";
  save_checkpoint(fs::path(out) / "checkpoint", make_checkpoint(small_config()), small_tokenizer());
}

}  // namespace
}  // namespace ponder

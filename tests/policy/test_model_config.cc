// ModelConfig: validation, config.json round trip and bad files, and the
// parameter layout shared by the model, the optimizer and checkpoints.
#include <cmath>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "policy/error.h"
#include "policy/model_config.h"
#include "tests/test_util.h"

namespace ponder {
namespace {

using ::testing::HasSubstr;

std::string validation_error(const ModelConfig& c) {
  try {
    c.validate();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "validation succeeded";
  return "";
}

TEST(ModelConfig, DefaultIsValid) {
  EXPECT_NO_THROW(ModelConfig().validate());
}

TEST(ModelConfig, EverySizeMustBePositive) {
  const std::pair<const char*, int ModelConfig::*> fields[] = {
      {"vocab_size", &ModelConfig::vocab_size},
      {"hidden_size", &ModelConfig::hidden_size},
      {"intermediate_size", &ModelConfig::intermediate_size},
      {"num_hidden_layers", &ModelConfig::num_hidden_layers},
      {"num_attention_heads", &ModelConfig::num_attention_heads},
      {"num_key_value_heads", &ModelConfig::num_key_value_heads},
      {"max_position_embeddings", &ModelConfig::max_position_embeddings},
  };
  for (const auto& [name, field] : fields) {
    ModelConfig c;
    c.*field = 0;
    EXPECT_EQ(validation_error(c), fmt::format("model config: {} = 0; expected >= 1", name));
  }
}

TEST(ModelConfig, HeadsMustDivideHidden) {
  ModelConfig c;
  c.num_attention_heads = 6;
  c.num_key_value_heads = 6;
  EXPECT_EQ(validation_error(c),
            "model config: num_attention_heads = 6 does not divide hidden_size = 256");
}

TEST(ModelConfig, HeadDimMustBeEven) {
  ModelConfig c;
  c.hidden_size = 12;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 4;
  EXPECT_THAT(validation_error(c), HasSubstr("head_dim = hidden_size / num_attention_heads = "
                                             "12 / 4 = 3 is odd"));
}

TEST(ModelConfig, KvHeadsMustDivideHeads) {
  ModelConfig c;
  c.num_key_value_heads = 3;
  EXPECT_EQ(validation_error(c),
            "model config: num_key_value_heads = 3 does not divide num_attention_heads = 4");
}

TEST(ModelConfig, EpsAndThetaMustBePositive) {
  ModelConfig c;
  c.rms_norm_eps = 0;
  EXPECT_EQ(validation_error(c), "model config: rms_norm_eps = 0; expected > 0");
  c = ModelConfig();
  c.rms_norm_eps = std::nan("");
  EXPECT_THAT(validation_error(c), HasSubstr("rms_norm_eps = nan"));
  c = ModelConfig();
  c.rope_theta = -1;
  EXPECT_EQ(validation_error(c), "model config: rope_theta = -1; expected a finite value > 0");
}

ModelConfig gqa_config() {
  ModelConfig c;
  c.vocab_size = 300;
  c.hidden_size = 48;
  c.intermediate_size = 80;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 6;
  c.num_key_value_heads = 2;
  c.max_position_embeddings = 64;
  c.rms_norm_eps = 1e-6;
  c.rope_theta = 500000.5;
  c.tie_word_embeddings = false;
  return c;
}

class ModelConfigFile : public ::testing::Test {
 protected:
  ModelConfigFile() : good_(nlohmann::json::parse(gqa_config().to_hf_json(1, 2, 3))) {}

  std::string load_error(const std::string& contents) {
    const auto path = dir_ / "config.json";
    testing::write_file(path, contents);
    try {
      ModelConfig::from_hf_json_file(path);
    } catch (const Error& e) {
      EXPECT_THAT(e.what(), HasSubstr(path.string()));
      return e.what();
    }
    ADD_FAILURE() << "loading succeeded";
    return "";
  }
  std::string load_error(const nlohmann::json& doc) { return load_error(doc.dump()); }

  testing::TempDir dir_;
  nlohmann::json good_;
};

TEST_F(ModelConfigFile, HfFields) {
  EXPECT_EQ(good_["architectures"], nlohmann::json::array({"LlamaForCausalLM"}));
  EXPECT_EQ(good_["model_type"], "llama");
  EXPECT_EQ(good_["hidden_act"], "silu");
  EXPECT_EQ(good_["torch_dtype"], "float32");
  EXPECT_EQ(good_["attention_bias"], false);
  EXPECT_EQ(good_["mlp_bias"], false);
  EXPECT_EQ(good_["head_dim"], 8);
  EXPECT_EQ(good_["num_key_value_heads"], 2);
  EXPECT_EQ(good_["tie_word_embeddings"], false);
  EXPECT_EQ(good_["bos_token_id"], 1);
  EXPECT_EQ(good_["eos_token_id"], 2);
  EXPECT_EQ(good_["pad_token_id"], 3);
  EXPECT_TRUE(good_["initializer_range"].is_number());
}

TEST_F(ModelConfigFile, RoundTripIsExact) {
  for (bool tied : {false, true}) {
    ModelConfig c = gqa_config();
    c.tie_word_embeddings = tied;
    c.rms_norm_eps = 1.0 / 3.0;  // needs all 17 digits
    testing::write_file(dir_ / "config.json", c.to_hf_json(0, 0, 0));
    EXPECT_EQ(ModelConfig::from_hf_json_file(dir_ / "config.json"), c);
  }
}

TEST_F(ModelConfigFile, IntegerThetaIsAccepted) {
  good_["rope_theta"] = 10000;
  testing::write_file(dir_ / "config.json", good_.dump());
  EXPECT_EQ(ModelConfig::from_hf_json_file(dir_ / "config.json").rope_theta, 10000.0);
}

TEST_F(ModelConfigFile, MissingFile) {
  try {
    ModelConfig::from_hf_json_file(dir_ / "nope.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("nope.json"));
    EXPECT_THAT(e.what(), HasSubstr("not found"));
  }
}

TEST_F(ModelConfigFile, NotJson) {
  const std::string text = good_.dump();
  EXPECT_THAT(load_error(text.substr(0, text.size() / 2)), HasSubstr("not valid JSON"));
  EXPECT_THAT(load_error(std::string("[1, 2]")), HasSubstr("expected a JSON object"));
}

TEST_F(ModelConfigFile, MissingField) {
  for (const char* key : {"vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                          "num_attention_heads", "num_key_value_heads", "max_position_embeddings",
                          "rms_norm_eps", "rope_theta", "tie_word_embeddings"}) {
    nlohmann::json doc = good_;
    doc.erase(key);
    EXPECT_THAT(load_error(doc), HasSubstr(fmt::format("missing `{}`", key)));
  }
}

TEST_F(ModelConfigFile, WrongType) {
  nlohmann::json doc = good_;
  doc["hidden_size"] = "48";
  EXPECT_THAT(load_error(doc), HasSubstr("`hidden_size` is string (\"48\"); expected an integer"));
  doc = good_;
  doc["hidden_size"] = 48.5;
  EXPECT_THAT(load_error(doc), HasSubstr("`hidden_size` is number (48.5); expected an integer"));
  doc = good_;
  doc["hidden_size"] = 1LL << 40;
  EXPECT_THAT(load_error(doc), HasSubstr("`hidden_size` = 1099511627776 is out of range"));
  doc = good_;
  doc["rope_theta"] = "big";
  EXPECT_THAT(load_error(doc), HasSubstr("`rope_theta` is string (\"big\"); expected a number"));
  doc = good_;
  doc["tie_word_embeddings"] = 1;
  EXPECT_THAT(load_error(doc), HasSubstr("`tie_word_embeddings` is number (1); expected true or "
                                         "false"));
}

TEST_F(ModelConfigFile, InvalidConfig) {
  good_["num_key_value_heads"] = 4;
  EXPECT_THAT(load_error(good_), HasSubstr("model config: num_key_value_heads = 4 does not divide "
                                           "num_attention_heads = 6"));
}

TEST_F(ModelConfigFile, UnsupportedLlamaVariants) {
  nlohmann::json doc = good_;
  doc["head_dim"] = 16;
  EXPECT_THAT(load_error(doc), HasSubstr("`head_dim` = 16 is not supported; expected "
                                         "hidden_size / num_attention_heads = 8"));
  doc = good_;
  doc["model_type"] = "mistral";
  EXPECT_THAT(load_error(doc), HasSubstr("`model_type` = \"mistral\" is not supported"));
  doc = good_;
  doc["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};
  EXPECT_THAT(load_error(doc), HasSubstr("`rope_scaling`"));
  doc = good_;
  doc["attention_bias"] = true;
  EXPECT_THAT(load_error(doc), HasSubstr("`attention_bias` = true is not supported"));
}

TEST(ParameterSpecs, GqaUntiedLayout) {
  const ModelConfig c = gqa_config();  // V 300, C 48, F 80, H 6, KV 2, D 8
  const auto specs = parameter_specs(c);
  ASSERT_EQ(specs.size(), 1u + 2 * 9 + 1 + 1);
  struct Want {
    std::string name;
    std::vector<int64_t> shape;
    bool decay;
  };
  std::vector<Want> want = {{"model.embed_tokens.weight", {300, 48}, false}};
  for (int i = 0; i < 2; ++i) {
    const std::string l = "model.layers." + std::to_string(i) + ".";
    want.push_back({l + "input_layernorm.weight", {48}, false});
    want.push_back({l + "self_attn.q_proj.weight", {48, 48}, true});
    want.push_back({l + "self_attn.k_proj.weight", {16, 48}, true});
    want.push_back({l + "self_attn.v_proj.weight", {16, 48}, true});
    want.push_back({l + "self_attn.o_proj.weight", {48, 48}, true});
    want.push_back({l + "post_attention_layernorm.weight", {48}, false});
    want.push_back({l + "mlp.gate_proj.weight", {80, 48}, true});
    want.push_back({l + "mlp.up_proj.weight", {80, 48}, true});
    want.push_back({l + "mlp.down_proj.weight", {48, 80}, true});
  }
  want.push_back({"model.norm.weight", {48}, false});
  want.push_back({"lm_head.weight", {300, 48}, true});
  size_t offset = 0;
  for (size_t i = 0; i < specs.size(); ++i) {
    SCOPED_TRACE(specs[i].name);
    EXPECT_EQ(specs[i].name, want[i].name);
    EXPECT_EQ(specs[i].shape, want[i].shape);
    EXPECT_EQ(specs[i].decay, want[i].decay);
    EXPECT_EQ(specs[i].offset, offset);
    size_t size = 1;
    for (int64_t d : want[i].shape) size *= d;
    EXPECT_EQ(specs[i].size, size);
    offset += size;
  }
  const size_t per_layer = 48 + 48 * 48 + 2 * 16 * 48 + 48 * 48 + 48 + 3 * 80 * 48;
  EXPECT_EQ(parameter_count(c), 2 * 300 * 48 + 2 * per_layer + 48);
  EXPECT_EQ(parameter_count(c), offset);
}

TEST(ParameterSpecs, TiedHasNoLmHead) {
  ModelConfig c = gqa_config();
  c.tie_word_embeddings = true;
  const auto specs = parameter_specs(c);
  EXPECT_EQ(specs.back().name, "model.norm.weight");
  EXPECT_EQ(parameter_count(c), parameter_count(gqa_config()) - 300 * 48);
  EXPECT_EQ(specs.back().offset + specs.back().size, parameter_count(c));
}

TEST(ParameterSpecs, DefaultConfigCount) {
  // V 4096, C 256, F 688, 4 layers, MHA, untied.
  const size_t per_layer = 2 * 256 + 4 * 256 * 256 + 3 * 256 * 688;
  EXPECT_EQ(parameter_count(ModelConfig()), 2 * 4096 * 256 + 4 * per_layer + 256);
}

}  // namespace
}  // namespace ponder

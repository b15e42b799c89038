#include "policy/model_config.h"

#include <fstream>
#include <limits>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "policy/error.h"

namespace ponder {

void ModelConfig::validate() const {
  const std::pair<const char*, int> sizes[] = {
      {"vocab_size", vocab_size},
      {"hidden_size", hidden_size},
      {"intermediate_size", intermediate_size},
      {"num_hidden_layers", num_hidden_layers},
      {"num_attention_heads", num_attention_heads},
      {"num_key_value_heads", num_key_value_heads},
      {"max_position_embeddings", max_position_embeddings},
  };
  for (const auto& [name, value] : sizes) {
    if (value < 1) throw Error(fmt::format("model config: {} = {}; expected >= 1", name, value));
  }
  if (hidden_size % num_attention_heads != 0) {
    throw Error(
        fmt::format("model config: num_attention_heads = {} does not divide hidden_size = {}",
                    num_attention_heads, hidden_size));
  }
  if (head_dim() % 2 != 0) {
    throw Error(fmt::format(
        "model config: head_dim = hidden_size / num_attention_heads = {} / {} = {} is odd; "
        "expected an even head_dim (RoPE rotates pairs)",
        hidden_size, num_attention_heads, head_dim()));
  }
  if (num_attention_heads % num_key_value_heads != 0) {
    throw Error(fmt::format(
        "model config: num_key_value_heads = {} does not divide num_attention_heads = {}",
        num_key_value_heads, num_attention_heads));
  }
  // `!(x > 0)` also rejects NaN.
  if (!(rms_norm_eps > 0)) {
    throw Error(fmt::format("model config: rms_norm_eps = {}; expected > 0", rms_norm_eps));
  }
  if (!(rope_theta > 0) || rope_theta == std::numeric_limits<double>::infinity()) {
    throw Error(
        fmt::format("model config: rope_theta = {}; expected a finite value > 0", rope_theta));
  }
}

std::string ModelConfig::to_hf_json(int bos_token_id, int eos_token_id, int pad_token_id) const {
  const nlohmann::ordered_json doc = {
      {"architectures", {"LlamaForCausalLM"}},
      {"model_type", "llama"},
      {"torch_dtype", "float32"},
      {"hidden_act", "silu"},
      {"attention_bias", false},
      {"mlp_bias", false},
      {"attention_dropout", 0.0},
      {"initializer_range", 0.02},
      {"rope_scaling", nullptr},
      {"use_cache", true},
      {"vocab_size", vocab_size},
      {"hidden_size", hidden_size},
      {"intermediate_size", intermediate_size},
      {"num_hidden_layers", num_hidden_layers},
      {"num_attention_heads", num_attention_heads},
      {"num_key_value_heads", num_key_value_heads},
      {"head_dim", head_dim()},
      {"max_position_embeddings", max_position_embeddings},
      {"rms_norm_eps", rms_norm_eps},
      {"rope_theta", rope_theta},
      {"tie_word_embeddings", tie_word_embeddings},
      {"bos_token_id", bos_token_id},
      {"eos_token_id", eos_token_id},
      {"pad_token_id", pad_token_id},
  };
  return doc.dump(2) + "\n";
}

namespace {

// Reads config.json fields, each error naming the file and the field.
class ConfigReader {
 public:
  ConfigReader(const nlohmann::json& doc, std::string where)
      : doc_(doc), where_(std::move(where)) {}

  int integer(const char* key) const {
    const auto& v = find(key, "an integer");
    if (!v.is_number_integer()) wrong_type(key, v, "an integer");
    if (v.is_number_unsigned() ? v.get<uint64_t>() > std::numeric_limits<int>::max()
                               : (v.get<int64_t>() > std::numeric_limits<int>::max() ||
                                  v.get<int64_t>() < std::numeric_limits<int>::min())) {
      throw Error(fmt::format("{}: `{}` = {} is out of range; expected a 32-bit integer", where_,
                              key, v.dump()));
    }
    return v.get<int>();
  }
  double number(const char* key) const {
    const auto& v = find(key, "a number");
    if (!v.is_number()) wrong_type(key, v, "a number");
    return v.get<double>();
  }
  bool boolean(const char* key) const {
    const auto& v = find(key, "true or false");
    if (!v.is_boolean()) wrong_type(key, v, "true or false");
    return v.get<bool>();
  }
  // Optional fields that ponder cannot honour unless they hold `expected`.
  void optional_equal(const char* key, const nlohmann::json& expected) const {
    auto it = doc_.find(key);
    if (it == doc_.end() || *it == expected) return;
    throw Error(fmt::format("{}: `{}` = {} is not supported; expected {}", where_, key, it->dump(),
                            expected.dump()));
  }

 private:
  const nlohmann::json& find(const char* key, const char* expected) const {
    auto it = doc_.find(key);
    if (it == doc_.end()) {
      throw Error(fmt::format("{}: missing `{}`; expected {}", where_, key, expected));
    }
    return *it;
  }
  [[noreturn]] void wrong_type(const char* key, const nlohmann::json& v,
                               const char* expected) const {
    throw Error(fmt::format("{}: `{}` is {} ({}); expected {}", where_, key, v.type_name(),
                            v.dump(), expected));
  }

  const nlohmann::json& doc_;
  std::string where_;
};

}  // namespace

ModelConfig ModelConfig::from_hf_json_file(const std::filesystem::path& file) {
  const std::string where = file.string();
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error(fmt::format("model config `{}` not found or unreadable", where));
  std::stringstream buffer;
  buffer << in.rdbuf();
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(buffer.str());
  } catch (const nlohmann::json::parse_error& e) {
    throw Error(
        fmt::format("{}: not valid JSON (truncated or corrupt?) at byte {}", where, e.byte));
  }
  if (!doc.is_object()) throw Error(fmt::format("{}: expected a JSON object", where));

  const ConfigReader read(doc, where);
  read.optional_equal("model_type", "llama");
  read.optional_equal("hidden_act", "silu");
  read.optional_equal("attention_bias", false);
  read.optional_equal("mlp_bias", false);
  read.optional_equal("rope_scaling", nullptr);

  ModelConfig c;
  c.vocab_size = read.integer("vocab_size");
  c.hidden_size = read.integer("hidden_size");
  c.intermediate_size = read.integer("intermediate_size");
  c.num_hidden_layers = read.integer("num_hidden_layers");
  c.num_attention_heads = read.integer("num_attention_heads");
  c.num_key_value_heads = read.integer("num_key_value_heads");
  c.max_position_embeddings = read.integer("max_position_embeddings");
  c.rms_norm_eps = read.number("rms_norm_eps");
  c.rope_theta = read.number("rope_theta");
  c.tie_word_embeddings = read.boolean("tie_word_embeddings");
  try {
    c.validate();
  } catch (const Error& e) {
    throw Error(fmt::format("{}: {}", where, e.what()));
  }
  if (doc.contains("head_dim") && doc["head_dim"] != c.head_dim()) {
    throw Error(fmt::format(
        "{}: `head_dim` = {} is not supported; expected hidden_size / num_attention_heads = {}",
        where, doc["head_dim"].dump(), c.head_dim()));
  }
  return c;
}

std::vector<ParameterSpec> parameter_specs(const ModelConfig& config) {
  const int64_t v = config.vocab_size, c = config.hidden_size, f = config.intermediate_size;
  const int64_t q = static_cast<int64_t>(config.num_attention_heads) * config.head_dim();
  const int64_t kv = config.kv_dim();
  std::vector<ParameterSpec> specs;
  size_t offset = 0;
  auto add = [&](std::string name, std::vector<int64_t> shape, bool decay) {
    size_t size = 1;
    for (int64_t d : shape) size *= static_cast<size_t>(d);
    specs.push_back({std::move(name), std::move(shape), offset, size, decay});
    offset += size;
  };
  add("model.embed_tokens.weight", {v, c}, false);
  for (int i = 0; i < config.num_hidden_layers; ++i) {
    const std::string layer = fmt::format("model.layers.{}.", i);
    add(layer + "input_layernorm.weight", {c}, false);
    add(layer + "self_attn.q_proj.weight", {q, c}, true);
    add(layer + "self_attn.k_proj.weight", {kv, c}, true);
    add(layer + "self_attn.v_proj.weight", {kv, c}, true);
    add(layer + "self_attn.o_proj.weight", {c, q}, true);
    add(layer + "post_attention_layernorm.weight", {c}, false);
    add(layer + "mlp.gate_proj.weight", {f, c}, true);
    add(layer + "mlp.up_proj.weight", {f, c}, true);
    add(layer + "mlp.down_proj.weight", {c, f}, true);
  }
  add("model.norm.weight", {c}, false);
  if (!config.tie_word_embeddings) add("lm_head.weight", {v, c}, true);
  return specs;
}

size_t parameter_count(const ModelConfig& config) {
  const auto specs = parameter_specs(config);
  return specs.back().offset + specs.back().size;
}

}  // namespace ponder

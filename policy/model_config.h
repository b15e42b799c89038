// ModelConfig: the shape of a Llama-style policy, with Hugging Face
// `LlamaConfig` field names so that config.json loads in `transformers`.
//
// Invariants (validate() checks them; every other function assumes them):
//   hidden_size % num_attention_heads == 0, head_dim = hidden_size / heads is even,
//   num_attention_heads % num_key_value_heads == 0, every size ≥ 1,
//   rms_norm_eps > 0, rope_theta > 0.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace ponder {

struct ModelConfig {
  int vocab_size = 4096;
  int hidden_size = 256;
  int intermediate_size = 688;
  int num_hidden_layers = 4;
  int num_attention_heads = 4;
  int num_key_value_heads = 4;
  int max_position_embeddings = 512;
  double rms_norm_eps = 1e-5;
  double rope_theta = 10000.0;
  bool tie_word_embeddings = false;

  int head_dim() const { return hidden_size / num_attention_heads; }
  int kv_dim() const { return num_key_value_heads * head_dim(); }

  // Throws ponder::Error naming the field and what was expected.
  void validate() const;

  // HF config.json text (architectures = LlamaForCausalLM, model_type = llama,
  // torch_dtype float32, bos/eos/pad ids given by the caller).
  std::string to_hf_json(int bos_token_id, int eos_token_id, int pad_token_id) const;
  // Reads config.json; throws ponder::Error naming the file and the field.
  static ModelConfig from_hf_json_file(const std::filesystem::path& file);

  bool operator==(const ModelConfig&) const = default;
};

// One parameter tensor: its HF name, shape, and place in the flat parameter
// array. The flat array holds the tensors in exactly this order, contiguous.
struct ParameterSpec {
  std::string name;            // e.g. "model.layers.0.self_attn.q_proj.weight"
  std::vector<int64_t> shape;  // e.g. {hidden_size, hidden_size}
  size_t offset = 0;           // in elements, into the flat array
  size_t size = 0;             // elements
  bool decay = true;           // AdamW weight decay applies (false: norms, embeddings)
};

// The tensors of `config`, in flat-array order: embed_tokens; then per layer
// input_layernorm, q_proj, k_proj, v_proj, o_proj, post_attention_layernorm,
// gate_proj, up_proj, down_proj; then model.norm; then lm_head unless tied.
std::vector<ParameterSpec> parameter_specs(const ModelConfig& config);

// Total elements of parameter_specs(config).
size_t parameter_count(const ModelConfig& config);

}  // namespace ponder

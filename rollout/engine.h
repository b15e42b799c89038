// Engine: batched generation with the KV cache and live tool calls.
//
// generate() samples `samples` completions for each prompt. Each prompt is
// prefilled once; its samples copy that prefix (KvCache::copy_prefix). Rows
// advance independently; a finished row leaves the batch, and so does a row
// waiting for its tool, while the others keep decoding.
//
// The tool loop of each row (DESIGN.md, "Rollout state machine"):
//   sampling --<|tool_call|>--> in_call --<|/tool_call|>--> the tool runs on
//   another thread --> forcing: <|tool_result|> output <|/tool_result|> enters
//   the row in one prefill chunk (mask 0, log-prob 0) --> sampling ...
// until <|end|> (finish "end"), max_new_tokens or the position limit
// ("length"), or a call beyond max_tool_calls ("tool_budget"). A call whose
// text is not "name\ninput", or names no tool, gets an error result, not a
// crash; a result longer than max_result_tokens is cut with a marker.
//
// The final answer is not parsed here: what counts as an answer belongs to the
// verifiers (extract_final_answer in curricula/answer.h reads it from `text`).
//
// Determinism: row (p, s) samples with its own RNG seeded from (seed, p, s),
// so the same seed gives the same rollouts whatever the batch composition or
// tool timing. Recorded log-probs are the untempered model's (sampler.h) and
// equal the training forward's on the same ids.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "policy/model.h"
#include "policy/tokenizer.h"
#include "rollout/sampler.h"

namespace ponder {

// What the engine needs from a model: next-token logits for new tokens of
// rows, each row with its own cache. ModelDecoder is the real one; tests
// script their own.
class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual int vocab_size() const = 0;
  virtual int max_positions() const = 0;
  // Starts `rows` empty rows of up to `positions` tokens.
  virtual void begin(int rows, int positions) = 0;
  // As Model::decode: logits[i·vocab ...] for entry i.
  virtual void decode(std::span<const int> rows, std::span<const int> positions,
                      std::span<const TokenId> tokens, float* logits) = 0;
  // As KvCache::copy_prefix.
  virtual void copy_prefix(int from, int to, int length) = 0;
};

// The policy model with a KV cache.
class ModelDecoder final : public Decoder {
 public:
  explicit ModelDecoder(Model<float>& model) : model_(model) {}
  int vocab_size() const override { return model_.config().vocab_size; }
  int max_positions() const override { return model_.config().max_position_embeddings; }
  void begin(int rows, int positions) override;
  void decode(std::span<const int> rows, std::span<const int> positions,
              std::span<const TokenId> tokens, float* logits) override;
  void copy_prefix(int from, int to, int length) override { cache_->copy_prefix(from, to, length); }

 private:
  Model<float>& model_;
  std::unique_ptr<KvCache<float>> cache_;
};

struct ToolOutcome {
  std::string output;  // what the model is shown
  std::string status;  // "ok", "error", "timeout", "limit"
  double latency_ms = 0;
};

// Runs one tool call; must be thread-safe (calls from many rows overlap).
using ToolCaller = std::function<ToolOutcome(std::string_view tool, std::string_view input)>;

struct GenerationOptions {
  SamplerOptions sampler;
  uint64_t seed = 0;
  // The index of prompts[0] in a larger batch split over calls (the ranks of
  // a data-parallel run): rows seed from (seed, first_prompt + p, s), so the
  // parts sample what the whole batch would.
  size_t first_prompt = 0;
  int max_new_tokens = 256;     // completion tokens, forced ones included
  int max_tool_calls = 4;       // per rollout
  int max_result_tokens = 128;  // per tool result
  bool tools = true;            // false: <|tool_call|> can never be sampled
  int batch_rows = 64;          // rows decoded together
};

struct ToolCallSegment {
  std::string tool, input;
  ToolOutcome outcome;
};

struct Rollout {
  int prompt = 0, sample = 0;
  int prompt_tokens = 0;
  std::vector<TokenId> ids;     // the completion
  std::vector<float> logprobs;  // per completion token; 0 where forced
  std::vector<uint8_t> mask;    // 1: sampled by the policy; 0: forced tool-result tokens
  std::string text;             // render_text of ids
  std::string thinking;         // the thinking spans' text, joined
  int thinking_tokens = 0;      // tokens inside thinking spans
  double entropy = 0;           // mean over sampled tokens of the model's entropy (nats)
  std::vector<ToolCallSegment> tool_calls;
  std::string finish_reason;  // "end", "length", "tool_budget"
  double seconds = 0;         // from the start of generate() to the row's finish
};

class Engine {
 public:
  // `tools` may be empty when options.tools is false. The decoder and
  // tokenizer must outlive the engine.
  Engine(Decoder& decoder, const Tokenizer& tokenizer, ToolCaller tools);

  // Rollouts in order prompt-major: [p0 s0, p0 s1, ..., p1 s0, ...].
  // `on_token(index, id)` (optional) sees each completion token as it lands.
  std::vector<Rollout> generate(const std::vector<std::vector<TokenId>>& prompts, int samples,
                                const GenerationOptions& options,
                                const std::function<void(size_t, TokenId)>& on_token = {});

  // The most positions a row holds, prompt included: a prompt this long or
  // longer leaves no room to generate (generate() throws for it).
  int max_positions() const { return decoder_.max_positions(); }

 private:
  Decoder& decoder_;
  const Tokenizer& tokenizer_;
  ToolCaller tools_;
};

}  // namespace ponder

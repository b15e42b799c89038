#include "rollout/engine.h"

#include <algorithm>
#include <chrono>
#include <future>

#include <fmt/format.h>

#include "policy/chat.h"
#include "policy/error.h"

namespace ponder {
namespace {

using Clock = std::chrono::steady_clock;

enum class RowState { kSampling, kInCall, kWaiting, kDone };

struct Row {
  size_t index = 0;    // into the result vector
  int prompt_row = 0;  // the cache row holding this prompt's prefill
  int length = 0;      // positions filled in the cache
  RowState state = RowState::kSampling;
  std::mt19937_64 rng;
  SampledToken next{};        // sampled, not yet in the cache
  std::vector<TokenId> call;  // tokens of the open tool call
  std::future<ToolOutcome> pending;
  std::vector<TokenId> feed;  // tokens to put in the cache next step
};

uint64_t row_seed(uint64_t seed, size_t prompt, int sample) {
  uint64_t x = seed ^ (prompt * 0x9E3779B97F4A7C15ull) ^ (static_cast<uint64_t>(sample) << 32);
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace

void ModelDecoder::begin(int rows, int positions) {
  cache_.reset();  // free the old cache before allocating the new one
  cache_ = std::make_unique<KvCache<float>>(model_, rows, positions);
}

void ModelDecoder::decode(std::span<const int> rows, std::span<const int> positions,
                          std::span<const TokenId> tokens, float* logits) {
  model_.decode(*cache_, rows, positions, tokens, logits);
}

Engine::Engine(Decoder& decoder, const Tokenizer& tokenizer, ToolCaller tools)
    : decoder_(decoder), tokenizer_(tokenizer), tools_(std::move(tools)) {}

std::vector<Rollout> Engine::generate(const std::vector<std::vector<TokenId>>& prompts, int samples,
                                      const GenerationOptions& options,
                                      const std::function<void(size_t, TokenId)>& on_token) {
  if (samples < 1)
    throw Error(fmt::format("samples per prompt must be at least 1, got {}", samples));
  const auto start = Clock::now();
  const int vocab = decoder_.vocab_size();
  const TokenId end = tokenizer_.special_id(Special::kEnd);
  const TokenId call_start = tokenizer_.special_id(Special::kToolCallStart);
  const TokenId call_end = tokenizer_.special_id(Special::kToolCallEnd);
  const std::vector<TokenId> banned =
      options.tools ? std::vector<TokenId>{} : std::vector<TokenId>{call_start};

  std::vector<Rollout> out(prompts.size() * samples);
  const size_t per_chunk = std::max<size_t>(1, options.batch_rows / samples);
  std::vector<float> logits;
  for (size_t first = 0; first < prompts.size(); first += per_chunk) {
    const size_t chunk = std::min(per_chunk, prompts.size() - first);
    const int rows = static_cast<int>(chunk) * samples;
    size_t longest = 0;
    for (size_t p = first; p < first + chunk; ++p) longest = std::max(longest, prompts[p].size());
    const int max_positions =
        std::min<int>(decoder_.max_positions(), static_cast<int>(longest) + options.max_new_tokens);
    if (longest == 0 || static_cast<int>(longest) >= max_positions) {
      throw Error(
          fmt::format("a prompt of {} tokens leaves no room to generate within {} "
                      "positions",
                      longest, max_positions));
    }
    decoder_.begin(rows, max_positions);

    // Prefill each prompt once, into its first sample's row.
    std::vector<int> entry_rows, positions;
    std::vector<TokenId> tokens;
    std::vector<size_t> last_entry(chunk);
    for (size_t p = 0; p < chunk; ++p) {
      const auto& prompt = prompts[first + p];
      for (size_t t = 0; t < prompt.size(); ++t) {
        entry_rows.push_back(static_cast<int>(p) * samples);
        positions.push_back(static_cast<int>(t));
        tokens.push_back(prompt[t]);
      }
      last_entry[p] = tokens.size() - 1;
    }
    logits.resize(tokens.size() * vocab);
    decoder_.decode(entry_rows, positions, tokens, logits.data());

    std::vector<Row> state(rows);
    for (int r = 0; r < rows; ++r) {
      const size_t p = static_cast<size_t>(r / samples);
      const int s = r % samples;
      Row& row = state[r];
      row.index = (first + p) * samples + s;
      row.length = static_cast<int>(prompts[first + p].size());
      row.rng.seed(row_seed(options.seed, options.first_prompt + first + p, s));
      if (s > 0) decoder_.copy_prefix(static_cast<int>(p) * samples, r, row.length);
      row.next =
          sample_token(&logits[last_entry[p] * vocab], vocab, options.sampler, row.rng, banned);
      out[row.index].prompt = static_cast<int>(first + p);
      out[row.index].prompt_tokens = row.length;
      out[row.index].sample = s;
    }

    auto finish = [&](Row& row, const char* reason) {
      row.state = RowState::kDone;
      out[row.index].finish_reason = reason;
      out[row.index].seconds = std::chrono::duration<double>(Clock::now() - start).count();
    };
    auto append = [&](Row& row, TokenId id, float logprob, uint8_t mask) {
      Rollout& r = out[row.index];
      r.ids.push_back(id);
      r.logprobs.push_back(logprob);
      r.mask.push_back(mask);
      if (on_token) on_token(row.index, id);
    };
    auto room = [&](const Row& row, size_t tokens_more) {
      return out[row.index].ids.size() + tokens_more <=
                 static_cast<size_t>(options.max_new_tokens) &&
             row.length + static_cast<int>(tokens_more) <= max_positions;
    };

    while (true) {
      // 1. Land each sampled token and advance the row's state machine.
      for (Row& row : state) {
        if (row.state != RowState::kSampling && row.state != RowState::kInCall) continue;
        const SampledToken t = row.next;
        append(row, t.id, t.logprob, 1);
        out[row.index].entropy += t.entropy;
        if (t.id == end) {
          finish(row, "end");
        } else if (row.state == RowState::kSampling && t.id == call_start) {
          if (static_cast<int>(out[row.index].tool_calls.size()) >= options.max_tool_calls) {
            finish(row, "tool_budget");
            continue;
          }
          row.state = RowState::kInCall;
          row.call.clear();
          row.feed = {t.id};
        } else if (row.state == RowState::kInCall && t.id == call_end) {
          // The call is complete: run it on another thread; the row sits out until it returns.
          const std::string text = tokenizer_.decode(row.call);
          const size_t newline = text.find('\n');
          ToolCallSegment segment;
          bool well_formed = newline != std::string::npos && newline > 0;
          for (TokenId id : row.call) well_formed = well_formed && !tokenizer_.is_special(id);
          if (well_formed) {
            segment.tool = text.substr(0, newline);
            segment.input = text.substr(newline + 1);
            // A tool that throws is a bug in the tool, but still only a message to the model.
            row.pending = std::async(
                std::launch::async,
                [this, tool = segment.tool, input = segment.input]() -> ToolOutcome {
                  try {
                    return tools_(tool, input);
                  } catch (const std::exception& e) {
                    return {fmt::format("error: the tool failed: {}", e.what()), "error", 0};
                  }
                });
          } else {
            segment.input = text;
            std::promise<ToolOutcome> ready;
            ready.set_value(
                {"error: a tool call is the tool's name, a newline, then its input", "error", 0});
            row.pending = ready.get_future();
          }
          out[row.index].tool_calls.push_back(std::move(segment));
          row.feed = {t.id};
          row.state = RowState::kWaiting;
        } else {
          if (row.state == RowState::kInCall) row.call.push_back(t.id);
          row.feed = {t.id};
        }
        if (row.state != RowState::kDone && row.state != RowState::kWaiting && !room(row, 1)) {
          finish(row, "length");
        }
      }
      // 2. Rows whose tool returned get its result forced in after the call's end.
      bool any_waiting = false;
      for (Row& row : state) {
        if (row.state != RowState::kWaiting) continue;
        if (row.pending.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
          any_waiting = true;
          continue;
        }
        ToolOutcome outcome = row.pending.get();
        std::vector<TokenId> forced = {tokenizer_.special_id(Special::kToolResultStart)};
        std::vector<TokenId> result = tokenizer_.encode(outcome.output);
        if (static_cast<int>(result.size()) > options.max_result_tokens) {
          result.resize(options.max_result_tokens);
          tokenizer_.encode_append("…[truncated]", result);
        }
        forced.insert(forced.end(), result.begin(), result.end());
        forced.push_back(tokenizer_.special_id(Special::kToolResultEnd));
        out[row.index].tool_calls.back().outcome = std::move(outcome);
        if (!room(row, forced.size() + 1)) {
          finish(row, "length");
          continue;
        }
        for (TokenId id : forced) append(row, id, 0.0f, 0);
        row.feed.insert(row.feed.end(), forced.begin(), forced.end());
        row.state = RowState::kSampling;
      }
      // 3. One decode call for every row with tokens to feed.
      entry_rows.clear();
      positions.clear();
      tokens.clear();
      std::vector<std::pair<Row*, size_t>> fed;  // row, its last entry
      for (int r = 0; r < rows; ++r) {
        Row& row = state[r];
        if (row.feed.empty() || row.state == RowState::kDone || row.state == RowState::kWaiting) {
          continue;
        }
        for (TokenId id : row.feed) {
          entry_rows.push_back(r);
          positions.push_back(row.length++);
          tokens.push_back(id);
        }
        row.feed.clear();
        fed.emplace_back(&row, tokens.size() - 1);
      }
      if (tokens.empty()) {
        if (!any_waiting) break;
        // Everyone left is waiting for a tool: block until the first returns.
        for (Row& row : state) {
          if (row.state == RowState::kWaiting) {
            row.pending.wait();
            break;
          }
        }
        continue;
      }
      logits.resize(tokens.size() * vocab);
      decoder_.decode(entry_rows, positions, tokens, logits.data());
      // Rows sample in parallel: each has its own RNG, so the result is the same.
#pragma omp parallel for schedule(static)
      for (size_t i = 0; i < fed.size(); ++i) {
        Row* row = fed[i].first;
        row->next =
            sample_token(&logits[fed[i].second * vocab], vocab, options.sampler, row->rng, banned);
      }
    }
  }

  // Segments: the thinking spans' text and token count.
  const TokenId think_start = tokenizer_.special_id(Special::kThinkStart);
  const TokenId think_end = tokenizer_.special_id(Special::kThinkEnd);
  for (Rollout& r : out) {
    const auto sampled = std::count(r.mask.begin(), r.mask.end(), uint8_t{1});
    if (sampled > 0) r.entropy /= static_cast<double>(sampled);
    r.text = render_text(tokenizer_, r.ids);
    bool thinking = false;
    std::vector<TokenId> span;
    for (TokenId id : r.ids) {
      if (id == think_start) {
        thinking = true;
      } else if (id == think_end) {
        thinking = false;
      } else if (thinking) {
        span.push_back(id);
      }
    }
    r.thinking_tokens = static_cast<int>(span.size());
    r.thinking = render_text(tokenizer_, span);
  }
  return out;
}

}  // namespace ponder

#include "app/sample.h"

#include <algorithm>

#include <fmt/format.h>

#include "curricula/answer.h"
#include "policy/chat.h"
#include "policy/checkpoint.h"
#include "policy/cpu/cpu_backend.h"
#include "policy/error.h"
#include "policy/model.h"

namespace ponder {
namespace {

// The text of generated ids. Ordinary text that spells "<|" is broken up so
// that only real special tokens read as special tokens (answer extraction
// relies on it: model output is hostile input).
std::string response_text(const Tokenizer& tokenizer, const std::vector<TokenId>& ids) {
  std::string text;
  std::string run;
  auto flush = [&] {
    size_t at = 0;
    while ((at = run.find("<|", at)) != std::string::npos) run.replace(at, 2, "< |");
    text += run;
    run.clear();
  };
  for (TokenId id : ids) {
    if (tokenizer.is_special(id)) {
      flush();
      text += tokenizer.token_text(id);
    } else {
      run += tokenizer.token_text(id);
    }
  }
  flush();
  return text;
}

size_t count_of(const std::string& text, std::string_view what) {
  size_t count = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++count;
  return count;
}

}  // namespace

std::vector<SampledResponse> sample_responses(const std::filesystem::path& checkpoint,
                                              const std::vector<Task>& tasks,
                                              const SampleOptions& options) {
  const Checkpoint ckpt = load_checkpoint(checkpoint, false);
  const Tokenizer tokenizer = load_checkpoint_tokenizer(checkpoint);
  CpuBackend<float> backend;
  Model<float> model(backend, ckpt.config);
  model.set_params(ckpt.params);
  const int vocab = ckpt.config.vocab_size;
  const TokenId end = tokenizer.special_id(Special::kEnd);
  const TokenId call_end = tokenizer.special_id(Special::kToolCallEnd);

  std::vector<SampledResponse> responses(tasks.size());
  std::vector<float> logits;
  for (size_t first = 0; first < tasks.size(); first += options.batch) {
    const int rows = static_cast<int>(std::min<size_t>(options.batch, tasks.size() - first));
    std::vector<std::vector<TokenId>> prompts(rows), generated(rows);
    int longest = 0;
    for (int r = 0; r < rows; ++r) {
      prompts[r] = render_prompt(tokenizer, user_turn(tasks[first + r].prompt));
      if (options.direct) {
        prompts[r].push_back(tokenizer.special_id(Special::kAnswerStart));
        generated[r].push_back(tokenizer.special_id(Special::kAnswerStart));
      }
      longest = std::max(longest, static_cast<int>(prompts[r].size()));
    }
    const int max_positions =
        std::min(ckpt.config.max_position_embeddings, longest + options.max_new_tokens);
    if (longest >= max_positions) {
      throw Error(
          fmt::format("a prompt of {} tokens leaves no room to answer within "
                      "max_position_embeddings = {}",
                      longest, ckpt.config.max_position_embeddings));
    }
    KvCache<float> cache(model, rows, max_positions);
    // Prefill every prompt in one call; each row's next token comes from its last entry.
    std::vector<int> entry_rows, positions;
    std::vector<TokenId> tokens;
    std::vector<size_t> last_entry(rows);
    for (int r = 0; r < rows; ++r) {
      for (size_t t = 0; t < prompts[r].size(); ++t) {
        entry_rows.push_back(r);
        positions.push_back(static_cast<int>(t));
        tokens.push_back(prompts[r][t]);
      }
      last_entry[r] = tokens.size() - 1;
    }
    logits.resize(tokens.size() * vocab);
    model.decode(cache, entry_rows, positions, tokens, logits.data());
    std::vector<int> active(rows), length(rows);
    std::vector<TokenId> next(rows);
    for (int r = 0; r < rows; ++r) {
      active[r] = r;
      length[r] = static_cast<int>(prompts[r].size());
      const float* row = &logits[last_entry[r] * vocab];
      next[r] = static_cast<TokenId>(std::max_element(row, row + vocab) - row);
    }
    while (!active.empty()) {
      std::vector<int> still, step_rows, step_positions;
      std::vector<TokenId> step_tokens;
      for (int r : active) {
        generated[r].push_back(next[r]);
        const bool stop = next[r] == end || next[r] == call_end || length[r] + 1 >= max_positions ||
                          static_cast<int>(generated[r].size()) >= options.max_new_tokens;
        if (next[r] == call_end) responses[first + r].ended_at_tool_call = true;
        if (stop) continue;
        still.push_back(r);
        step_rows.push_back(r);
        step_positions.push_back(length[r]);
        step_tokens.push_back(next[r]);
        ++length[r];
      }
      active = still;
      if (active.empty()) break;
      logits.resize(active.size() * vocab);
      model.decode(cache, step_rows, step_positions, step_tokens, logits.data());
      for (size_t i = 0; i < active.size(); ++i) {
        const float* row = &logits[i * vocab];
        next[active[i]] = static_cast<TokenId>(std::max_element(row, row + vocab) - row);
      }
    }
    for (int r = 0; r < rows; ++r) {
      responses[first + r].text = response_text(tokenizer, generated[r]);
      responses[first + r].tokens = static_cast<int>(generated[r].size());
    }
  }
  return responses;
}

SampleReport score_responses(const std::vector<Task>& tasks,
                             const std::vector<SampledResponse>& responses) {
  SampleReport report;
  report.n = static_cast<int>(tasks.size());
  double tokens = 0;
  for (size_t i = 0; i < tasks.size(); ++i) {
    const SampledResponse& r = responses[i];
    tokens += r.tokens;
    report.tool_calls += r.ended_at_tool_call;
    const auto answer = extract_final_answer(r.text);
    const bool thinking_closed =
        count_of(r.text, kSpecialTokens[static_cast<int>(Special::kThinkStart)]) ==
        count_of(r.text, kSpecialTokens[static_cast<int>(Special::kThinkEnd)]);
    if (answer && thinking_closed && !r.ended_at_tool_call) {
      ++report.well_formed;
      report.correct += check(tasks[i], *answer);
    }
  }
  report.mean_response_tokens = tasks.empty() ? 0 : tokens / static_cast<double>(tasks.size());
  return report;
}

}  // namespace ponder

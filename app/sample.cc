#include "app/sample.h"

#include "curricula/answer.h"
#include "policy/chat.h"
#include "policy/checkpoint.h"
#include "policy/device.h"
#include "policy/model.h"

namespace ponder {

std::vector<Rollout> sample_responses(const std::filesystem::path& checkpoint,
                                      const std::vector<Task>& tasks, const SampleOptions& options,
                                      const ToolCaller& tools) {
  const Checkpoint ckpt = load_checkpoint(checkpoint, false);
  const Tokenizer tokenizer = load_checkpoint_tokenizer(checkpoint);
  const auto backend = make_backend(options.device);
  Model<float> model(*backend, ckpt.config);
  model.set_params(ckpt.params);
  ModelDecoder decoder(model);
  Engine engine(decoder, tokenizer, tools);

  const TokenId answer = tokenizer.special_id(Special::kAnswerStart);
  std::vector<std::vector<TokenId>> prompts;
  for (const Task& task : tasks) {
    prompts.push_back(render_prompt(tokenizer, user_turn(task.prompt)));
    if (options.direct) prompts.back().push_back(answer);
  }
  GenerationOptions generation;
  generation.sampler.temperature = options.temperature;
  generation.seed = options.seed;
  generation.max_new_tokens = options.max_new_tokens;
  generation.tools = !options.direct;
  std::vector<Rollout> rollouts = engine.generate(prompts, 1, generation);
  if (options.direct) {
    for (Rollout& r : rollouts) r.text = std::string(tokenizer.token_text(answer)) + r.text;
  }
  return rollouts;
}

SampleReport score_responses(const std::vector<Task>& tasks,
                             const std::vector<Rollout>& responses) {
  SampleReport report;
  report.n = static_cast<int>(tasks.size());
  double tokens = 0;
  for (size_t i = 0; i < tasks.size(); ++i) {
    const Rollout& r = responses[i];
    tokens += static_cast<double>(r.ids.size());
    report.tool_calls += static_cast<int>(r.tool_calls.size());
    const auto answer = extract_final_answer(r.text);
    if (answer && r.finish_reason == "end") {
      ++report.well_formed;
      report.correct += check(tasks[i], *answer);
    }
  }
  report.mean_response_tokens = tasks.empty() ? 0 : tokens / static_cast<double>(tasks.size());
  return report;
}

}  // namespace ponder

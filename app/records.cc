#include "app/records.h"

#include "curricula/answer.h"

namespace ponder {

RolloutRecord rollout_record(const Task& task, const Rollout& rollout, int64_t step,
                             const std::string& split, const std::string& benchmark) {
  RolloutRecord record;
  record.step = step;
  record.split = split;
  record.benchmark = benchmark;
  record.family = std::string(family_name(task.family));
  record.task_id = task.id;
  record.prompt = task.prompt;
  record.completion = rollout.text;
  record.expected_answer = task.answer;
  record.extracted_answer = extract_final_answer(rollout.text);
  record.correct = record.extracted_answer && rollout.finish_reason == "end" &&
                   check(task, *record.extracted_answer);
  record.prompt_tokens = rollout.prompt_tokens;
  record.completion_tokens = static_cast<int>(rollout.ids.size());
  record.thinking_tokens = rollout.thinking_tokens;
  record.finish_reason = rollout.finish_reason;
  record.seconds = rollout.seconds;
  for (const auto& call : rollout.tool_calls) {
    record.tool_calls.push_back(
        {call.tool, call.input, call.outcome.output, call.outcome.status, call.outcome.latency_ms});
  }
  record.token_ids = rollout.ids;
  record.logprobs = rollout.logprobs;
  return record;
}

}  // namespace ponder

#include "app/records.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "curricula/answer.h"
#include "policy/error.h"

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

namespace {

// MessagePack keeps a string's bytes as they are (JSON text would insist on
// UTF-8) and a double's 64 bits; a float widens to a double and back exactly.
nlohmann::json to_wire(const RolloutRecord& r) {
  nlohmann::json calls = nlohmann::json::array();
  for (const ToolCallRecord& c : r.tool_calls) {
    calls.push_back({c.tool, c.input, c.output, c.status, c.latency_ms});
  }
  return {r.step,
          r.split,
          r.benchmark,
          r.family,
          r.task_id,
          r.prompt,
          r.completion,
          r.expected_answer,
          r.extracted_answer ? nlohmann::json(*r.extracted_answer) : nlohmann::json(nullptr),
          r.correct,
          r.reward,
          r.rewards,
          r.advantage,
          r.prompt_tokens,
          r.completion_tokens,
          r.thinking_tokens,
          r.finish_reason,
          r.seconds,
          calls,
          r.token_ids,
          r.logprobs};
}

RolloutRecord from_wire(const nlohmann::json& w) {
  RolloutRecord r;
  size_t i = 0;
  auto next = [&]() -> const nlohmann::json& { return w.at(i++); };
  r.step = next().get<int64_t>();
  r.split = next().get<std::string>();
  r.benchmark = next().get<std::string>();
  r.family = next().get<std::string>();
  r.task_id = next().get<std::string>();
  r.prompt = next().get<std::string>();
  r.completion = next().get<std::string>();
  r.expected_answer = next().get<std::string>();
  if (const auto& a = next(); !a.is_null()) r.extracted_answer = a.get<std::string>();
  r.correct = next().get<bool>();
  r.reward = next().get<double>();
  r.rewards = next().get<std::map<std::string, double>>();
  r.advantage = next().get<double>();
  r.prompt_tokens = next().get<int>();
  r.completion_tokens = next().get<int>();
  r.thinking_tokens = next().get<int>();
  r.finish_reason = next().get<std::string>();
  r.seconds = next().get<double>();
  for (const auto& c : next()) {
    r.tool_calls.push_back({c.at(0).get<std::string>(), c.at(1).get<std::string>(),
                            c.at(2).get<std::string>(), c.at(3).get<std::string>(),
                            c.at(4).get<double>()});
  }
  r.token_ids = next().get<std::vector<int32_t>>();
  r.logprobs = next().get<std::vector<float>>();
  return r;
}

}  // namespace

std::string encode_records(std::span<const RolloutRecord> records) {
  nlohmann::json all = nlohmann::json::array();
  for (const RolloutRecord& r : records) all.push_back(to_wire(r));
  const std::vector<uint8_t> bytes = nlohmann::json::to_msgpack(all);
  return std::string(bytes.begin(), bytes.end());
}

std::vector<RolloutRecord> decode_records(std::string_view bytes) {
  try {
    std::vector<RolloutRecord> out;
    for (const auto& w : nlohmann::json::from_msgpack(bytes)) out.push_back(from_wire(w));
    return out;
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("rollout records from another rank are malformed: {}", e.what()));
  }
}

}  // namespace ponder

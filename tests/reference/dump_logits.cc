// ponder_dump_logits: ponder's logits for token sequences, for comparison with
// an independent implementation (tests/reference/hf_parity.py compares them
// with Hugging Face `transformers`).
//
//   ponder_dump_logits --checkpoint DIR --request IN.json --out OUT.json [--device cpu|cuda]
//
// Request: {"sequences": [[id, ...], ...], "texts": ["...", ...],
//           "greedy_prompts": [[id, ...], ...], "greedy_steps": N}
//   Each text is encoded with the checkpoint's tokenizer and evaluated after
//   the given sequences. Each greedy prompt is decoded greedily for N tokens
//   (no stop token), all prompts as rows of one KV cache: one prefill call,
//   then one token per row per Model::decode call, rows at their own positions.
// Output: {"text_ids": [[id, ...], ...],
//          "sequences": [{"ids": [...], "logits": [[vocab floats] per position],
//                         "logprobs": [log π(ids[t+1]) per position, 0 at the last]}],
//          "greedy": [{"tokens": [N ids], "logits": [[vocab floats] that chose each]}]}
// Logits come from Model<float>::forward (one sequence per call, batch 1) on
// the CPU, or with --device cuda on the GPU in fp32 (policy/device.h);
// floats are written exactly (as doubles, shortest round trip).
#include <algorithm>
#include <fstream>
#include <iostream>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "policy/checkpoint.h"
#include "policy/cpu/blas.h"
#include "policy/device.h"
#include "policy/error.h"
#include "policy/model.h"

namespace {

using nlohmann::json;
using ponder::TokenId;

json rows_of(const float* data, size_t rows, size_t width) {
  json out = json::array();
  for (size_t r = 0; r < rows; ++r) {
    out.push_back(std::vector<float>(data + r * width, data + (r + 1) * width));
  }
  return out;
}

// Full forward of one sequence: its logits and the log-probs of each next id.
json evaluate(ponder::Model<float>& model, const std::vector<TokenId>& ids) {
  const int seq = static_cast<int>(ids.size());
  std::vector<TokenId> targets(seq, -1);
  std::copy(ids.begin() + 1, ids.end(), targets.begin());
  const std::vector<float> weights(seq, 1.0f);
  model.forward(ids.data(), targets.data(), weights.data(), 1, seq);
  const std::vector<float> logits = model.logits();
  return {{"ids", ids},
          {"logits", rows_of(logits.data(), seq, model.config().vocab_size)},
          {"logprobs", model.token_logprobs()}};
}

// Greedy decoding of `steps` tokens after each prompt; prompt i is row i.
json greedy(ponder::Model<float>& model, const std::vector<std::vector<TokenId>>& prompts,
            int steps) {
  const int vocab = model.config().vocab_size;
  const int rows = static_cast<int>(prompts.size());
  size_t longest = 0;
  for (const auto& p : prompts) longest = std::max(longest, p.size());
  ponder::KvCache<float> cache(model, rows, static_cast<int>(longest) + steps);

  // Prefill: every prompt in one call; each row's last entry predicts its first token.
  std::vector<int> row_of, position_of, last_entry(rows);
  std::vector<TokenId> tokens;
  for (int r = 0; r < rows; ++r) {
    for (size_t t = 0; t < prompts[r].size(); ++t) {
      row_of.push_back(r);
      position_of.push_back(static_cast<int>(t));
      tokens.push_back(prompts[r][t]);
    }
    last_entry[r] = static_cast<int>(tokens.size()) - 1;
  }
  std::vector<float> logits(tokens.size() * vocab);
  model.decode(cache, row_of, position_of, tokens, logits.data());

  json out = json::array();
  std::vector<std::vector<float>> chosen_by(rows);  // logits that chose each token, per row
  std::vector<TokenId> next(rows);
  std::vector<std::vector<TokenId>> generated(rows);
  auto pick = [&](int r, const float* row_logits) {
    chosen_by[r].insert(chosen_by[r].end(), row_logits, row_logits + vocab);
    next[r] = static_cast<TokenId>(std::max_element(row_logits, row_logits + vocab) - row_logits);
    generated[r].push_back(next[r]);
  };
  for (int r = 0; r < rows; ++r)
    pick(r, logits.data() + static_cast<size_t>(last_entry[r]) * vocab);
  // Then one token per row per call; rows sit at different positions.
  std::vector<int> all_rows(rows), positions(rows);
  for (int r = 0; r < rows; ++r) all_rows[r] = r;
  logits.resize(static_cast<size_t>(rows) * vocab);
  for (int s = 1; s < steps; ++s) {
    for (int r = 0; r < rows; ++r) positions[r] = static_cast<int>(prompts[r].size()) + s - 1;
    model.decode(cache, all_rows, positions, next, logits.data());
    for (int r = 0; r < rows; ++r) pick(r, logits.data() + static_cast<size_t>(r) * vocab);
  }
  for (int r = 0; r < rows; ++r) {
    out.push_back({{"tokens", generated[r]},
                   {"logits", rows_of(chosen_by[r].data(), generated[r].size(), vocab)}});
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ponder's logits for token sequences (see tests/reference/README.md)"};
  std::string checkpoint_dir, request_file, out_file;
  int threads = 1;
  app.add_option("--checkpoint", checkpoint_dir, "checkpoint directory")->required();
  app.add_option("--request", request_file, "request JSON")->required();
  app.add_option("--out", out_file, "output JSON")->required();
  app.add_option("--threads", threads, "math threads (0: all cores)");
  std::string device = "cpu";
  app.add_option("--device", device, "cpu or cuda (fp32 matmuls)")
      ->check(CLI::IsMember({"cpu", "cuda"}))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    std::ifstream in(request_file);
    if (!in) throw ponder::Error(fmt::format("cannot read request {}", request_file));
    const json request = json::parse(in);
    ponder::set_math_threads(threads);
    const ponder::Checkpoint ckpt = ponder::load_checkpoint(checkpoint_dir, false);
    const ponder::Tokenizer tokenizer = ponder::load_checkpoint_tokenizer(checkpoint_dir);
    const auto backend =
        ponder::make_backend({.device = device, .precision = "fp32", .source = "--device"});
    ponder::Model<float> model(*backend, ckpt.config);
    model.set_params(ckpt.params);

    std::vector<std::vector<TokenId>> sequences =
        request.value("sequences", std::vector<std::vector<TokenId>>{});
    json text_ids = json::array();
    for (const std::string& text : request.value("texts", std::vector<std::string>{})) {
      sequences.push_back(tokenizer.encode(text));
      text_ids.push_back(sequences.back());
    }
    json out = {{"text_ids", text_ids}, {"sequences", json::array()}};
    for (const auto& ids : sequences) {
      if (ids.empty()) throw ponder::Error("a request sequence is empty");
      out["sequences"].push_back(evaluate(model, ids));
    }
    const auto prompts = request.value("greedy_prompts", std::vector<std::vector<TokenId>>{});
    const int steps = request.value("greedy_steps", 0);
    for (const auto& p : prompts) {
      if (p.empty()) throw ponder::Error("a greedy prompt is empty");
    }
    if (steps > 0 && !prompts.empty()) out["greedy"] = greedy(model, prompts, steps);

    std::ofstream file(out_file);
    file << out.dump() << "\n";
    if (!file.flush()) throw ponder::Error(fmt::format("cannot write {}", out_file));
  } catch (const std::exception& e) {
    std::cerr << "ponder_dump_logits: " << e.what() << "\n";
    return 1;
  }
}

#include "app/pretrain.h"

#include <chrono>
#include <cmath>
#include <fstream>
#include <random>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "policy/checkpoint.h"
#include "policy/cpu/blas.h"
#include "policy/cpu/cpu_backend.h"
#include "policy/error.h"
#include "policy/lr_schedule.h"
#include "policy/model.h"
#include "policy/optimizer.h"
#include "policy/token_shard.h"

namespace ponder {
namespace {

using Clock = std::chrono::steady_clock;

// The model shape a config asks for; the vocabulary comes from the tokenizer.
ModelConfig model_config(const Config& config, int vocab_size) {
  ModelConfig m;
  m.vocab_size = vocab_size;
  m.hidden_size = static_cast<int>(config.get_int("model.hidden_size"));
  m.intermediate_size = static_cast<int>(config.get_int("model.intermediate_size"));
  m.num_hidden_layers = static_cast<int>(config.get_int("model.num_hidden_layers"));
  m.num_attention_heads = static_cast<int>(config.get_int("model.num_attention_heads"));
  m.num_key_value_heads = static_cast<int>(config.get_int("model.num_key_value_heads"));
  m.max_position_embeddings = static_cast<int>(config.get_int("model.max_position_embeddings"));
  m.rms_norm_eps = config.get_float("model.rms_norm_eps");
  m.rope_theta = config.get_float("model.rope_theta");
  m.tie_word_embeddings = config.get_bool("model.tie_word_embeddings");
  m.validate();
  return m;
}

// `batch` windows of seq + 1 tokens at random offsets of `tokens`: inputs are
// the first seq, targets the last seq.
void draw_batch(std::mt19937_64& rng, const std::vector<TokenId>& tokens, int batch, int seq,
                std::vector<TokenId>& inputs, std::vector<TokenId>& targets) {
  inputs.resize(static_cast<size_t>(batch) * seq);
  targets.resize(inputs.size());
  const uint64_t starts = tokens.size() - seq;  // valid starts: [0, size - seq - 1]
  for (int b = 0; b < batch; ++b) {
    const uint64_t start = rng() % starts;
    for (int t = 0; t < seq; ++t) {
      inputs[static_cast<size_t>(b) * seq + t] = tokens[start + t];
      targets[static_cast<size_t>(b) * seq + t] = tokens[start + t + 1];
    }
  }
}

std::string rng_to_string(const std::mt19937_64& rng) {
  std::ostringstream out;
  out << rng;
  return out.str();
}

void rng_from_string(std::mt19937_64& rng, const std::string& text,
                     const std::filesystem::path& dir) {
  std::istringstream in(text);
  in >> rng;
  if (!in) throw Error(fmt::format("checkpoint {}: the data RNG state is corrupt", dir.string()));
}

// metrics.jsonl keeps only the lines of steps <= `step`: a resumed run
// re-logs what came after its checkpoint, so nothing is counted twice.
void truncate_metrics(const std::filesystem::path& file, int64_t step) {
  std::ifstream in(file);
  if (!in) return;
  std::string kept, line;
  while (std::getline(in, line)) {
    const auto record = nlohmann::json::parse(line, nullptr, false);
    if (!record.is_discarded() && record.value("step", INT64_MAX) <= step) kept += line + "\n";
  }
  in.close();
  std::ofstream(file, std::ios::trunc) << kept;
}

void check_tokens_fit(const std::vector<TokenId>& tokens, int seq, const char* split,
                      const std::filesystem::path& folder) {
  if (tokens.size() < static_cast<size_t>(seq) + 2) {
    throw Error(
        fmt::format("the {} shards in `{}` hold {} tokens; pretrain.seq_len = {} needs "
                    "at least {}",
                    split, folder.string(), tokens.size(), seq, seq + 2));
  }
}

}  // namespace

PretrainSummary run_pretrain(const Config& config, const std::filesystem::path& run_folder,
                             int64_t stop_at_step) {
  set_math_threads(static_cast<int>(config.get_int("run.threads")));
  CpuBackend<float> backend;
  fmt::print("pretrain: {}\n", backend.describe());

  const std::filesystem::path tokenizer_dir = run_folder / "tokenizer";
  if (!std::filesystem::exists(tokenizer_dir / "tokenizer.json")) {
    throw Error(fmt::format("no tokenizer in `{}`; run the `tokenizer` stage first",
                            tokenizer_dir.string()));
  }
  const Tokenizer tokenizer = Tokenizer::load(tokenizer_dir);
  const std::filesystem::path shards = run_folder / "shards";
  const std::vector<TokenId> train_tokens = read_token_shards(shards, "train");
  const std::vector<TokenId> val_tokens = read_token_shards(shards, "val");

  const ModelConfig model_cfg = model_config(config, tokenizer.vocab_size());
  const int batch = static_cast<int>(config.get_int("pretrain.batch_size"));
  const int seq = static_cast<int>(config.get_int("pretrain.seq_len"));
  const int accum = static_cast<int>(config.get_int("pretrain.grad_accum"));
  const int64_t total_steps = config.get_int("pretrain.steps");
  if (seq > model_cfg.max_position_embeddings) {
    throw Error(fmt::format("pretrain.seq_len = {} exceeds model.max_position_embeddings = {}", seq,
                            model_cfg.max_position_embeddings));
  }
  check_tokens_fit(train_tokens, seq, "training", shards);
  check_tokens_fit(val_tokens, seq, "held-out", shards);

  Model<float> model(backend, model_cfg);
  AdamWConfig adam;
  adam.beta1 = config.get_float("optim.beta1");
  adam.beta2 = config.get_float("optim.beta2");
  adam.eps = config.get_float("optim.eps");
  adam.weight_decay = config.get_float("optim.weight_decay");
  adam.grad_clip = config.get_float("optim.grad_clip");
  AdamW<float> optimizer(backend, model.specs(), model.params(), model.grads(), adam);
  LrSchedule schedule{LrSchedule::parse_kind(config.get_string("optim.schedule")),
                      config.get_float("optim.lr"),
                      config.get_int("optim.warmup_steps"),
                      total_steps,
                      config.get_float("optim.min_lr_ratio"),
                      config.get_float("optim.decay_fraction")};

  const auto seed = static_cast<uint64_t>(config.get_int("run.seed"));
  std::mt19937_64 rng(seed);
  TrainerState state;
  const std::filesystem::path checkpoints = run_folder / "checkpoints";
  const std::filesystem::path metrics_file = run_folder / "metrics.jsonl";
  if (const auto latest = latest_checkpoint(checkpoints)) {
    const Checkpoint ckpt = load_checkpoint(*latest);
    require_same_model(model_cfg, ckpt.config, *latest);
    if (ckpt.adam_m.empty()) {
      throw Error(
          fmt::format("checkpoint {} has no optimizer state to resume from", latest->string()));
    }
    model.set_params(ckpt.params);
    backend.upload(optimizer.m(), ckpt.adam_m.data(), ckpt.adam_m.size());
    backend.upload(optimizer.v(), ckpt.adam_v.data(), ckpt.adam_v.size());
    optimizer.set_steps_taken(ckpt.state.extra.value("optimizer_steps", ckpt.state.step));
    state = ckpt.state;
    rng_from_string(rng, state.rng_state, *latest);
    truncate_metrics(metrics_file, state.step);
    fmt::print("pretrain: resumed from {} (step {})\n", latest->string(), state.step);
  } else {
    model.init_weights(seed, config.get_float("model.initializer_range"));
  }
  fmt::print(
      "pretrain: {:.2f}M parameters; {} training tokens, {} held-out; {} steps of {} x {} "
      "x {} tokens\n",
      model.num_parameters() / 1e6, train_tokens.size(), val_tokens.size(), total_steps, accum,
      batch, seq);

  const int n = batch * seq;
  const std::vector<float> weights(n, 1.0f / static_cast<float>(n * accum));
  const std::vector<float> eval_weights(n, 1.0f / static_cast<float>(n));
  std::vector<TokenId> inputs, targets;
  auto held_out_loss = [&] {
    // The same windows every time (own RNG), so the curve compares like with like.
    std::mt19937_64 eval_rng(seed ^ 0x9E3779B97F4A7C15ull);
    const int64_t batches = config.get_int("pretrain.eval_batches");
    double sum = 0;
    for (int64_t i = 0; i < batches; ++i) {
      draw_batch(eval_rng, val_tokens, batch, seq, inputs, targets);
      sum += model.forward(inputs.data(), targets.data(), eval_weights.data(), batch, seq);
    }
    return sum / static_cast<double>(batches);
  };
  auto save = [&] {
    Checkpoint ckpt;
    ckpt.config = model_cfg;
    ckpt.params = model.get_params();
    ckpt.adam_m.resize(model.num_parameters());
    ckpt.adam_v.resize(model.num_parameters());
    backend.download(ckpt.adam_m.data(), optimizer.m(), ckpt.adam_m.size());
    backend.download(ckpt.adam_v.data(), optimizer.v(), ckpt.adam_v.size());
    state.rng_state = rng_to_string(rng);
    state.extra["optimizer_steps"] = optimizer.steps_taken();
    ckpt.state = state;
    const auto dir = checkpoint_path(checkpoints, state.step);
    save_checkpoint(dir, ckpt, tokenizer);
    fmt::print("pretrain: checkpoint {}\n", dir.string());
  };

  std::ofstream metrics(metrics_file, std::ios::app);
  const int64_t log_every = config.get_int("pretrain.log_every");
  const int64_t eval_every = config.get_int("pretrain.eval_every");
  const int64_t checkpoint_every = config.get_int("pretrain.checkpoint_every");
  const int64_t max_bad = config.get_int("pretrain.max_bad_steps");
  const int64_t end_step = stop_at_step > 0 ? std::min(stop_at_step, total_steps) : total_steps;
  PretrainSummary summary;
  int64_t bad_in_a_row = 0;
  auto window_start = Clock::now();
  int64_t window_tokens = 0;
  while (state.step < end_step) {
    const double lr = schedule.at(state.step);
    model.zero_grad();
    double loss = 0;
    for (int micro = 0; micro < accum; ++micro) {
      draw_batch(rng, train_tokens, batch, seq, inputs, targets);
      loss += model.forward(inputs.data(), targets.data(), weights.data(), batch, seq);
      model.backward();
    }
    state.data_position += static_cast<uint64_t>(accum) * batch;
    state.tokens_seen += static_cast<uint64_t>(accum) * n;
    window_tokens += static_cast<int64_t>(accum) * n;
    const double grad_norm = std::isfinite(loss) ? optimizer.step(lr) : NAN;
    ++state.step;
    if (!std::isfinite(loss) || !std::isfinite(grad_norm)) {
      ++summary.skipped_steps;
      state.extra["skipped_steps"] = state.extra.value("skipped_steps", 0) + 1;
      fmt::print("pretrain: step {} skipped: loss {} grad norm {}\n", state.step, loss, grad_norm);
      if (++bad_in_a_row >= max_bad) {
        throw Error(
            fmt::format("pretrain: {} steps in a row had a non-finite loss or gradient "
                        "(last: step {}); lower optim.lr or check the data",
                        bad_in_a_row, state.step));
      }
      continue;
    }
    bad_in_a_row = 0;
    summary.last_train_loss = loss;
    if (state.step % log_every == 0 || state.step == end_step) {
      const double seconds = std::chrono::duration<double>(Clock::now() - window_start).count();
      const double tokens_per_s = window_tokens / std::max(seconds, 1e-9);
      const double eta = (total_steps - state.step) * static_cast<double>(accum) * n / tokens_per_s;
      fmt::print(
          "step {:>6}/{} | loss {:.4f} | lr {:.2e} | grad norm {:.3f} | {:.0f} tok/s | "
          "eta {:.0f} s\n",
          state.step, total_steps, loss, lr, grad_norm, tokens_per_s, eta);
      metrics << nlohmann::json{{"step", state.step},
                                {"split", "train"},
                                {"loss", loss},
                                {"lr", lr},
                                {"grad_norm", grad_norm},
                                {"tokens_per_s", tokens_per_s},
                                {"tokens", state.tokens_seen}}
                     .dump()
              << "\n";
      window_start = Clock::now();
      window_tokens = 0;
    }
    if (state.step % eval_every == 0 || state.step == total_steps) {
      summary.last_val_loss = held_out_loss();
      fmt::print("step {:>6}/{} | held-out loss {:.4f}\n", state.step, total_steps,
                 summary.last_val_loss);
      metrics << nlohmann::json{{"step", state.step},
                                {"split", "val"},
                                {"loss", summary.last_val_loss}}
                     .dump()
              << "\n";
    }
    metrics.flush();
    if (state.step % checkpoint_every == 0 || state.step == end_step) save();
  }
  summary.step = state.step;
  return summary;
}

}  // namespace ponder

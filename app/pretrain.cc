#include "app/pretrain.h"

#include <random>

#include <fmt/format.h>

#include "app/training.h"
#include "policy/error.h"
#include "policy/token_shard.h"

namespace ponder {
namespace {

// `batch` windows of seq + 1 tokens at random offsets of `tokens`: inputs are
// the first seq, targets the last seq. Every rank draws every window's offset
// (so the RNG advances alike everywhere) and keeps the rows of `rows`.
void draw_batch(std::mt19937_64& rng, const std::vector<TokenId>& tokens, int batch, int seq,
                Slice rows, std::vector<TokenId>& inputs, std::vector<TokenId>& targets) {
  inputs.resize(rows.size() * seq);
  targets.resize(inputs.size());
  const uint64_t starts = tokens.size() - seq;  // valid starts: [0, size - seq - 1]
  for (int b = 0; b < batch; ++b) {
    const uint64_t start = rng() % starts;
    if (!rows.contains(static_cast<size_t>(b))) continue;
    const size_t row = static_cast<size_t>(b) - rows.begin;
    for (int t = 0; t < seq; ++t) {
      inputs[row * seq + t] = tokens[start + t];
      targets[row * seq + t] = tokens[start + t + 1];
    }
  }
}

void check_tokens_fit(const std::vector<TokenId>& tokens, int seq, const char* split,
                      const std::filesystem::path& folder) {
  if (tokens.size() < static_cast<size_t>(seq) + 2) {
    throw Error(
        fmt::format("the {} shards in `{}` hold {} tokens; pretrain.seq_len = {} needs at least {}",
                    split, folder.string(), tokens.size(), seq, seq + 2));
  }
}

}  // namespace

TrainingSummary run_pretrain(const Config& config, const std::filesystem::path& run_folder,
                             int64_t stop_at_step) {
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
  if (seq > model_cfg.max_position_embeddings) {
    throw Error(fmt::format("pretrain.seq_len = {} exceeds model.max_position_embeddings = {}", seq,
                            model_cfg.max_position_embeddings));
  }
  check_tokens_fit(train_tokens, seq, "training", shards);
  check_tokens_fit(val_tokens, seq, "held-out", shards);

  const int n = batch * seq;
  TrainingCadence cadence;
  cadence.total_steps = config.get_int("pretrain.steps");
  cadence.log_every = config.get_int("pretrain.log_every");
  cadence.eval_every = config.get_int("pretrain.eval_every");
  cadence.checkpoint_every = config.get_int("pretrain.checkpoint_every");
  cadence.max_bad_steps = config.get_int("pretrain.max_bad_steps");
  cadence.tokens_per_step = static_cast<uint64_t>(n) * accum;
  TrainingSession session(config, "pretrain", model_cfg, run_folder, config.get_float("optim.lr"),
                          config.get_int("optim.warmup_steps"), cadence);
  const auto seed = static_cast<uint64_t>(config.get_int("run.seed"));
  if (!session.resume(cadence.total_steps)) {
    session.model().init_weights(seed, config.get_float("model.initializer_range"));
  }
  Model<float>& model = session.model();
  fmt::print(
      "pretrain: {:.2f}M parameters; {} training tokens, {} held-out; {} steps of {} x {} x {} "
      "tokens\n",
      model.num_parameters() / 1e6, train_tokens.size(), val_tokens.size(), cadence.total_steps,
      accum, batch, seq);

  // This rank's rows of each batch, weighted by the whole batch's token count.
  const Slice rows = batch_slice(session.comm(), batch, "pretrain.batch_size");
  const int local = static_cast<int>(rows.size());
  const size_t local_n = rows.size() * seq;
  const std::vector<float> weights(local_n, 1.0f / static_cast<float>(n * accum));
  const std::vector<float> eval_weights(local_n, 1.0f / static_cast<float>(n));
  std::vector<TokenId> inputs, targets;
  auto train_step = [&] {
    double loss = 0;
    for (int micro = 0; micro < accum; ++micro) {
      draw_batch(session.rng(), train_tokens, batch, seq, rows, inputs, targets);
      loss += model.forward(inputs.data(), targets.data(), weights.data(), local, seq);
      model.backward(micro + 1 == accum ? session.gradient_listener() : nullptr);
    }
    return loss;
  };
  auto held_out_loss = [&] {
    // The same windows every time (own RNG), so the curve compares like with like.
    std::mt19937_64 eval_rng(seed ^ 0x9E3779B97F4A7C15ull);
    const int64_t batches = config.get_int("pretrain.eval_batches");
    double sum = 0;
    for (int64_t i = 0; i < batches; ++i) {
      draw_batch(eval_rng, val_tokens, batch, seq, rows, inputs, targets);
      sum += model.forward(inputs.data(), targets.data(), eval_weights.data(), local, seq);
    }
    return sum / static_cast<double>(batches);
  };
  const int64_t end = stop_at_step > 0 ? stop_at_step : cadence.total_steps;
  return session.run(end, train_step, held_out_loss, tokenizer);
}

}  // namespace ponder

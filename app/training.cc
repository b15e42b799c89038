#include "app/training.h"

#include <chrono>
#include <cmath>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "app/backend_choice.h"
#include "policy/cpu/blas.h"
#include "policy/error.h"

namespace ponder {
namespace {

using Clock = std::chrono::steady_clock;

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

AdamWConfig adamw_config(const Config& config) {
  AdamWConfig adam;
  adam.beta1 = config.get_float("optim.beta1");
  adam.beta2 = config.get_float("optim.beta2");
  adam.eps = config.get_float("optim.eps");
  adam.weight_decay = config.get_float("optim.weight_decay");
  adam.grad_clip = config.get_float("optim.grad_clip");
  return adam;
}

}  // namespace

Slice batch_slice(const Communicator& comm, int64_t batch, const char* key) {
  if (batch < comm.size()) {
    throw Error(
        fmt::format("{} = {} is less than the {} ranks of this run: every rank needs at "
                    "least one row; raise {} or start fewer ranks",
                    key, batch, comm.size(), key));
  }
  return rank_slice(static_cast<size_t>(batch), comm.rank(), comm.size());
}

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

TrainingSession::TrainingSession(const Config& config, std::string stage,
                                 const ModelConfig& model_config, std::filesystem::path folder,
                                 double peak_lr, int64_t warmup_steps, TrainingCadence cadence)
    : backend_(make_backend(config)),
      stage_(std::move(stage)),
      folder_(std::move(folder)),
      cadence_(cadence),
      schedule_{LrSchedule::parse_kind(config.get_string("optim.schedule")),
                peak_lr,
                warmup_steps,
                cadence.total_steps,
                config.get_float("optim.min_lr_ratio"),
                config.get_float("optim.decay_fraction")},
      rng_(static_cast<uint64_t>(config.get_int("run.seed"))),
      comm_(Communicator::world()),
      check_every_(config.get_int("run.check_every")) {
  // metrics.jsonl is appended to from the first step, before any checkpoint
  // would have made the folder.
  std::filesystem::create_directories(folder_);
  set_math_threads(static_cast<int>(config.get_int("run.threads")));
  fmt::print("{}: {}\n", stage_, backend_->describe());
  model_ = std::make_unique<Model<float>>(*backend_, model_config);
  optimizer_ = std::make_unique<AdamW<float>>(*backend_, model_->specs(), model_->params(),
                                              model_->grads(), adamw_config(config));
  gradient_sync_ = make_gradient_sync(config, comm_, *backend_, *model_);
}

bool TrainingSession::resume(int64_t last_step) {
  const auto latest = latest_checkpoint(folder_ / "checkpoints");
  if (!latest) return false;
  const Checkpoint ckpt = load_checkpoint(*latest);
  require_same_model(model_->config(), ckpt.config, *latest);
  if (ckpt.state.step < last_step && ckpt.state.world_size != comm_.size()) {
    throw Error(fmt::format(
        "{}: checkpoint {} (step {} of {}) was written by a run of {} rank(s), and this run "
        "has {}; resume it with the same number of ranks (mpirun -np {}), or start the stage "
        "afresh in a new run.name",
        stage_, latest->string(), ckpt.state.step, last_step, ckpt.state.world_size, comm_.size(),
        ckpt.state.world_size));
  }
  if (ckpt.adam_m.empty()) {
    throw Error(
        fmt::format("checkpoint {} has no optimizer state to resume from", latest->string()));
  }
  model_->set_params(ckpt.params);
  backend_->upload(optimizer_->m(), ckpt.adam_m.data(), ckpt.adam_m.size());
  backend_->upload(optimizer_->v(), ckpt.adam_v.data(), ckpt.adam_v.size());
  optimizer_->set_steps_taken(ckpt.state.extra.value("optimizer_steps", ckpt.state.step));
  state_ = ckpt.state;
  rng_from_string(rng_, state_.rng_state, *latest);
  if (comm_.is_root()) truncate_metrics(folder_ / "metrics.jsonl", state_.step);
  fmt::print("{}: resumed from {} (step {})\n", stage_, latest->string(), state_.step);
  return true;
}

void TrainingSession::reduce_gradients() {
  if (gradient_sync_) gradient_sync_->finish();
}

double TrainingSession::optimizer_step(double lr) {
  reduce_gradients();
  return optimizer_->step(lr);
}

void TrainingSession::check_replicas(int64_t step) {
  if (check_every_ > 0 && step % check_every_ == 0) {
    // Every rank downloads, so every rank takes part in the collective.
    const std::vector<float> params = model_->get_params();
    require_identical_replicas(comm_, std::span<const float>(params),
                               fmt::format("{} step {}", stage_, step));
  }
}

void TrainingSession::save(const Tokenizer& tokenizer) {
  // Every replica holds the same state; rank 0 writes it.
  if (!comm_.is_root()) return;
  Checkpoint ckpt;
  ckpt.config = model_->config();
  ckpt.params = model_->get_params();
  ckpt.adam_m.resize(model_->num_parameters());
  ckpt.adam_v.resize(model_->num_parameters());
  backend_->download(ckpt.adam_m.data(), optimizer_->m(), ckpt.adam_m.size());
  backend_->download(ckpt.adam_v.data(), optimizer_->v(), ckpt.adam_v.size());
  state_.rng_state = rng_to_string(rng_);
  state_.extra["optimizer_steps"] = optimizer_->steps_taken();
  state_.world_size = comm_.size();
  ckpt.state = state_;
  const auto dir = checkpoint_path(folder_ / "checkpoints", state_.step);
  save_checkpoint(dir, ckpt, tokenizer);
  fmt::print("{}: checkpoint {}\n", stage_, dir.string());
}

TrainingSummary TrainingSession::run(int64_t end_step, const std::function<double()>& train_step,
                                     const std::function<double()>& held_out_loss,
                                     const Tokenizer& tokenizer) {
  // Rank 0 writes the metrics; elsewhere the stream stays closed and discards them.
  std::ofstream metrics;
  if (comm_.is_root()) metrics.open(folder_ / "metrics.jsonl", std::ios::app);
  const int64_t total = cadence_.total_steps;
  end_step = std::min(end_step, total);
  TrainingSummary summary;
  int64_t bad_in_a_row = 0;
  auto window_start = Clock::now();
  uint64_t window_tokens = 0;
  while (state_.step < end_step) {
    const double lr = schedule_.at(state_.step);
    failure_drill(comm_, state_.step + 1);
    model_->zero_grad();
    const double loss = comm_.sum(train_step());
    state_.data_position += 1;
    state_.tokens_seen += cadence_.tokens_per_step;
    window_tokens += cadence_.tokens_per_step;
    double grad_norm = NAN;
    if (std::isfinite(loss)) {
      grad_norm = optimizer_step(lr);
    } else {
      reduce_gradients();
    }
    ++state_.step;
    if (!std::isfinite(loss) || !std::isfinite(grad_norm)) {
      ++summary.skipped_steps;
      state_.extra["skipped_steps"] = state_.extra.value("skipped_steps", 0) + 1;
      fmt::print("{}: step {} skipped: loss {} grad norm {}\n", stage_, state_.step, loss,
                 grad_norm);
      if (++bad_in_a_row >= cadence_.max_bad_steps) {
        throw Error(
            fmt::format("{}: {} steps in a row had a non-finite loss or gradient "
                        "(last: step {}); lower the learning rate or check the data",
                        stage_, bad_in_a_row, state_.step));
      }
      continue;
    }
    bad_in_a_row = 0;
    summary.last_train_loss = loss;
    if (state_.step % cadence_.log_every == 0 || state_.step == end_step) {
      const double seconds = std::chrono::duration<double>(Clock::now() - window_start).count();
      const double tokens_per_s = static_cast<double>(window_tokens) / std::max(seconds, 1e-9);
      const double eta =
          static_cast<double>(total - state_.step) * cadence_.tokens_per_step / tokens_per_s;
      fmt::print(
          "{} step {:>6}/{} | loss {:.4f} | lr {:.2e} | grad norm {:.3f} | {:.0f} tok/s | "
          "eta {:.0f} s\n",
          stage_, state_.step, total, loss, lr, grad_norm, tokens_per_s, eta);
      metrics << nlohmann::json{{"step", state_.step},
                                {"split", "train"},
                                {"loss", loss},
                                {"lr", lr},
                                {"grad_norm", grad_norm},
                                {"tokens_per_s", tokens_per_s},
                                {"tokens", state_.tokens_seen}}
                     .dump()
              << "\n";
      window_start = Clock::now();
      window_tokens = 0;
    }
    if (state_.step % cadence_.eval_every == 0 || state_.step == total) {
      summary.last_val_loss = comm_.sum(held_out_loss());
      fmt::print("{} step {:>6}/{} | held-out loss {:.4f}\n", stage_, state_.step, total,
                 summary.last_val_loss);
      metrics << nlohmann::json{{"step", state_.step},
                                {"split", "val"},
                                {"loss", summary.last_val_loss}}
                     .dump()
              << "\n";
    }
    metrics.flush();
    check_replicas(state_.step);
    if (state_.step % cadence_.checkpoint_every == 0 || state_.step == end_step) save(tokenizer);
  }
  summary.step = state_.step;
  return summary;
}

}  // namespace ponder

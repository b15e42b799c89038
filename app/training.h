// TrainingSession: what pretraining and SFT share — the model and AdamW on
// the backend of run.device, the learning-rate schedule, resuming from the latest
// checkpoint, the step loop with its skip-on-NaN rule, progress lines,
// held-out evaluation, metrics.jsonl and checkpoints.
//
// A stage supplies two functions: `train_step` runs forward and backward of
// one optimizer step's micro-batches (accumulating into the gradients) and
// returns the loss; `held_out_loss` returns the loss on fixed held-out data.
// Both draw their data from the session's RNG (train) or their own fixed
// RNG (held-out), so a resumed run equals an unbroken one bit for bit.
//
// Data parallel (docs/SCALING.md): every rank of Communicator::world() holds
// the same model and draws the same random numbers, but computes only its
// rows of each batch (batch_slice): both functions return the rank's share
// of the loss, normalised by the whole batch's count, and the session sums
// the shares and the gradients over ranks before the optimizer step, so
// every replica takes the same step the single process would. A stage gives
// the step's last backward gradient_listener(), through which the sum starts
// while backward still runs (on GPUs; parallel/gradient_sync.h). Only rank 0
// writes checkpoints and metrics.jsonl; a checkpoint records the world size,
// and resuming with another is an error.
//
// Layout under `folder`: checkpoints/step_NNNNNNNN/, metrics.jsonl (one JSON
// object per line; `split` is "train" or "val"). On resume metrics.jsonl
// drops lines after the checkpoint's step, so nothing is counted twice.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "app/config.h"
#include "parallel/communicator.h"
#include "parallel/gradient_sync.h"
#include "policy/checkpoint.h"
#include "policy/lr_schedule.h"
#include "policy/model.h"
#include "policy/optimizer.h"

namespace ponder {

// The model shape a config asks for ([model] keys); the vocabulary comes
// from the tokenizer.
ModelConfig model_config(const Config& config, int vocab_size);

// How often a session logs, evaluates and checkpoints, and when it gives up.
struct TrainingCadence {
  int64_t total_steps = 0;  // the schedule's length
  int64_t log_every = 10;
  int64_t eval_every = 50;
  int64_t checkpoint_every = 200;
  int64_t max_bad_steps = 5;  // consecutive non-finite steps before an error
  uint64_t tokens_per_step = 0;
};

// This rank's rows of a batch of `batch` rows (`key` names the config key
// in the error when there are fewer rows than ranks).
Slice batch_slice(const Communicator& comm, int64_t batch, const char* key);

struct TrainingSummary {
  int64_t step = 0;
  double last_train_loss = 0;
  double last_val_loss = 0;
  int64_t skipped_steps = 0;
};

class TrainingSession {
 public:
  // `stage` names the session in messages ("pretrain", "sft"). Optimizer
  // settings come from [optim], with `peak_lr` and `warmup_steps` given.
  TrainingSession(const Config& config, std::string stage, const ModelConfig& model_config,
                  std::filesystem::path folder, double peak_lr, int64_t warmup_steps,
                  TrainingCadence cadence);

  // Continues from the latest checkpoint under folder/checkpoints when there
  // is one (true); otherwise leaves the model as it is (false). Throws
  // ponder::Error when that checkpoint's model differs from this one's, or
  // when the stage still has steps to go (the checkpoint's step is before
  // `last_step`) and it was written by another world size. A finished stage
  // may be read by any world size (RL on 8 ranks after pretraining on one).
  bool resume(int64_t last_step);

  Model<float>& model() { return *model_; }
  Backend<float>& backend() { return *backend_; }
  std::mt19937_64& rng() { return rng_; }
  Communicator& comm() { return comm_; }
  const TrainerState& state() const { return state_; }

  // Runs steps until `end_step` (≤ total_steps), then checkpoints.
  TrainingSummary run(int64_t end_step, const std::function<double()>& train_step,
                      const std::function<double()>& held_out_loss, const Tokenizer& tokenizer);

  // For a stage with its own step loop (RL: several optimizer steps per
  // step): the schedule's learning rate at optimizer step `step`; one AdamW
  // step on the gradients accumulated on every rank, summed over ranks
  // (returns the gradient norm before clipping; every rank calls it); the
  // state to advance and to checkpoint with save(), which writes
  // checkpoints/step_<state().step> (rank 0 only).
  double learning_rate(int64_t step) const { return schedule_.at(step); }
  double optimizer_step(double lr);
  // For the last backward before optimizer_step() or reduce_gradients()
  // (nullptr in a world of one, which Model::backward takes as none).
  GradientListener* gradient_listener() { return gradient_sync_.get(); }
  // Sums the gradients over ranks without stepping: a stage that skips a step
  // after its backward (non-finite loss on every rank) still completes the
  // reduction that backward started. optimizer_step() calls it.
  void reduce_gradients();
  int64_t optimizer_steps() const { return optimizer_->steps_taken(); }
  TrainerState& mutable_state() { return state_; }
  void save(const Tokenizer& tokenizer);
  // At every run.check_every-th step (0: never), ponder::Error when the
  // replicas' parameters differ (require_identical_replicas). Every rank calls it.
  void check_replicas(int64_t step);

 private:
  std::unique_ptr<Backend<float>> backend_;
  std::string stage_;
  std::filesystem::path folder_;
  TrainingCadence cadence_;
  std::unique_ptr<Model<float>> model_;
  std::unique_ptr<AdamW<float>> optimizer_;
  LrSchedule schedule_;
  std::mt19937_64 rng_;
  TrainerState state_;
  Communicator& comm_;
  int64_t check_every_;                          // run.check_every
  std::unique_ptr<GradientSync> gradient_sync_;  // nullptr in a world of one
};

}  // namespace ponder

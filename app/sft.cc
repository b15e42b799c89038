#include "app/sft.h"

#include <fmt/format.h>

#include "app/task_tools.h"
#include "app/tasks_commands.h"
#include "curricula/demonstrations.h"
#include "policy/chat.h"
#include "policy/error.h"

namespace ponder {
namespace {

// Candidate demonstrations per row: a demo too long for the row is replaced
// by the next candidate, so row r of step s reads candidates
// r·kCandidates .. r·kCandidates + kCandidates − 1 — a pure function of (s, r).
constexpr uint64_t kCandidates = 16;

// This rank's rows of one padded batch of demonstrations and their weights
// (w_t = mask_t / Σ mask, the sum over the whole batch, every rank's rows).
struct DemoBatch {
  std::vector<TokenId> inputs, targets;
  std::vector<float> weights;
  uint64_t skipped = 0;  // candidates too long for the row
};

class DemoBatcher {
 public:
  // `rows`: this rank's rows of each batch; `comm` sums the token count.
  DemoBatcher(const TaskMixture& mixture, const Tokenizer& tokenizer, const ToolRunner& run_tool,
              DemoOptions options, Slice rows, int seq, Communicator& comm)
      : mixture_(mixture),
        tokenizer_(tokenizer),
        run_tool_(run_tool),
        options_(options),
        rows_(rows),
        seq_(seq),
        comm_(comm) {}

  // This rank's rows of the batch whose rows are demos first_row,
  // first_row + 1, ... of `split`. Every rank calls it (a collective).
  DemoBatch make(Split split, uint64_t first_row) const {
    DemoBatch out;
    const size_t n = rows_.size() * seq_;
    out.inputs.assign(n, tokenizer_.special_id(Special::kPad));
    out.targets.assign(n, -1);
    out.weights.assign(n, 0.0f);
    double masked = 0;
    for (size_t b = 0; b < rows_.size(); ++b) {
      const RenderedChat chat = fitting_demo(split, first_row + rows_.begin + b, out.skipped);
      for (size_t t = 0; t + 1 < chat.ids.size(); ++t) {
        const size_t at = b * seq_ + t;
        out.inputs[at] = chat.ids[t];
        if (chat.mask[t + 1]) {
          out.targets[at] = chat.ids[t + 1];
          masked += 1;
        }
      }
    }
    masked = comm_.sum(masked);  // whole counts: the sum is exact, in any order
    for (size_t i = 0; i < n; ++i) {
      if (out.targets[i] >= 0) out.weights[i] = static_cast<float>(1.0 / masked);
    }
    return out;
  }

 private:
  RenderedChat fitting_demo(Split split, uint64_t row, uint64_t& skipped) const {
    for (uint64_t c = 0; c < kCandidates; ++c) {
      const Task task = mixture_.sample(split, row * kCandidates + c);
      RenderedChat chat = render_chat(tokenizer_, demonstration_chat(task, run_tool_, options_));
      if (chat.ids.size() <= static_cast<size_t>(seq_) + 1) return chat;
      ++skipped;
    }
    throw Error(
        fmt::format("sft.seq_len = {} is too short: {} demonstrations in a row did not "
                    "fit; raise sft.seq_len or lower the task difficulty",
                    seq_, kCandidates));
  }

  const TaskMixture& mixture_;
  const Tokenizer& tokenizer_;
  const ToolRunner& run_tool_;
  DemoOptions options_;
  Slice rows_;
  int seq_;
  Communicator& comm_;
};

}  // namespace

TrainingSummary run_sft(const Config& config, const std::filesystem::path& run_folder,
                        int64_t stop_at_step) {
  std::filesystem::path init = config.get_string("sft.init");
  if (init.empty()) {
    const auto latest = latest_checkpoint(run_folder / "checkpoints");
    if (!latest) {
      throw Error(
          fmt::format("no pretrained checkpoint in `{}`; run the `pretrain` stage first "
                      "or set sft.init",
                      (run_folder / "checkpoints").string()));
    }
    init = *latest;
  }
  const Checkpoint base = load_checkpoint(init, false);
  const Tokenizer tokenizer = load_checkpoint_tokenizer(init);
  const int batch = static_cast<int>(config.get_int("sft.batch_size"));
  const int seq = static_cast<int>(config.get_int("sft.seq_len"));
  if (seq > base.config.max_position_embeddings) {
    throw Error(fmt::format("sft.seq_len = {} exceeds the model's max_position_embeddings = {}",
                            seq, base.config.max_position_embeddings));
  }

  TrainingCadence cadence;
  cadence.total_steps = config.get_int("sft.steps");
  cadence.log_every = config.get_int("sft.log_every");
  cadence.eval_every = config.get_int("sft.eval_every");
  cadence.checkpoint_every = config.get_int("sft.checkpoint_every");
  cadence.max_bad_steps = config.get_int("pretrain.max_bad_steps");
  cadence.tokens_per_step = static_cast<uint64_t>(batch) * seq;
  TrainingSession session(config, "sft", base.config, run_folder / "sft",
                          config.get_float("sft.lr"), config.get_int("sft.warmup_steps"), cadence);
  if (!session.resume(cadence.total_steps)) {
    session.model().set_params(base.params);
    fmt::print("sft: starting from {}\n", init.string());
  }

  const auto seed = static_cast<uint64_t>(config.get_int("run.seed"));
  const TaskSettings settings = task_settings(config);
  const TaskGenerator generator(settings.sources);
  TaskMixture mixture(generator, settings.weights, settings.difficulty, seed);
  if (config.get_int("sft.max_difficulty") > 0) {
    mixture.spread_difficulty_to(static_cast<int>(config.get_int("sft.max_difficulty")));
  }
  const ToolRegistry tools = task_tools(config, generator.lookup_world());
  const ToolRunner run_tool = tool_runner(tools);
  const DemoOptions demo_options{config.get_float("sft.direct_fraction"),
                                 config.get_float("sft.verify_fraction"), seed};
  const Slice rows = batch_slice(session.comm(), batch, "sft.batch_size");
  const int local = static_cast<int>(rows.size());
  const DemoBatcher batcher(mixture, tokenizer, run_tool, demo_options, rows, seq, session.comm());

  Model<float>& model = session.model();
  uint64_t skipped = 0;
  auto train_step = [&] {
    // The session counts steps; the batch of step s holds demos s·batch ...
    const auto first = static_cast<uint64_t>(session.state().step) * batch;
    const DemoBatch b = batcher.make(Split::kTrain, first);
    skipped += b.skipped;
    const double loss =
        model.forward(b.inputs.data(), b.targets.data(), b.weights.data(), local, seq);
    model.backward(session.gradient_listener());
    return loss;
  };
  auto held_out_loss = [&] {
    const int64_t batches = config.get_int("sft.eval_batches");
    double sum = 0;
    for (int64_t i = 0; i < batches; ++i) {
      const DemoBatch b = batcher.make(Split::kEval, static_cast<uint64_t>(i) * batch);
      sum += model.forward(b.inputs.data(), b.targets.data(), b.weights.data(), local, seq);
    }
    return sum / static_cast<double>(batches);
  };
  const int64_t end = stop_at_step > 0 ? stop_at_step : cadence.total_steps;
  TrainingSummary summary = session.run(end, train_step, held_out_loss, tokenizer);
  skipped = static_cast<uint64_t>(session.comm().sum(static_cast<double>(skipped)));
  if (skipped > 0) {
    fmt::print("sft: {} demonstrations longer than sft.seq_len = {} were skipped\n", skipped, seq);
  }
  return summary;
}

}  // namespace ponder

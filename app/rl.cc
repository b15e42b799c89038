#include "app/rl.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>

#include <fmt/format.h>

#include "app/eval.h"
#include "app/grpo_update.h"
#include "app/records.h"
#include "app/rl_metrics.h"
#include "app/rl_parallel.h"
#include "app/task_tools.h"
#include "app/tasks_commands.h"
#include "app/training.h"
#include "curricula/difficulty.h"
#include "policy/atomic_file.h"
#include "policy/chat.h"
#include "policy/error.h"
#include "rewards/reward_set.h"
#include "rollout/rollout_store.h"

namespace ponder {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

constexpr const char* kHeldOut = "rl_heldout";
constexpr const char* kDirect = "rl_heldout_direct";

// The RL keys as the loop uses them.
struct RlSettings {
  int steps, prompts, group, micro_batch, iterations, minibatches, max_refills;
  bool dynamic_sampling, store_tokens;
  int64_t log_every, eval_every, eval_prompts, checkpoint_every;
  ScaleRewards scale;
  GrpoConfig grpo;
  GenerationOptions generation;
};

RlSettings rl_settings(const Config& config) {
  auto int_of = [&](const char* key) { return static_cast<int>(config.get_int(key)); };
  RlSettings s;
  s.steps = int_of("rl.steps");
  s.prompts = int_of("rl.prompts_per_step");
  s.group = int_of("rl.group_size");
  s.micro_batch = int_of("rl.micro_batch");
  s.iterations = int_of("rl.iterations");
  s.minibatches = int_of("rl.minibatches");
  s.max_refills = int_of("rl.max_refills");
  s.dynamic_sampling = config.get_bool("rl.dynamic_sampling");
  s.store_tokens = config.get_bool("rl.store_tokens");
  s.log_every = config.get_int("rl.log_every");
  s.eval_every = config.get_int("rl.eval_every");
  s.eval_prompts = config.get_int("rl.eval_prompts");
  s.checkpoint_every = config.get_int("rl.checkpoint_every");
  s.scale = parse_scale_rewards(config.get_string("rl.scale_rewards"));
  s.grpo.clip_low = config.get_float("rl.clip_low");
  s.grpo.clip_high = config.get_float("rl.clip_high");
  s.grpo.kl_beta = config.get_float("rl.kl_beta");
  s.grpo.aggregation = parse_loss_aggregation(config.get_string("rl.loss_aggregation"));
  s.grpo.importance = parse_importance_level(config.get_string("rl.importance_sampling_level"));
  s.grpo.max_new_tokens = int_of("rl.max_new_tokens");
  s.grpo.mask_truncated = config.get_bool("rl.mask_truncated");
  s.generation.sampler.temperature = config.get_float("rl.temperature");
  s.generation.sampler.top_k = int_of("rl.top_k");
  s.generation.sampler.top_p = config.get_float("rl.top_p");
  s.generation.max_new_tokens = s.grpo.max_new_tokens;
  s.generation.max_tool_calls = int_of("rl.max_tool_calls");
  s.generation.tools = config.get_bool("rl.tools");
  return s;
}

// A 64-bit mix (splitmix64's finaliser): seeds for (run seed, step, round).
uint64_t mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

DifficultyOptions difficulty_options(const Config& config) {
  DifficultyOptions o;
  o.window = static_cast<int>(config.get_int("rl.curriculum.window"));
  o.raise_at = config.get_float("rl.curriculum.raise_at");
  o.lower_at = config.get_float("rl.curriculum.lower_at");
  o.max_difficulty = static_cast<int>(config.get_int("rl.curriculum.max_difficulty"));
  o.cooldown = static_cast<int>(config.get_int("rl.curriculum.cooldown"));
  return o;
}

// Tasks with their rendered prompts.
struct PromptSet {
  std::vector<Task> tasks;
  std::vector<std::vector<TokenId>> prompts;
};

PromptSet render_prompts(const Tokenizer& tokenizer, std::vector<Task> tasks) {
  PromptSet set;
  for (const Task& task : tasks)
    set.prompts.push_back(render_prompt(tokenizer, user_turn(task.prompt)));
  set.tasks = std::move(tasks);
  return set;
}

class RlStage {
 public:
  RlStage(const Config& config, const std::filesystem::path& run_folder)
      : config_(config),
        folder_(run_folder / "rl"),
        settings_(rl_settings(config)),
        init_(start_checkpoint(config, run_folder)),
        base_(load_checkpoint(init_, false)),
        tokenizer_(load_checkpoint_tokenizer(init_)),
        task_settings_(task_settings(config)),
        generator_(task_settings_.sources),
        seed_(static_cast<uint64_t>(config.get_int("run.seed"))),
        mixture_(generator_, task_settings_.weights, task_settings_.difficulty, seed_),
        held_out_mixture_(generator_, task_settings_.weights, task_settings_.difficulty, seed_),
        curriculum_(difficulty_options(config), task_settings_.difficulty),
        adaptive_(config.get_bool("rl.curriculum.adaptive")),
        tools_(task_tools(config, generator_.lookup_world())),
        rewards_(parse_reward_specs(config.get_tables("rl.rewards"),
                                    config.get_tables_source("rl.rewards"))),
        database_(run_folder / "rollouts.db") {
    TrainingCadence cadence;
    cadence.total_steps =
        static_cast<int64_t>(settings_.steps) * settings_.iterations * settings_.minibatches;
    session_ = std::make_unique<TrainingSession>(config, "rl", base_.config, folder_,
                                                 config.get_float("rl.lr"),
                                                 config.get_int("rl.warmup_steps"), cadence);
    rows_ = batch_slice(comm_, settings_.prompts, "rl.prompts_per_step");
    if (session_->resume(settings_.steps)) {
      const nlohmann::json& extra = session_->state().extra;
      curriculum_ =
          DifficultyController::from_json(difficulty_options(config), extra.at("curriculum"));
      before_ = held_out_report_from_json(extra.at("held_out_before"));
      direct_ = held_out_report_from_json(extra.at("held_out_direct"));
    } else {
      session_->model().set_params(base_.params);
      fmt::print("rl: starting from {}\n", init_.string());
    }
    apply_curriculum();
    benchmark_every_ = config.get_int("eval.every");
    if (benchmark_every_ > 0) {
      benchmarks_ = load_benchmarks(generator_, config.get_strings("eval.benchmarks"),
                                    static_cast<size_t>(config.get_int("eval.limit")));
    }
    if (settings_.grpo.kl_beta > 0) {
      reference_ = std::make_unique<Model<float>>(session_->backend(), base_.config);
      reference_->set_params(base_.params);
    }
  }

  RlSummary run(int64_t stop_at_step) {
    const auto summary_file = folder_ / "summary.json";
    if (session_->state().step >= settings_.steps && std::filesystem::exists(summary_file)) {
      fmt::print("rl: all {} steps done; kept\n", settings_.steps);
      return read_rl_summary(summary_file);
    }
    // Rank 0 alone writes the store (the other ranks send it their rollouts).
    std::optional<RolloutStore> store;
    if (comm_.is_root()) {
      store = RolloutStore::open(database_, config_.get_string("run.name"), config_.to_toml());
    }
    ModelDecoder decoder(session_->model());
    Engine engine(decoder, tokenizer_, tool_caller(tools_));
    if (!before_) {
      StepOutput out;
      before_ = evaluate(engine, 0, out);
      direct_ = evaluate(engine, 0, out, /*direct=*/true);
      write_step(store, 0, std::move(out));
    }
    const int64_t end =
        stop_at_step > 0 ? std::min<int64_t>(stop_at_step, settings_.steps) : settings_.steps;
    HeldOutReport after = *before_;
    while (session_->state().step < end) {
      const int64_t step = session_->state().step + 1;
      failure_drill(comm_, step);
      StepOutput out = train_step(engine, step);
      if (step % settings_.eval_every == 0 || step == settings_.steps) {
        after = evaluate(engine, step, out);
      }
      if (benchmark_every_ > 0 && (step % benchmark_every_ == 0 || step == settings_.steps)) {
        run_benchmarks(engine, step, out);
      }
      const auto log_start = Clock::now();
      print_step(step, out.metrics);
      if (comm_.is_root()) {
        std::ofstream(folder_ / "metrics.jsonl", std::ios::app)
            << nlohmann::json({{"step", step}, {"split", "train"}, {"metrics", out.metrics.values}})
                   .dump()
            << "\n";
      }
      write_step(store, step, std::move(out));
      last_log_seconds_ = seconds_since(log_start);
      session_->mutable_state().step = step;
      session_->check_replicas(step);
      if (step % settings_.checkpoint_every == 0 || step == end) checkpoint(store);
    }
    if (store) store->flush();
    RlSummary summary{*before_, after, direct_, checkpoint_path(folder_ / "checkpoints", end),
                      database_};
    if (session_->state().step >= settings_.steps) {
      if (comm_.is_root()) write_file_atomically(summary_file, to_json(summary).dump(2) + "\n");
      fmt::print("rl: {}", format_rl_summary(summary));
    }
    return summary;
  }

 private:
  static std::filesystem::path start_checkpoint(const Config& config,
                                                const std::filesystem::path& run_folder) {
    const std::string init = config.get_string("rl.init");
    if (!init.empty()) return init;
    const auto latest = latest_checkpoint(run_folder / "sft" / "checkpoints");
    if (!latest) {
      throw Error(fmt::format("no SFT checkpoint in `{}`; run the `sft` stage first or set rl.init",
                              (run_folder / "sft" / "checkpoints").string()));
    }
    return *latest;
  }

  void apply_curriculum() {
    for (Family family : kFamilies) mixture_.set_difficulty(family, curriculum_.level(family));
  }

  // One round of prompts: every task of it (each rank feeds the curriculum
  // all of them), this rank's prompts (rows_), their rollouts and records
  // (with rewards), and every rank's rewards and verdicts.
  struct Round {
    std::vector<Task> tasks;
    PromptSet prompts;
    std::vector<Rollout> rollouts;
    std::vector<RolloutRecord> records;
    RoundVerdicts verdicts;
  };

  Round generate_round(Engine& engine, int64_t step, int round, Clock::duration& generate_time,
                       Clock::duration& reward_time) {
    const uint64_t first = (static_cast<uint64_t>(step - 1) * (settings_.max_refills + 1) +
                            static_cast<uint64_t>(round)) *
                           static_cast<uint64_t>(settings_.prompts);
    std::vector<Task> tasks;
    for (int i = 0; i < settings_.prompts; ++i) {
      tasks.push_back(mixture_.sample(Split::kTrain, first + static_cast<uint64_t>(i)));
    }
    Round r;
    r.prompts =
        render_prompts(tokenizer_, {tasks.begin() + static_cast<std::ptrdiff_t>(rows_.begin),
                                    tasks.begin() + static_cast<std::ptrdiff_t>(rows_.end)});
    r.tasks = std::move(tasks);
    GenerationOptions options = settings_.generation;
    options.seed =
        mix(seed_ ^ mix(static_cast<uint64_t>(step) * 64 + static_cast<uint64_t>(round)));
    options.first_prompt = rows_.begin;
    auto start = Clock::now();
    r.rollouts = engine.generate(r.prompts.prompts, settings_.group, options);
    generate_time += Clock::now() - start;
    start = Clock::now();
    for (size_t i = 0; i < r.rollouts.size(); ++i) {
      const Task& task = r.prompts.tasks[i / settings_.group];
      RolloutRecord record = rollout_record(task, r.rollouts[i], step, "train", "");
      const RewardBreakdown reward = rewards_.score(task, task.prompt, r.rollouts[i]);
      record.reward = reward.total;
      record.rewards = reward.scores;
      r.records.push_back(std::move(record));
    }
    reward_time += Clock::now() - start;
    r.verdicts = share_verdicts(comm_, r.records, rows_, settings_.prompts, settings_.group);
    return r;
  }

  // A step's rows and metrics, written together (one transaction).
  struct StepOutput {
    std::vector<RolloutRecord> records;
    StepMetrics metrics;
  };

  StepOutput train_step(Engine& engine, int64_t step) {
    const auto step_start = Clock::now();
    Clock::duration generate_time{}, reward_time{};
    std::vector<Round> rounds;
    // The groups trained on: (round, group) pairs.
    std::vector<std::pair<size_t, int>> kept;
    int zero_variance = 0, groups = 0;
    for (int round = 0; round <= settings_.max_refills; ++round) {
      rounds.push_back(generate_round(engine, step, round, generate_time, reward_time));
      const std::vector<bool> informative =
          informative_groups(rounds.back().verdicts.rewards, settings_.group);
      for (int g = 0; g < settings_.prompts; ++g) {
        ++groups;
        zero_variance += !informative[g];
        const bool keep = !settings_.dynamic_sampling || informative[g];
        if (keep && static_cast<int>(kept.size()) < settings_.prompts) {
          kept.emplace_back(rounds.size() - 1, g);
        }
      }
      if (!settings_.dynamic_sampling || static_cast<int>(kept.size()) >= settings_.prompts) break;
    }

    // Advantages over the kept groups, written back into their records.
    std::vector<double> rewards;
    for (const auto& [round, g] : kept) {
      for (int s = 0; s < settings_.group; ++s) {
        rewards.push_back(
            rounds[round].verdicts.rewards[static_cast<size_t>(g) * settings_.group + s]);
      }
    }
    const std::vector<double> advantages =
        group_advantages(rewards, settings_.group, settings_.scale);
    // This rank trains on the kept groups of its prompts; kept_at[j] is the
    // index in `kept` of its j-th group.
    std::vector<PolicySample> samples;
    std::vector<size_t> kept_at;
    for (size_t k = 0; k < kept.size(); ++k) {
      const auto& [round, g] = kept[k];
      if (!rows_.contains(static_cast<size_t>(g))) continue;
      Round& r = rounds[round];
      const size_t local = static_cast<size_t>(g) - rows_.begin;
      for (int s = 0; s < settings_.group; ++s) {
        const size_t i = local * settings_.group + s;
        const double a = advantages[k * settings_.group + s];
        r.records[i].advantage = a;
        samples.push_back(policy_sample(r.prompts.prompts[local], r.rollouts[i], a));
      }
      kept_at.push_back(k);
    }

    const auto train_start = Clock::now();
    StepMetrics metrics;
    update(samples, kept_at, kept.size(), metrics);
    const double train_seconds = seconds_since(train_start);

    // Curriculum (every rank, every verdict, in order), then the records and
    // metrics of every rollout generated (rank 0).
    RankRollouts mine;
    for (Round& r : rounds) {
      for (size_t i = 0; adaptive_ && i < r.verdicts.correct.size(); ++i) {
        const Task& task = r.tasks[i / settings_.group];
        if (auto change = curriculum_.record(task.family, task.difficulty, r.verdicts.correct[i])) {
          fmt::print("rl: {} difficulty {} -> {} (rolling accuracy {:.2f})\n",
                     family_name(change->family), change->from, change->to, change->accuracy);
        }
      }
      mine.rounds.push_back(std::move(r.records));
      mine.entropy.emplace_back();
      for (const Rollout& rollout : r.rollouts) mine.entropy.back().push_back(rollout.entropy);
    }
    apply_curriculum();
    StepRollouts all = gather_rollouts(comm_, std::move(mine));
    add_rollout_metrics(all.records, all.entropy, metrics);
    double generated = 0, tool_seconds = 0;
    for (const RolloutRecord& r : all.records) {
      generated += r.completion_tokens;
      for (const auto& call : r.tool_calls) tool_seconds += call.latency_ms / 1000;
    }
    const double generate_seconds = std::chrono::duration<double>(generate_time).count();
    auto& v = metrics.values;
    v["groups"] = groups;
    v["groups_trained"] = static_cast<double>(kept.size());
    v["zero_variance_groups"] = static_cast<double>(zero_variance) / groups;
    for (Family family : kFamilies) {
      if (task_settings_.weights[static_cast<int>(family)] > 0) {
        v[fmt::format("difficulty/{}", family_name(family))] = curriculum_.level(family);
      }
    }
    v["time_generate"] = generate_seconds;
    v["time_tools"] = tool_seconds;
    v["time_reward"] = std::chrono::duration<double>(reward_time).count();
    v["time_train"] = train_seconds;
    v["tokens_per_s"] = generated / std::max(generate_seconds, 1e-9);
    // A step's own logging happens after its row is built: the row shows the previous step's.
    v["time_log"] = last_log_seconds_;
    metrics.seconds = seconds_since(step_start);
    return StepOutput{std::move(all.records), std::move(metrics)};
  }

  // rl.iterations passes of rl.minibatches optimizer steps over the `kept`
  // groups of every rank; this rank's are `samples`, whose j-th group is
  // group kept_at[j] of them (ascending).
  void update(const std::vector<PolicySample>& samples, const std::vector<size_t>& kept_at,
              size_t kept, StepMetrics& metrics) {
    auto& v = metrics.values;
    if (kept == 0) {
      fmt::print("rl: no group had a reward spread; no update this step\n");
      v["loss"] = 0;
      return;
    }
    const int micro = settings_.micro_batch;
    Model<float>& model = session_->model();
    std::vector<std::vector<float>> old, ref;
    if (settings_.iterations > 1 || settings_.minibatches > 1) {
      old = completion_logprobs(model, samples, micro);
    }
    if (reference_) ref = completion_logprobs(*reference_, samples, micro);
    // Mini-batch mb takes groups [mb·K/M, (mb+1)·K/M) of the K trained on;
    // this rank's share of them is a run of its own groups.
    const size_t group = static_cast<size_t>(settings_.group);
    const auto minibatches = static_cast<size_t>(settings_.minibatches);
    auto local_group = [&](size_t k) {
      return static_cast<size_t>(std::lower_bound(kept_at.begin(), kept_at.end(), k) -
                                 kept_at.begin());
    };
    double loss = 0, clip = 0, kl = 0, grad_norm = 0, lr = 0;
    int updates = 0, skipped = 0;
    for (int it = 0; it < settings_.iterations; ++it) {
      for (size_t mb = 0; mb < minibatches; ++mb) {
        const size_t first = mb * kept / minibatches, last = (mb + 1) * kept / minibatches;
        if (first == last) continue;
        const size_t begin = local_group(first) * group;
        const size_t count = local_group(last) * group - begin;
        const std::span<const PolicySample> part(samples.data() + begin, count);
        auto part_of = [&](const std::vector<std::vector<float>>& all) {
          return all.empty() ? std::span<const std::vector<float>>()
                             : std::span<const std::vector<float>>(all.data() + begin, count);
        };
        model.zero_grad();
        const GrpoBatchTotals totals = global_totals(comm_, part, settings_.grpo);
        const GrpoUpdateStats stats =
            sum_over_ranks(comm_, accumulate_grpo_gradients(model, part, part_of(old), part_of(ref),
                                                            settings_.grpo, micro, totals,
                                                            session_->gradient_listener()));
        lr = session_->learning_rate(session_->optimizer_steps());
        if (!std::isfinite(stats.loss)) {
          session_->reduce_gradients();  // completes what backward started
          ++skipped;
          continue;
        }
        grad_norm = session_->optimizer_step(lr);
        loss += stats.loss;
        clip += stats.clip_fraction;
        kl += stats.kl;
        ++updates;
      }
    }
    if (skipped > 0) fmt::print("rl: {} updates skipped: non-finite loss\n", skipped);
    const double n = std::max(1, updates);
    v["loss"] = loss / n;
    v["clip_fraction"] = clip / n;
    v["kl"] = kl / n;
    v["grad_norm"] = grad_norm;
    v["lr"] = lr;
    v["skipped_updates"] = skipped;
  }

  void print_step(int64_t step, const StepMetrics& m) {
    if (step % settings_.log_every != 0 && step != settings_.steps) return;
    const auto& v = m.values;
    auto at = [&](const std::string& key) {
      const auto it = v.find(key);
      return it == v.end() ? 0.0 : it->second;
    };
    std::string levels;
    for (Family family : kFamilies) {
      const auto it = v.find(fmt::format("difficulty/{}", family_name(family)));
      if (it != v.end()) levels += fmt::format(" {}:{}", family_name(family), it->second);
    }
    fmt::print(
        "rl step {:>4}/{} | reward {:.3f}±{:.3f} | acc {:.3f} | loss {:+.4f} | kl {:.4f} | "
        "clip {:.3f} | ent {:.2f} | len {:.0f} (think {:.0f}) | tools {:.2f} (err {:.2f}) | "
        "trunc {:.2f} | flat groups {:.2f} | level{} | gen {:.1f}s train {:.1f}s | {:.0f} tok/s\n",
        step, settings_.steps, at("reward_mean"), at("reward_std"), at("accuracy"), at("loss"),
        at("kl"), at("clip_fraction"), at("entropy"), at("response_tokens"), at("thinking_tokens"),
        at("tool_calls_per_rollout"), at("tool_error_rate"), at("truncation_rate"),
        at("zero_variance_groups"), levels, at("time_generate"), at("time_train"),
        at("tokens_per_s"));
  }

  // The held-out set, greedy, one answer each; its rows join `out` (step
  // `step`) on rank 0. `direct`: the no-tools, no-thinking baseline — the
  // answer is forced to start right after the prompt. The ranks split the
  // prompts (greedy answers do not depend on the batch) and every rank
  // returns rank 0's report.
  HeldOutReport evaluate(Engine& engine, int64_t step, StepOutput& out, bool direct = false) {
    const Slice rows =
        rank_slice(static_cast<size_t>(settings_.eval_prompts), comm_.rank(), comm_.size());
    std::vector<Task> tasks;
    for (size_t i = rows.begin; i < rows.end; ++i) {
      tasks.push_back(held_out_mixture_.sample(Split::kEval, static_cast<uint64_t>(i)));
    }
    PromptSet set = render_prompts(tokenizer_, std::move(tasks));
    const TokenId answer = tokenizer_.special_id(Special::kAnswerStart);
    GenerationOptions options = settings_.generation;
    options.sampler.temperature = 0;
    options.seed = seed_;
    if (direct) {
      options.tools = false;
      for (auto& prompt : set.prompts) prompt.push_back(answer);
    }
    const auto start = Clock::now();
    options.first_prompt = rows.begin;
    std::vector<Rollout> rollouts;
    if (rows.size() > 0) rollouts = engine.generate(set.prompts, 1, options);
    RankRollouts mine{{{}}, {{}}};
    for (size_t i = 0; i < rollouts.size(); ++i) {
      if (direct) rollouts[i].text = std::string(tokenizer_.token_text(answer)) + rollouts[i].text;
      mine.rounds[0].push_back(
          rollout_record(set.tasks[i], rollouts[i], step, "eval", direct ? kDirect : kHeldOut));
      mine.entropy[0].push_back(rollouts[i].entropy);
    }
    StepRollouts all_rows = gather_rollouts(comm_, std::move(mine));
    std::string shared = to_json(held_out_report(step, all_rows.records)).dump();
    comm_.broadcast(shared);
    const HeldOutReport report = held_out_report_from_json(nlohmann::json::parse(shared));
    std::move(all_rows.records.begin(), all_rows.records.end(), std::back_inserter(out.records));
    const FamilyReport& all = report.families.back();
    out.metrics.values[direct ? "heldout_direct_accuracy" : "heldout_accuracy"] = all.accuracy();
    fmt::print("rl step {:>4}/{} | held-out accuracy{} {:.3f} ({} of {}) in {:.1f} s\n", step,
               settings_.steps, direct ? ", direct answers" : "", all.accuracy(), all.correct,
               all.n, seconds_since(start));
    return report;
  }

  // The [eval] benchmarks (app/eval.h); their rows and eval/<bench>/... metrics join `out`.
  // Rank 0 alone runs them; the other ranks wait for it at the next step.
  void run_benchmarks(Engine& engine, int64_t step, StepOutput& out) {
    if (!comm_.is_root()) return;
    EvalResults results = run_eval(engine, tokenizer_, benchmarks_, eval_options(config_), step);
    add_eval_metrics(results, out.metrics.values);
    std::move(results.records.begin(), results.records.end(), std::back_inserter(out.records));
    fmt::print("rl step {:>4}/{} | benchmarks ({:.1f} s)\n{}", step, settings_.steps,
               results.seconds, format_eval_table(results.benchmarks));
  }

  // One step's rows and metrics, one transaction; token ids and log-probs only
  // with rl.store_tokens. Rank 0 holds the store; elsewhere, nothing.
  void write_step(std::optional<RolloutStore>& store, int64_t step, StepOutput out) const {
    if (!store) return;
    if (!settings_.store_tokens) {
      for (RolloutRecord& record : out.records) {
        record.token_ids.clear();
        record.logprobs.clear();
      }
    }
    store->write_step(step, std::move(out.records), std::move(out.metrics));
  }

  void checkpoint(std::optional<RolloutStore>& store) {
    if (store) store->flush();  // the database holds every step the checkpoint has seen
    nlohmann::json& extra = session_->mutable_state().extra;
    extra["curriculum"] = curriculum_.to_json();
    extra["held_out_before"] = to_json(*before_);
    extra["held_out_direct"] = to_json(direct_);
    session_->save(tokenizer_);
  }

  const Config& config_;
  std::filesystem::path folder_;
  RlSettings settings_;
  std::filesystem::path init_;
  Checkpoint base_;
  Tokenizer tokenizer_;
  TaskSettings task_settings_;
  TaskGenerator generator_;
  uint64_t seed_;
  TaskMixture mixture_, held_out_mixture_;
  DifficultyController curriculum_;
  bool adaptive_;
  ToolRegistry tools_;
  RewardSet rewards_;
  std::filesystem::path database_;
  std::unique_ptr<TrainingSession> session_;
  Communicator& comm_ = Communicator::world();
  Slice rows_;  // this rank's prompts of each round
  std::unique_ptr<Model<float>> reference_;
  int64_t benchmark_every_;  // eval.every: 0 for none during RL
  std::vector<Benchmark> benchmarks_;
  std::optional<HeldOutReport> before_;
  HeldOutReport direct_;  // the no-tools, no-thinking baseline at step 0
  double last_log_seconds_ = 0;
};

}  // namespace

RlSummary run_rl(const Config& config, const std::filesystem::path& run_folder,
                 int64_t stop_at_step) {
  RlStage stage(config, run_folder);
  return stage.run(stop_at_step);
}

}  // namespace ponder

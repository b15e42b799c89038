// The rows of the [rl], [rl.curriculum], [eval] and [tasks] sections of
// ponder's config schema (app/config_schema.h); config_schema() puts them
// after [sft].
#include "app/config_schema.h"
#include "rewards/reward_spec.h"

namespace ponder {
namespace {

constexpr std::nullopt_t kNoLimit = std::nullopt;

const TableListRule kRewardsRule = {
    "each: `name` (a built-in reward, or your own with kind = \"command\"), `weight`, and the "
    "reward's parameters (docs/REWARDS.md)",
    [](const toml::array& tables, const std::string& source_name) {
      parse_reward_specs(tables, source_name);
    }};

}  // namespace

ConfigSchema rl_and_tasks_schema() {
  return {
      .sections =
          {
              {"rl",
               "the `rl` stage: GRPO on the [tasks] mixture; groups of completions sampled per "
               "prompt, scored by [[rl.rewards]], train the policy by clipped updates (AdamW "
               "settings from [optim])"},
              {"rl.curriculum", "adaptive difficulty per task family"},
              {"eval",
               "benchmarks (docs/EVAL.md) the `eval` stage runs on the run's last checkpoint, "
               "and every `every` steps during RL"},
              {"tasks",
               "task families for RL, SFT and evaluation (curricula/): mixture weights, "
               "starting difficulty and where the families' material comes from"},
          },
      .keys =
          {
              string_key("rl.init", "", nullptr,
                         "checkpoint to start RL from; empty: the latest checkpoint of this run's "
                         "sft stage"),
              int_key("rl.steps", 50, 1, kNoLimit,
                      "RL steps in all, each a batch of rollouts and its updates; the schedule's "
                      "length"),
              int_key("rl.prompts_per_step", 8, 1, 4096, "task prompts drawn per step"),
              int_key("rl.group_size", 8, 2, 1024,
                      "samples per prompt (G); each is judged against the others of its group"),
              int_key("rl.max_new_tokens", 256, 1, 1048576,
                      "tokens in one completion, tool results included; one that reaches it is "
                      "truncated"),
              float_key("rl.temperature", 1.0, 0, 10, "sampling temperature (0: greedy)"),
              int_key("rl.top_k", 0, 0, 1000000,
                      "sample only from the k likeliest tokens (0: no limit)"),
              float_key_above("rl.top_p", 1.0, 0, 1,
                              "sample only from the smallest set of likeliest tokens whose "
                              "probability reaches top_p (1: no limit)"),
              bool_key("rl.tools", true, "let the policy call tools"),
              int_key("rl.max_tool_calls", 4, 0, 64,
                      "tool calls one completion may make; a further call ends it"),
              float_key_above("rl.lr", 1e-5, 0, 10, "peak learning rate"),
              int_key("rl.warmup_steps", 0, 0, kNoLimit, "steps of linear warmup"),
              enum_key("rl.scale_rewards", "group", {"group", "batch", "none"},
                       "divide each advantage (reward minus its group's mean) by the standard "
                       "deviation of the rewards in its group, in the whole batch, or by nothing"),
              enum_key("rl.loss_aggregation", "dapo", {"grpo", "dapo", "dr_grpo"},
                       "how token losses combine: a mean per sequence, then over sequences "
                       "(grpo); a mean over every token of the batch (dapo); a sum divided by "
                       "max_new_tokens per sequence (dr_grpo)"),
              enum_key("rl.importance_sampling_level", "token", {"token", "sequence"},
                       "the probability ratio to the sampling policy: one per token (GRPO, "
                       "DAPO), or one per sequence, the geometric mean of its tokens' (GSPO; "
                       "use clip ranges near 3e-4 / 4e-4)"),
              float_key_below("rl.clip_low", 0.2, 0, 1,
                              "a token's probability ratio to the sampling policy is clipped "
                              "below at 1 - clip_low"),
              float_key("rl.clip_high", 0.28, 0, 10,
                        "the ratio is clipped above at 1 + clip_high (above clip_low: DAPO's "
                        "clip-higher)"),
              float_key("rl.kl_beta", 0, 0, 100,
                        "weight of the k3 KL to the reference policy (0: no reference model "
                        "loaded)"),
              int_key("rl.iterations", 1, 1, 64, "μ: updates per batch of rollouts"),
              int_key("rl.minibatches", 1, 1, 4096,
                      "optimizer steps per iteration, each on 1/M of the groups"),
              int_key("rl.micro_batch", 16, 1, 4096, "sequences per forward/backward"),
              bool_key("rl.dynamic_sampling", false, "drop groups whose rewards are all equal"),
              int_key("rl.max_refills", 0, 0, 100,
                      "with dynamic sampling, extra rounds of prompts drawn to refill dropped "
                      "groups"),
              bool_key("rl.mask_truncated", false, "train on no token of a truncated completion"),
              int_key("rl.log_every", 1, 1, kNoLimit, "print a progress line every N steps"),
              int_key("rl.eval_every", 25, 1, kNoLimit,
                      "measure accuracy on held-out prompts every N steps"),
              int_key("rl.eval_prompts", 64, 1, 100000, "held-out prompts per evaluation"),
              int_key("rl.checkpoint_every", 25, 1, kNoLimit,
                      "write a checkpoint every N steps, and always at the end"),
              bool_key("rl.store_tokens", true,
                       "keep each rollout's token ids and log-probs in the database"),
              table_list_key(
                  "rl.rewards",
                  R"([{ name = "correct", weight = 1.0 }, { name = "format", weight = 0.2 }])",
                  &kRewardsRule,
                  "reward functions, as [[rl.rewards]] tables; a rollout's reward is "
                  "the weighted sum of the scores of those that apply"),

              bool_key("rl.curriculum.adaptive", true,
                       "move each family's difficulty by its rolling accuracy (false: keep "
                       "tasks.difficulty)"),
              int_key("rl.curriculum.window", 32, 1, 100000,
                      "recent rollouts per family that the rolling accuracy averages"),
              float_key("rl.curriculum.raise_at", 0.8, 0, 1,
                        "a full window's accuracy at or above which the family's difficulty "
                        "goes up one level"),
              float_key("rl.curriculum.lower_at", 0.2, 0, 1,
                        "a full window's accuracy at or below which it goes down one level"),
              int_key("rl.curriculum.max_difficulty", 10, 1, 100,
                      "highest difficulty the curriculum raises a family to (each family's own "
                      "maximum also applies)"),
              int_key("rl.curriculum.cooldown", 64, 0, 10000000,
                      "rollouts a family holds its level after it went down before it may go "
                      "up again; doubled after each further fall until it holds a level it "
                      "rose to (0: no hold)"),

              list_key("eval.benchmarks", {"count", "arith", "lookup", "countdown", "wordprob"}, {},
                       1,
                       "built-in benchmarks (gsm8k, count, arith, lookup, countdown, wordprob) "
                       "or .jsonl files of your own"),
              int_key("eval.limit", 100, 0, kNoLimit,
                      "problems per benchmark, spread over its difficulties; 0: all"),
              int_key("eval.samples", 1, 1, 1024,
                      "samples per problem (pass@k and maj@k use k = samples)"),
              float_key("eval.temperature", 0, 0, 10,
                        "sampling temperature; 0: greedy (use > 0 with several samples)"),
              bool_key("eval.tools", true,
                       "let the policy call tools (false: the tool-call token cannot be sampled)"),
              int_key("eval.every", 0, 0, kNoLimit,
                      "RL steps between runs of the benchmarks during RL; 0: none (the rl "
                      "stage's own held-out check still runs)"),

              float_key(
                  "tasks.arith", 1, 0, 1e6,
                  "weight of arith (integer +, -, * expressions) in the task mixture; 0: off"),
              float_key("tasks.count", 1, 0, 1e6,
                        "weight of count (letters in a word, items in a list); 0: off"),
              float_key("tasks.wordprob", 1, 0, 1e6,
                        "weight of wordprob (generated multi-step word problems); 0: off"),
              float_key("tasks.lookup", 1, 0, 1e6,
                        "weight of lookup (facts found only in the generated corpus); 0: off"),
              float_key("tasks.countdown", 1, 0, 1e6,
                        "weight of countdown (reach a target from given numbers); 0: off"),
              float_key("tasks.gsm8k", 1, 0, 1e6,
                        "weight of gsm8k (grade-school math word problems); 0: off; at least "
                        "one family's weight must be above 0"),
              int_key("tasks.difficulty", 1, 1, 100,
                      "starting difficulty of every family, clamped to each family's maximum "
                      "(arith 6, count 5, wordprob 3, lookup 2, countdown 4, gsm8k 8)"),
              string_key("tasks.words_file", "/usr/share/dict/words", &kNonEmptyRule,
                         "word list for count, one word per line; lines of a-z only are used"),
              string_key("tasks.gsm8k_dir", "data/gsm8k", &kNonEmptyRule,
                         "folder holding GSM8K's train.jsonl and test.jsonl"),
              int_key("tasks.lookup_entities", 500, 20, 100000,
                      "fictional places in the lookup world (every tenth is eval-only)"),
              int_key("tasks.lookup_seed", 0, 0, kNoLimit,
                      "seed of the lookup world; the corpus, the search tool and the tasks must "
                      "agree on it"),
          },
  };
}

}  // namespace ponder

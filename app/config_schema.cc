#include "app/config_schema.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <sstream>
#include <stdexcept>

#include "policy/special_tokens.h"

namespace ponder {

const StringRule kNonEmptyRule = {"a non-empty string",
                                  [](std::string_view s) { return !s.empty(); }};

namespace {

constexpr std::nullopt_t kNoLimit = std::nullopt;

// A run name becomes a folder name: keep it to portable characters, and no
// leading '.', which would allow "." and ".." (escaping run.out_dir) and hidden folders.
const StringRule kRunNameRule = {
    "a non-empty string of letters, digits, '_', '.' and '-', not starting with '.'",
    [](std::string_view s) {
      if (s.empty() || s.front() == '.') return false;
      return std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '.' || c == '-';
      });
    }};

const StringRule kAbsolutePathRule = {"an absolute path",
                                      [](std::string_view s) { return s.starts_with('/'); }};

// The sections and keys from [run] to [sft].
ConfigSchema schema_to_sft() {
  return {
      .sections =
          {
              {"run", "what the run does and where its outputs go"},
              {"tokenizer",
               "the byte-level BPE tokenizer: training text, vocabulary, pre-tokenization"},
              {"model",
               "the policy, a Llama-style transformer; keys are Hugging "
               "Face `LlamaConfig` fields, written to each checkpoint's config.json (the "
               "vocabulary size comes from the tokenizer)"},
              {"data", "pretraining data: the documents the `shards` stage tokenizes into shards"},
              {"optim", "AdamW and the learning-rate schedule"},
              {"pretrain", "the `pretrain` stage: batches, evaluation, logging and checkpoints"},
              {"corpus",
               "the `corpus` stage: the pretraining text mixture; each source gets a share of "
               "total_mb by its weight (app/corpus.h)"},
              {"sft",
               "the `sft` stage: fine-tuning on demonstrations of the [tasks] mixture, with "
               "AdamW settings from [optim]"},
          },
      .keys =
          {
              string_key("run.name", "quickstart", &kRunNameRule,
                         "run name; outputs go to `<run.out_dir>/<run.name>/`"),
              string_key("run.out_dir", "runs/out", &kNonEmptyRule,
                         "folder holding every run's outputs"),
              int_key("run.seed", 1234, 0, kNoLimit, "seed for every random choice in the run"),
              list_key("run.stages", {"tokenizer"},
                       {"tokenizer", "shards", "corpus", "pretrain", "sft", "rl", "eval"}, 1,
                       "stages `ponder train` runs, in order"),
              int_key("run.threads", 0, 0, 1024,
                      "CPU threads for math (0: OMP_NUM_THREADS when set, else all cores)"),
              enum_key("run.device", "auto", {"auto", "cpu", "cuda"},
                       "where the model computes: cuda (GPU 0, or the local rank's under mpirun; "
                       "an error when this build has no "
                       "CUDA backend or no GPU is usable), cpu, or auto (cuda when a GPU is "
                       "usable, else cpu, said once on stderr); docs/GPU.md"),
              enum_key("run.precision", "bf16", {"bf16", "fp32"},
                       "matmul precision on the CUDA backend: bf16 (bf16 operands, fp32 "
                       "accumulation; weights, gradients and AdamW state stay fp32) or fp32; "
                       "the CPU backend always computes in fp32"),
              int_key("run.check_every", 0, 0, kNoLimit,
                      "with several ranks (mpirun), compare a hash of the parameters across "
                      "ranks every N training steps and stop if they differ (0: never)"),
              int_key("run.grad_bucket_mb", 25, 1, 4096,
                      "with several GPU ranks summing over NCCL (docs/SCALING.md), the size "
                      "in MiB of each bucket of gradients, whose sum starts as soon as "
                      "backward has finished it"),

              list_key("tokenizer.inputs", {"data/gsm8k/train.jsonl"}, {}, 1,
                       "text or JSONL files the tokenizer is trained on"),
              int_key("tokenizer.vocab_size", 4096, kMinVocabSize, kMaxVocabSize,
                      "total vocabulary, including the 256 byte tokens and the special tokens"),
              int_key("tokenizer.digits_per_token", 1, 1, 3,
                      "longest run of digits one pre-token may hold (1: every digit alone)"),
              string_key("tokenizer.pattern", "", nullptr,
                         "pre-tokenization regex (PCRE2 syntax); empty: the built-in GPT-4-style "
                         "pattern"),
              float_key("tokenizer.max_input_mb", 0, 0, 100000,
                        "read at most this many MB of training text (0: no limit)"),
              string_key("tokenizer.sample",
                         "Natalia sold 48 clips in April and half as many in May: 48/2 = 24.",
                         nullptr, "text encoded after training to show the tokenization"),

              int_key("model.hidden_size", 256, 8, 65536, "width of the residual stream"),
              int_key("model.intermediate_size", 688, 8, 262144,
                      "width of the SwiGLU MLP's hidden layer"),
              int_key("model.num_hidden_layers", 4, 1, 256, "transformer blocks"),
              int_key("model.num_attention_heads", 4, 1, 1024,
                      "query heads; must divide hidden_size into heads of an even size"),
              int_key("model.num_key_value_heads", 4, 1, 1024,
                      "key/value heads (grouped-query attention); must divide "
                      "num_attention_heads"),
              int_key("model.max_position_embeddings", 512, 8, 1048576,
                      "longest sequence the model accepts, in tokens"),
              float_key_above("model.rms_norm_eps", 1e-5, 0, 1,
                              "epsilon added to the mean square in RMSNorm"),
              float_key_above("model.rope_theta", 10000, 0, 1e9,
                              "base of the rotary position embedding's frequencies"),
              bool_key("model.tie_word_embeddings", false,
                       "the output projection (lm_head) shares the token embedding's weights"),
              float_key_above("model.initializer_range", 0.02, 0, 1,
                              "standard deviation of the normal initialization of weight "
                              "matrices"),

              list_key("data.inputs", {"data/gsm8k/train.jsonl"}, {}, 1,
                       "text or JSONL files tokenized into pretraining shards"),
              int_key("data.val_every", 20, 2, 1000000,
                      "every Nth document goes to the held-out split, the rest to training"),
              int_key("data.tokens_per_shard", 10000000, 1024, 10000000000,
                      "tokens per shard file"),

              float_key_above("optim.lr", 3e-3, 0, 10,
                              "peak learning rate, reached at the end of warmup"),
              float_key_below("optim.beta1", 0.9, 0, 1, "AdamW decay rate of the first moment"),
              float_key_below("optim.beta2", 0.95, 0, 1, "AdamW decay rate of the second moment"),
              float_key_above("optim.eps", 1e-8, 0, 1,
                              "AdamW epsilon, added to the second moment's square root"),
              float_key("optim.weight_decay", 0.1, 0, 10,
                        "decoupled weight decay; norms and embeddings are never decayed"),
              float_key("optim.grad_clip", 1.0, 0, 1e6,
                        "clip gradients to this global L2 norm (0: no clipping)"),
              enum_key("optim.schedule", "cosine", {"cosine", "linear", "constant", "wsd"},
                       "learning rate after warmup: cosine or linear decay to min_lr_ratio * lr, "
                       "constant, or wsd (constant, then linear decay over the last "
                       "decay_fraction of the steps)"),
              int_key("optim.warmup_steps", 50, 0, kNoLimit,
                      "steps of linear warmup; step s < warmup_steps uses lr * (s + 1) / "
                      "warmup_steps"),
              float_key("optim.min_lr_ratio", 0.1, 0, 1,
                        "final learning rate as a fraction of lr (cosine, linear, wsd)"),
              float_key("optim.decay_fraction", 0.2, 0, 1,
                        "wsd: fraction of the steps, at the end, spent decaying"),

              int_key("pretrain.steps", 600, 1, kNoLimit,
                      "optimizer steps in all; the schedule's length"),
              int_key("pretrain.batch_size", 8, 1, 4096, "sequences per micro-batch"),
              int_key("pretrain.seq_len", 128, 2, 1048576,
                      "tokens per sequence; at most model.max_position_embeddings"),
              int_key("pretrain.grad_accum", 1, 1, 4096,
                      "micro-batches whose gradients are summed into one optimizer step"),
              int_key("pretrain.eval_every", 50, 1, kNoLimit,
                      "measure the held-out loss every N steps"),
              int_key("pretrain.eval_batches", 8, 1, 100000,
                      "micro-batches per held-out loss measurement"),
              int_key("pretrain.checkpoint_every", 200, 1, kNoLimit,
                      "write a checkpoint every N steps, and always at the end"),
              int_key("pretrain.log_every", 10, 1, kNoLimit, "print a progress line every N steps"),
              int_key(
                  "pretrain.max_bad_steps", 5, 1, 1000,
                  "consecutive steps with a non-finite loss (each skipped) before the run stops"),

              float_key("corpus.total_mb", 8, 0.001, 100000, "size of the text mixture, in MB"),
              float_key("corpus.arith", 1, 0, 1e6, "weight of arithmetic facts and examples"),
              float_key("corpus.spelling", 1, 0, 1e6,
                        "weight of train-split words spelled one letter per line"),
              float_key("corpus.repeat", 0.5, 0, 1e6,
                        "weight of word lists written twice, to learn copying from context"),
              float_key("corpus.number_words", 0.5, 0, 1e6,
                        "weight of numbers written out in English words"),
              float_key("corpus.gsm8k", 2, 0, 1e6, "weight of GSM8K train questions and solutions"),
              float_key("corpus.lookup", 1, 0, 1e6,
                        "weight of the lookup world's train-split documents"),
              float_key("corpus.files", 0, 0, 1e6, "weight of the files in data.inputs"),

              string_key(
                  "sft.init", "", nullptr,
                  "checkpoint to start from; empty: the run's latest pretraining checkpoint"),
              int_key("sft.steps", 300, 1, kNoLimit,
                      "optimizer steps in all; the schedule's length"),
              int_key("sft.batch_size", 8, 1, 4096, "demonstrations per step, one per row"),
              int_key("sft.seq_len", 256, 8, 1048576,
                      "row length; longer demonstrations are skipped and counted"),
              float_key_above("sft.lr", 1e-3, 0, 10, "peak learning rate"),
              int_key("sft.warmup_steps", 20, 0, kNoLimit, "steps of linear warmup"),
              int_key("sft.eval_every", 50, 1, kNoLimit,
                      "measure the held-out demonstration loss every N steps"),
              int_key("sft.eval_batches", 4, 1, 100000,
                      "batches of eval-split demonstrations per held-out measurement"),
              int_key("sft.checkpoint_every", 100, 1, kNoLimit,
                      "write a checkpoint every N steps, and always at the end"),
              int_key("sft.log_every", 10, 1, kNoLimit, "print a progress line every N steps"),
              float_key("sft.direct_fraction", 0.1, 0, 1,
                        "share of demonstrations that answer directly, with no thinking or tools"),
              float_key("sft.verify_fraction", 0.3, 0, 1,
                        "share of letter-count demonstrations that also check with Python"),
              int_key("sft.max_difficulty", 0, 0, 100,
                      "demonstrations draw their difficulty uniformly from tasks.difficulty to "
                      "this (clamped to each family's maximum); 0: tasks.difficulty alone"),
          },
  };
}

// The [tools.*] sections and keys.
ConfigSchema tools_schema() {
  return {
      .sections =
          {
              {"tools.python",
               "the Python calculator: model-written code runs in a sandbox (DESIGN.md, \"The "
               "sandbox\") on warm workers; `ponder tools check` shows which isolation "
               "features work on a machine"},
              {"tools.search", "the search stub: BM25 over a local JSONL corpus"},
          },
      .keys =
          {
              string_key("tools.python.interpreter", "/usr/bin/python3", &kAbsolutePathRule,
                         "Python interpreter; with full isolation it must lie in the sandbox's "
                         "read-only view (/usr, /bin, /sbin, /lib*)"),
              float_key_above("tools.python.timeout_s", 2, 0, 3600,
                              "wall-time limit of one call, in seconds"),
              int_key("tools.python.cpu_s", 2, 1, 3600, "CPU-time limit of one call, in seconds"),
              int_key("tools.python.memory_mb", 256, 32, 1048576,
                      "address-space limit of one call, in MiB"),
              int_key("tools.python.output_bytes", 2048, 16, 1048576,
                      "output shown to the model, in bytes; more is cut and marked "
                      "`…[truncated]`, and stops the call"),
              int_key("tools.python.workers", 2, 1, 256,
                      "warm sandboxed Python processes; more calls at once wait for one"),
              enum_key("tools.python.isolation", "full", {"full", "none"},
                       "full: namespaces, read-only view, private /tmp, seccomp, unprivileged "
                       "uid (refuses to start where that fails); none: model code runs "
                       "unisolated as this user, with a loud warning"),
              int_key("tools.python.processes", 16, 2, 4096,
                      "processes and threads a worker and its calls may run at once"),
              int_key("tools.python.tmp_mb", 16, 1, 65536,
                      "size of the sandbox's private /tmp, in MiB; also the largest file a call "
                      "may write"),

              string_key("tools.search.corpus", "", nullptr,
                         "lookup corpus: JSONL lines {\"id\", \"title\", \"text\"}; empty: "
                         "no search tool"),
              int_key("tools.search.top_k", 3, 1, 100, "results per query"),
              int_key("tools.search.snippet_bytes", 300, 16, 65536,
                      "text shown per result, in bytes"),
          },
  };
}

}  // namespace

const ConfigSchema& config_schema() {
  static const ConfigSchema schema = [] {
    ConfigSchema schema;
    for (const ConfigSchema& part : {schema_to_sft(), rl_and_tasks_schema(), tools_schema()}) {
      schema.sections.insert(schema.sections.end(), part.sections.begin(), part.sections.end());
      schema.keys.insert(schema.keys.end(), part.keys.begin(), part.keys.end());
    }
    return schema;
  }();
  return schema;
}

namespace {

KeySpec make_key(std::string name, ValueType type, ConfigValue def, std::string description) {
  KeySpec key;
  key.name = std::move(name);
  key.type = type;
  key.default_value = std::move(def);
  key.description = std::move(description);
  return key;
}

}  // namespace

KeySpec bool_key(std::string name, bool def, std::string description) {
  return make_key(std::move(name), ValueType::kBool, def, std::move(description));
}

KeySpec int_key(std::string name, int64_t def, std::optional<int64_t> min,
                std::optional<int64_t> max, std::string description) {
  KeySpec key = make_key(std::move(name), ValueType::kInt, def, std::move(description));
  key.int_min = min;
  key.int_max = max;
  return key;
}

KeySpec float_key(std::string name, double def, std::optional<double> min,
                  std::optional<double> max, std::string description) {
  KeySpec key = make_key(std::move(name), ValueType::kFloat, def, std::move(description));
  key.float_min = min;
  key.float_max = max;
  return key;
}

KeySpec float_key_above(std::string name, double def, double above, std::optional<double> max,
                        std::string description) {
  KeySpec key = float_key(std::move(name), def, above, max, std::move(description));
  key.float_min_open = true;
  return key;
}

KeySpec float_key_below(std::string name, double def, std::optional<double> min, double below,
                        std::string description) {
  KeySpec key = float_key(std::move(name), def, min, below, std::move(description));
  key.float_max_open = true;
  return key;
}

KeySpec string_key(std::string name, std::string def, const StringRule* rule,
                   std::string description) {
  KeySpec key =
      make_key(std::move(name), ValueType::kString, std::move(def), std::move(description));
  key.rule = rule;
  return key;
}

KeySpec enum_key(std::string name, std::string def, std::vector<std::string> choices,
                 std::string description) {
  KeySpec key = make_key(std::move(name), ValueType::kEnum, std::move(def), std::move(description));
  key.choices = std::move(choices);
  return key;
}

KeySpec list_key(std::string name, std::vector<std::string> def, std::vector<std::string> choices,
                 std::size_t min_items, std::string description) {
  KeySpec key =
      make_key(std::move(name), ValueType::kStringList, std::move(def), std::move(description));
  key.choices = std::move(choices);
  key.min_items = min_items;
  return key;
}

KeySpec table_list_key(std::string name, std::string_view def, const TableListRule* rule,
                       std::string description) {
  auto bug = [&](std::string_view what) {
    return std::logic_error(fmt::format("config schema: key `{}`: {}", name, what));
  };
  toml::table doc;
  try {
    doc = toml::parse(fmt::format("value = {}", def));
  } catch (const toml::parse_error& e) {
    throw bug(fmt::format("the default is malformed TOML: {}", e.description()));
  }
  const toml::array* tables = doc["value"].as_array();
  if (!tables || !std::all_of(tables->begin(), tables->end(),
                              [](const toml::node& item) { return item.is_table(); })) {
    throw bug("the default is not a list of tables");
  }
  // A copy, which drops the source lines: the default has none to name in messages.
  KeySpec key = make_key(std::move(name), ValueType::kTableList, TableList(toml::array(*tables)),
                         std::move(description));
  key.table_rule = rule;
  return key;
}

std::string_view KeySpec::section() const {
  return std::string_view(name).substr(0, name.rfind('.'));
}

std::string_view KeySpec::leaf() const {
  return std::string_view(name).substr(name.rfind('.') + 1);
}

const KeySpec* ConfigSchema::find_key(std::string_view name) const {
  for (const KeySpec& key : keys) {
    if (key.name == name) return &key;
  }
  return nullptr;
}

const SectionSpec* ConfigSchema::find_section(std::string_view name) const {
  for (const SectionSpec& section : sections) {
    if (section.name == name) return &section;
  }
  return nullptr;
}

namespace {

// A TOML basic string. Control characters are escaped, which also keeps a
// value shown in an error message on one line.
std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\u{:04X}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string float_literal(double x) {
  std::string s = fmt::format("{}", x);  // shortest text that reads back as the same double
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";  // "n": nan and inf
  return s;
}

// A key as TOML writes it: bare where it can be, else quoted.
std::string key_literal(std::string_view key) {
  bool bare = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
  return bare ? std::string(key) : quoted(key);
}

// `node` as TOML on one line: tables inline, with their keys sorted except
// that `name`, which says what an entry is, comes first.
std::string inline_toml(const toml::node& node) {
  if (const toml::table* table = node.as_table()) {
    std::vector<std::string> items;
    if (const toml::node* name = table->get("name"))
      items.push_back("name = " + inline_toml(*name));
    for (const auto& [key, value] : *table) {
      if (key.str() == "name") continue;
      items.push_back(fmt::format("{} = {}", key_literal(key.str()), inline_toml(value)));
    }
    return items.empty() ? "{}" : fmt::format("{{ {} }}", fmt::join(items, ", "));
  }
  if (const toml::array* array = node.as_array()) {
    std::vector<std::string> items;
    for (const toml::node& item : *array) items.push_back(inline_toml(item));
    return fmt::format("[{}]", fmt::join(items, ", "));
  }
  if (auto s = node.value_exact<std::string>()) return quoted(*s);
  if (auto i = node.value_exact<int64_t>()) return fmt::format("{}", *i);
  if (auto x = node.value_exact<double>()) return float_literal(*x);
  if (auto b = node.value_exact<bool>()) return *b ? "true" : "false";
  std::ostringstream out;  // a date or time: toml++ prints those in TOML syntax
  node.visit([&](const auto& value) { out << value; });
  return out.str();
}

}  // namespace

TableList::TableList(toml::array tables) {
  for (const toml::node& item : tables) {
    if (!item.is_table()) throw std::invalid_argument("TableList: an item is not a table");
    entries_toml_.push_back(inline_toml(item));
  }
  tables_ = std::make_shared<const toml::array>(std::move(tables));
}

std::string toml_literal(const ConfigValue& value) {
  struct Visitor {
    std::string operator()(bool b) const { return b ? "true" : "false"; }
    std::string operator()(int64_t i) const { return fmt::format("{}", i); }
    std::string operator()(double x) const { return float_literal(x); }
    std::string operator()(const std::string& s) const { return quoted(s); }
    std::string operator()(const std::vector<std::string>& list) const {
      std::vector<std::string> items;
      for (const std::string& s : list) items.push_back(quoted(s));
      return fmt::format("[{}]", fmt::join(items, ", "));
    }
    std::string operator()(const TableList& list) const {
      return fmt::format("[{}]", fmt::join(list.entries_toml(), ", "));
    }
  };
  return std::visit(Visitor{}, value);
}

std::string_view type_phrase(ValueType type) {
  switch (type) {
    case ValueType::kBool:
      return "a boolean";
    case ValueType::kInt:
      return "an integer";
    case ValueType::kFloat:
      return "a number";
    case ValueType::kString:
    case ValueType::kEnum:
      return "a string";
    case ValueType::kStringList:
      return "a list of strings";
    case ValueType::kTableList:
      return "a list of tables";
  }
  return "";
}

bool float_in_bounds(const KeySpec& key, double x) {
  if (key.float_min && (key.float_min_open ? x <= *key.float_min : x < *key.float_min)) {
    return false;
  }
  if (key.float_max && (key.float_max_open ? x >= *key.float_max : x > *key.float_max)) {
    return false;
  }
  return true;
}

namespace {

template <typename T>
std::string bounds(const std::optional<T>& min, const std::optional<T>& max, bool min_open = false,
                   bool max_open = false) {
  if (min && max) {
    return fmt::format("in {}{}, {}{}", min_open ? '(' : '[', *min, *max, max_open ? ')' : ']');
  }
  if (min) return fmt::format("{} {}", min_open ? ">" : ">=", *min);
  if (max) return fmt::format("{} {}", max_open ? "<" : "<=", *max);
  return "";
}

}  // namespace

std::string describe_allowed(const KeySpec& key) {
  switch (key.type) {
    case ValueType::kBool:
      return "";
    case ValueType::kInt:
      return bounds(key.int_min, key.int_max);
    case ValueType::kFloat:
      return bounds(key.float_min, key.float_max, key.float_min_open, key.float_max_open);
    case ValueType::kString:
      return key.rule ? std::string(key.rule->description) : "";
    case ValueType::kEnum:
      return fmt::format("one of: {}", fmt::join(key.choices, ", "));
    case ValueType::kStringList: {
      std::vector<std::string> parts;
      if (!key.choices.empty()) {
        parts.push_back(fmt::format("each one of: {}", fmt::join(key.choices, ", ")));
      }
      if (key.min_items > 0) {
        parts.push_back(
            fmt::format("at least {} item{}", key.min_items, key.min_items == 1 ? "" : "s"));
      }
      return fmt::format("{}", fmt::join(parts, "; "));
    }
    case ValueType::kTableList:
      return key.table_rule ? std::string(key.table_rule->description) : "";
  }
  return "";
}

namespace {

std::string_view doc_type_name(ValueType type) {
  switch (type) {
    case ValueType::kBool:
      return "boolean";
    case ValueType::kInt:
      return "integer";
    case ValueType::kFloat:
      return "number";
    case ValueType::kString:
      return "string";
    case ValueType::kEnum:
      return "string (choice)";
    case ValueType::kStringList:
      return "list of strings";
    case ValueType::kTableList:
      return "list of tables";
  }
  return "";
}

// A table cell: '|' would end the cell even inside a code span.
std::string cell(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '|') out += '\\';
    out += c;
  }
  return out;
}

std::string code(std::string_view text) {
  // A backtick inside needs a longer fence (and spaces, so the fence stays whole).
  if (text.find('`') != std::string_view::npos) return fmt::format("`` {} ``", text);
  return fmt::format("`{}`", text);
}

}  // namespace

std::string config_reference_markdown(const ConfigSchema& schema) {
  std::string md =
      "# Configuration reference\n"
      "\n"
      "<!-- Generated by `ponder config docs` from app/config_schema.cc; do not edit. -->\n"
      "\n"
      "A run reads one TOML file (`--config FILE`), then applies each `--set section.key=value`\n"
      "in order (the value in TOML syntax; a bare word is taken as a string, and as a one-item\n"
      "list for a list key). Keys left out take their defaults. `ponder config show FILE`\n"
      "prints the resolved config; an unknown key, a wrong type or an out-of-range value is an\n"
      "error naming the file, line and key. An integer is accepted where a number is expected.\n"
      "A list of tables is written as `[[section.key]]` blocks or as a list of inline tables\n"
      "(`key = [{ ... }, { ... }]`); `--set section.key=[{ ... }]` replaces the whole list.\n";
  for (const SectionSpec& section : schema.sections) {
    md += fmt::format("\n## [{}]\n\n{}\n\n", section.name, section.description);
    md += "| key | type | default | allowed | description |\n";
    md += "|---|---|---|---|---|\n";
    for (const KeySpec& key : schema.keys) {
      if (key.section() != section.name) continue;
      std::string allowed = describe_allowed(key);
      md += fmt::format("| {} | {} | {} | {} | {} |\n", cell(code(key.name)),
                        doc_type_name(key.type), cell(code(toml_literal(key.default_value))),
                        allowed.empty() ? "any" : cell(allowed), cell(key.description));
    }
  }
  return md;
}

}  // namespace ponder

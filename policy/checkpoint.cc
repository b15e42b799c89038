#include "policy/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "policy/atomic_file.h"
#include "policy/error.h"
#include "policy/safetensors.h"
#include "policy/special_tokens.h"

namespace ponder {
namespace {

namespace fs = std::filesystem;

constexpr int kStateFormatVersion = 1;
constexpr int kChecksumsFormatVersion = 1;
constexpr char kConfigFile[] = "config.json";
constexpr char kModelFile[] = "model.safetensors";
constexpr char kTokenizerFile[] = "tokenizer.json";
constexpr char kOptimizerFile[] = "optimizer.safetensors";
constexpr char kStateFile[] = "trainer_state.json";
constexpr char kChecksumsFile[] = "checksums.json";

struct FileSum {
  uint64_t bytes = 0;
  uint32_t crc = 0;
};

uint32_t crc_of(std::string_view data) {
  return static_cast<uint32_t>(
      crc32_z(0, reinterpret_cast<const Bytef*>(data.data()), data.size()));
}

std::string prefix(const fs::path& dir) {
  return fmt::format("checkpoint {}", dir.string());
}

// A checkpoint being built in a temp folder: each file written durably and its
// checksum recorded for checksums.json.
class CheckpointWriter {
 public:
  explicit CheckpointWriter(fs::path folder) : folder_(std::move(folder)) {}

  void add(const std::string& name, std::string_view contents) {
    write_file_atomically(folder_ / name, contents);
    sums_[name] = {contents.size(), crc_of(contents)};
  }

  void finish() {
    nlohmann::ordered_json files = nlohmann::ordered_json::object();
    for (const auto& [name, sum] : sums_) {
      files[name] = {{"bytes", sum.bytes}, {"crc32", fmt::format("{:08x}", sum.crc)}};
    }
    const nlohmann::ordered_json doc = {{"format_version", kChecksumsFormatVersion},
                                        {"files", files}};
    write_file_atomically(folder_ / kChecksumsFile, doc.dump(2) + "\n");
  }

 private:
  fs::path folder_;
  std::map<std::string, FileSum> sums_;
};

void sync_folder(const fs::path& folder) {
  const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || ::fsync(fd) != 0) {
    const int saved = errno;
    if (fd >= 0) ::close(fd);
    throw Error(fmt::format("cannot sync folder `{}`: {}", folder.string(), std::strerror(saved)));
  }
  ::close(fd);
}

void rename_or_throw(const fs::path& from, const fs::path& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) {
    throw Error(fmt::format("cannot rename `{}` to `{}`: {}", from.string(), to.string(),
                            std::strerror(errno)));
  }
}

// Puts the complete folder `fresh` at `target`, replacing whatever is there.
void swap_in(const fs::path& fresh, const fs::path& target) {
  std::error_code ec;
  if (!fs::exists(target, ec)) {
    rename_or_throw(fresh, target);
  } else if (::renameat2(AT_FDCWD, fresh.c_str(), AT_FDCWD, target.c_str(), RENAME_EXCHANGE) == 0) {
    fs::remove_all(fresh, ec);  // now the old checkpoint
  } else if (errno == EINVAL || errno == ENOSYS || errno == ENOTSUP) {
    // No atomic exchange on this filesystem: for a moment only the aside copy exists.
    const fs::path aside = target.string() + fmt::format(".old-{}", ::getpid());
    fs::remove_all(aside, ec);
    rename_or_throw(target, aside);
    rename_or_throw(fresh, target);
    fs::remove_all(aside, ec);
  } else {
    throw Error(fmt::format("cannot replace `{}` with `{}`: {}", target.string(), fresh.string(),
                            std::strerror(errno)));
  }
  sync_folder(target.has_parent_path() ? target.parent_path() : fs::path("."));
}

std::vector<TensorView> model_views(const std::vector<ParameterSpec>& specs,
                                    const std::vector<float>& params) {
  std::vector<TensorView> views;
  for (const auto& s : specs) views.push_back({s.name, s.shape, params.data() + s.offset});
  return views;
}

std::vector<TensorView> optimizer_views(const std::vector<ParameterSpec>& specs,
                                        const std::vector<float>& m, const std::vector<float>& v) {
  std::vector<TensorView> views;
  for (const auto& s : specs) {
    views.push_back({s.name + ".exp_avg", s.shape, m.data() + s.offset});
    views.push_back({s.name + ".exp_avg_sq", s.shape, v.data() + s.offset});
  }
  return views;
}

std::string state_json(const TrainerState& state) {
  const nlohmann::ordered_json doc = {
      {"format_version", kStateFormatVersion},
      {"step", state.step},
      {"tokens_seen", state.tokens_seen},
      {"data_position", state.data_position},
      {"rng_state", state.rng_state},
      {"world_size", state.world_size},
      {"extra", state.extra},
  };
  try {
    return doc.dump(2) + "\n";
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("cannot write trainer state: rng_state or extra is not UTF-8 text: {}",
                            e.what()));
  }
}

std::string read_whole(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

FileSum sum_of_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  FileSum sum;
  uLong crc = crc32_z(0, nullptr, 0);
  std::vector<char> chunk(1 << 20);
  while (in) {
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    const auto got = static_cast<size_t>(in.gcount());
    crc = crc32_z(crc, reinterpret_cast<const Bytef*>(chunk.data()), got);
    sum.bytes += got;
  }
  sum.crc = static_cast<uint32_t>(crc);
  return sum;
}

// Verifies the files listed in checksums.json (only those in `only`, when
// given) and returns the list. Every required file must be listed.
std::map<std::string, FileSum> verify_checksums(const fs::path& dir,
                                                const std::vector<std::string>& only = {}) {
  const std::string at = prefix(dir);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error(fmt::format("{}: not found (not a folder)", at));
  const fs::path list_file = dir / kChecksumsFile;
  if (!fs::exists(list_file, ec))
    throw Error(fmt::format("{}: missing file {}", at, kChecksumsFile));
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(read_whole(list_file));
  } catch (const nlohmann::json::parse_error&) {
    throw Error(fmt::format("{}: {} is corrupt (not valid JSON)", at, kChecksumsFile));
  }
  if (!doc.is_object() ||
      doc.value("format_version", nlohmann::json()) != kChecksumsFormatVersion ||
      !doc.contains("files") || !doc["files"].is_object()) {
    throw Error(fmt::format("{}: {} is corrupt or of another format (expected format_version {})",
                            at, kChecksumsFile, kChecksumsFormatVersion));
  }
  std::map<std::string, FileSum> sums;
  for (const auto& [name, entry] : doc["files"].items()) {
    const bool plain_name = !name.empty() && name.find('/') == std::string::npos && name != "." &&
                            name != ".." && name != kChecksumsFile;
    uint32_t crc = 0;
    const std::string hex =
        entry.is_object() && entry.contains("crc32") && entry["crc32"].is_string()
            ? entry["crc32"].get<std::string>()
            : "";
    const auto parsed = std::from_chars(hex.data(), hex.data() + hex.size(), crc, 16);
    if (!plain_name || !entry.is_object() || !entry.contains("bytes") ||
        !entry["bytes"].is_number_unsigned() || hex.size() != 8 || parsed.ec != std::errc() ||
        parsed.ptr != hex.data() + hex.size()) {
      throw Error(fmt::format("{}: {} is corrupt (bad entry for `{}`)", at, kChecksumsFile, name));
    }
    sums[name] = {entry["bytes"].get<uint64_t>(), crc};
  }
  for (const char* required : {kConfigFile, kModelFile, kTokenizerFile, kStateFile}) {
    if (!sums.count(required)) {
      throw Error(fmt::format("{}: {} does not list {}", at, kChecksumsFile, required));
    }
  }
  for (const auto& [name, expected] : sums) {
    if (!only.empty() && std::find(only.begin(), only.end(), name) == only.end()) continue;
    const fs::path file = dir / name;
    if (!fs::is_regular_file(file, ec)) throw Error(fmt::format("{}: missing file {}", at, name));
    const FileSum actual = sum_of_file(file);
    if (actual.bytes < expected.bytes) {
      throw Error(fmt::format("{}: {} is truncated ({} bytes; expected {})", at, name, actual.bytes,
                              expected.bytes));
    }
    if (actual.bytes > expected.bytes) {
      throw Error(fmt::format("{}: {} is corrupt ({} bytes; expected {})", at, name, actual.bytes,
                              expected.bytes));
    }
    if (actual.crc != expected.crc) {
      throw Error(fmt::format("{}: {} is corrupt (checksum mismatch)", at, name));
    }
  }
  return sums;
}

// Copies the tensors of `file` into `flat` (laid out by `specs`, each name
// suffixed by `suffix`); the file must hold exactly `specs` × `suffixes`.
void read_flat(const fs::path& dir, const char* file_name, const std::vector<ParameterSpec>& specs,
               const std::vector<std::string>& suffixes,
               const std::vector<std::vector<float>*>& flats) {
  const std::string at = fmt::format("{}: {}", prefix(dir), file_name);
  const SafetensorsFile file = read_safetensors(dir / file_name);
  size_t expected_count = 0;
  for (size_t k = 0; k < suffixes.size(); ++k) {
    flats[k]->assign(specs.empty() ? 0 : specs.back().offset + specs.back().size, 0.0f);
    for (const auto& s : specs) {
      const std::string name = s.name + suffixes[k];
      if (!file.contains(name)) {
        throw Error(fmt::format("{}: missing tensor `{}` (config.json expects shape [{}])", at,
                                name, fmt::join(s.shape, ", ")));
      }
      const HostTensor& t = file.get(name);
      if (t.shape != s.shape) {
        throw Error(fmt::format("{}: tensor `{}` has shape [{}]; config.json expects [{}]", at,
                                name, fmt::join(t.shape, ", "), fmt::join(s.shape, ", ")));
      }
      std::copy(t.values.begin(), t.values.end(), flats[k]->begin() + s.offset);
      ++expected_count;
    }
  }
  if (file.names.size() != expected_count) {
    for (const auto& name : file.names) {
      bool known = false;
      for (const auto& s : specs) {
        for (const auto& suffix : suffixes) known = known || name == s.name + suffix;
      }
      if (!known) {
        throw Error(fmt::format("{}: tensor `{}` is not a parameter of the model in config.json",
                                at, name));
      }
    }
  }
}

TrainerState read_state(const fs::path& dir) {
  const std::string at = fmt::format("{}: {}", prefix(dir), kStateFile);
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(read_whole(dir / kStateFile));
  } catch (const nlohmann::json::parse_error&) {
    throw Error(fmt::format("{}: not valid JSON", at));
  }
  if (!doc.is_object()) throw Error(fmt::format("{}: expected a JSON object", at));
  auto field = [&](const char* key, bool ok, const char* expected) -> const nlohmann::json& {
    if (!doc.contains(key))
      throw Error(fmt::format("{}: missing `{}`; expected {}", at, key, expected));
    if (!ok) {
      throw Error(fmt::format("{}: `{}` is {}; expected {}", at, key, doc[key].dump(), expected));
    }
    return doc[key];
  };
  auto is_uint = [&](const char* key) {
    return doc.contains(key) && doc[key].is_number_unsigned();
  };
  const auto& version = field("format_version", true, "1");
  if (version != kStateFormatVersion) {
    throw Error(fmt::format("{}: format_version {} is not supported; expected {}", at,
                            version.dump(), kStateFormatVersion));
  }
  TrainerState s;
  s.step = field("step", is_uint("step") && doc["step"].get<uint64_t>() <= uint64_t{INT64_MAX},
                 "an integer >= 0")
               .get<int64_t>();
  s.tokens_seen = field("tokens_seen", is_uint("tokens_seen"), "an integer >= 0").get<uint64_t>();
  s.data_position =
      field("data_position", is_uint("data_position"), "an integer >= 0").get<uint64_t>();
  s.rng_state =
      field("rng_state", doc.contains("rng_state") && doc["rng_state"].is_string(), "a string")
          .get<std::string>();
  s.world_size = field("world_size",
                       is_uint("world_size") && doc["world_size"].get<uint64_t>() >= 1 &&
                           doc["world_size"].get<uint64_t>() <= INT32_MAX,
                       "an integer >= 1")
                     .get<int>();
  s.extra = field("extra", doc.contains("extra") && doc["extra"].is_object(), "an object");
  return s;
}

}  // namespace

void save_checkpoint(const fs::path& dir, const Checkpoint& checkpoint,
                     const Tokenizer& tokenizer) {
  const fs::path target = dir.has_filename() ? dir : dir.parent_path();
  const std::string at = fmt::format("cannot save checkpoint {}", target.string());
  const ModelConfig& config = checkpoint.config;
  config.validate();
  const size_t count = parameter_count(config);
  if (checkpoint.params.size() != count) {
    throw Error(fmt::format("{}: {} parameters; the model config has {}", at,
                            checkpoint.params.size(), count));
  }
  const bool has_optimizer = !checkpoint.adam_m.empty() || !checkpoint.adam_v.empty();
  if (has_optimizer && (checkpoint.adam_m.size() != count || checkpoint.adam_v.size() != count)) {
    throw Error(fmt::format("{}: optimizer moments of {} and {} values; expected {} each", at,
                            checkpoint.adam_m.size(), checkpoint.adam_v.size(), count));
  }
  if (tokenizer.vocab_size() > config.vocab_size) {
    throw Error(fmt::format("{}: the tokenizer has {} ids but the model's vocab_size is {}", at,
                            tokenizer.vocab_size(), config.vocab_size));
  }
  const TrainerState& state = checkpoint.state;
  if (state.step < 0 || state.world_size < 1 || !state.extra.is_object()) {
    throw Error(
        fmt::format("{}: trainer state needs step >= 0, world_size >= 1 and an object "
                    "`extra`; got step {}, world_size {}, extra {}",
                    at, state.step, state.world_size, state.extra.type_name()));
  }

  const fs::path temp = target.string() + fmt::format(".tmp-{}", ::getpid());
  std::error_code ec;
  fs::remove_all(temp, ec);
  fs::create_directories(temp, ec);
  if (ec) throw Error(fmt::format("{}: cannot create `{}`: {}", at, temp.string(), ec.message()));
  try {
    const auto specs = parameter_specs(config);
    CheckpointWriter out(temp);
    out.add(kConfigFile, config.to_hf_json(tokenizer.special_id(Special::kBos),
                                           tokenizer.special_id(Special::kEnd),
                                           tokenizer.special_id(Special::kPad)));
    out.add(kModelFile,
            encode_safetensors(model_views(specs, checkpoint.params), {{"format", "pt"}}));
    out.add(kTokenizerFile, tokenizer.to_hf_json());
    if (has_optimizer) {
      out.add(kOptimizerFile,
              encode_safetensors(optimizer_views(specs, checkpoint.adam_m, checkpoint.adam_v),
                                 {{"format", "pt"}, {"optimizer", "adamw"}}));
    }
    out.add(kStateFile, state_json(state));
    out.finish();
    sync_folder(temp);
    swap_in(temp, target);
  } catch (...) {
    fs::remove_all(temp, ec);
    throw;
  }
}

Checkpoint load_checkpoint(const fs::path& dir, bool load_optimizer) {
  const auto sums = verify_checksums(dir);
  Checkpoint c;
  c.config = ModelConfig::from_hf_json_file(dir / kConfigFile);
  const auto specs = parameter_specs(c.config);
  read_flat(dir, kModelFile, specs, {""}, {&c.params});
  if (load_optimizer && sums.count(kOptimizerFile)) {
    read_flat(dir, kOptimizerFile, specs, {".exp_avg", ".exp_avg_sq"}, {&c.adam_m, &c.adam_v});
  }
  c.state = read_state(dir);
  return c;
}

Tokenizer load_checkpoint_tokenizer(const fs::path& dir) {
  verify_checksums(dir, {kConfigFile, kTokenizerFile});
  const ModelConfig config = ModelConfig::from_hf_json_file(dir / kConfigFile);
  Tokenizer tokenizer = Tokenizer::load(dir / kTokenizerFile);
  if (tokenizer.vocab_size() > config.vocab_size) {
    throw Error(fmt::format("{}: the tokenizer has {} ids but config.json's vocab_size is {}",
                            prefix(dir), tokenizer.vocab_size(), config.vocab_size));
  }
  return tokenizer;
}

fs::path checkpoint_path(const fs::path& checkpoints_dir, int64_t step) {
  return checkpoints_dir / fmt::format("step_{:08d}", step);
}

std::optional<fs::path> latest_checkpoint(const fs::path& checkpoints_dir) {
  std::error_code ec;
  if (!fs::exists(checkpoints_dir, ec)) return std::nullopt;
  fs::directory_iterator it(checkpoints_dir, ec);
  if (ec) {
    throw Error(
        fmt::format("cannot list checkpoints in `{}`: {}", checkpoints_dir.string(), ec.message()));
  }
  std::optional<fs::path> best;
  int64_t best_step = -1;
  for (const auto& entry : it) {
    const std::string name = entry.path().filename().string();
    constexpr std::string_view kPrefix = "step_";
    if (!name.starts_with(kPrefix) || name.size() == kPrefix.size() || !entry.is_directory(ec)) {
      continue;
    }
    int64_t step = 0;
    const char* first = name.data() + kPrefix.size();
    const char* last = name.data() + name.size();
    const auto parsed = std::from_chars(first, last, step);
    if (parsed.ec != std::errc() || parsed.ptr != last || *first == '-' || *first == '+') continue;
    if (step > best_step || (step == best_step && entry.path() > *best)) {
      best_step = step;
      best = entry.path();
    }
  }
  return best;
}

void require_same_model(const ModelConfig& run, const ModelConfig& checkpoint,
                        const fs::path& dir) {
  std::vector<std::string> diffs;
  auto compare = [&](const char* name, auto a, auto b) {
    if (a != b)
      diffs.push_back(fmt::format("{} = {} in the checkpoint, {} in the run", name, b, a));
  };
  compare("vocab_size", run.vocab_size, checkpoint.vocab_size);
  compare("hidden_size", run.hidden_size, checkpoint.hidden_size);
  compare("intermediate_size", run.intermediate_size, checkpoint.intermediate_size);
  compare("num_hidden_layers", run.num_hidden_layers, checkpoint.num_hidden_layers);
  compare("num_attention_heads", run.num_attention_heads, checkpoint.num_attention_heads);
  compare("num_key_value_heads", run.num_key_value_heads, checkpoint.num_key_value_heads);
  compare("max_position_embeddings", run.max_position_embeddings,
          checkpoint.max_position_embeddings);
  compare("rms_norm_eps", run.rms_norm_eps, checkpoint.rms_norm_eps);
  compare("rope_theta", run.rope_theta, checkpoint.rope_theta);
  compare("tie_word_embeddings", run.tie_word_embeddings, checkpoint.tie_word_embeddings);
  if (!diffs.empty()) {
    throw Error(fmt::format("{}: its model differs from the run's: {}", prefix(dir),
                            fmt::join(diffs, "; ")));
  }
}

}  // namespace ponder

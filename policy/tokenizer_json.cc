// Tokenizer <-> Hugging Face tokenizer.json. Only the layout that ponder writes
// is accepted on load (see tokenizer.h); anything else is a clear error rather
// than a tokenizer that silently encodes differently.
#include <fstream>
#include <sstream>
#include <unordered_map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "policy/atomic_file.h"
#include "policy/byte_level.h"
#include "policy/error.h"
#include "policy/tokenizer.h"

namespace ponder {

using nlohmann::ordered_json;

std::string Tokenizer::to_hf_json() const {
  ordered_json added = ordered_json::array();
  for (int k = 0; k < kNumSpecialTokens; ++k) {
    added.push_back({{"id", first_special_id() + k},
                     {"content", kSpecialTokens[k]},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", true}});
  }
  ordered_json vocab = ordered_json::object();
  for (size_t id = 0; id < token_bytes_.size(); ++id) {
    vocab[bytes_to_byte_level(token_bytes_[id])] = id;
  }
  ordered_json merges = ordered_json::array();
  for (const auto& [a, b] : merges_) {
    merges.push_back(bytes_to_byte_level(token_bytes_[a]) + " " +
                     bytes_to_byte_level(token_bytes_[b]));
  }
  const ordered_json split = {{"type", "Split"},
                              {"pattern", {{"Regex", pattern()}}},
                              {"behavior", "Isolated"},
                              {"invert", false}};
  const ordered_json byte_level = {{"type", "ByteLevel"},
                                   {"add_prefix_space", false},
                                   {"trim_offsets", true},
                                   {"use_regex", false}};
  ordered_json doc = {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", added},
      {"normalizer", nullptr},
      {"pre_tokenizer", {{"type", "Sequence"}, {"pretokenizers", {split, byte_level}}}},
      {"post_processor", nullptr},
      {"decoder",
       {{"type", "ByteLevel"},
        {"add_prefix_space", true},
        {"trim_offsets", true},
        {"use_regex", true}}},
      {"model",
       {{"type", "BPE"},
        {"dropout", nullptr},
        {"unk_token", nullptr},
        {"continuing_subword_prefix", nullptr},
        {"end_of_word_suffix", nullptr},
        {"fuse_unk", false},
        {"byte_fallback", false},
        {"ignore_merges", false},
        {"vocab", vocab},
        {"merges", merges}}}};
  return doc.dump(1) + "\n";
}

void Tokenizer::save(const std::filesystem::path& folder) const {
  write_file_atomically(folder / "tokenizer.json", to_hf_json());
}

namespace {

// Reads `doc[key]` as the JSON type `want`, or throws naming the file and key.
const nlohmann::json& require(const nlohmann::json& doc, const char* key,
                              nlohmann::json::value_t want, const std::string& where,
                              const char* expected) {
  auto it = doc.find(key);
  if (it == doc.end())
    throw Error(fmt::format("{}: missing `{}`; expected {}", where, key, expected));
  if (it->type() != want) {
    throw Error(fmt::format("{}: `{}` is {}; expected {}", where, key, it->type_name(), expected));
  }
  return *it;
}

std::string split_pattern(const nlohmann::json& doc, const std::string& where) {
  using vt = nlohmann::json::value_t;
  const auto& pre = require(doc, "pre_tokenizer", vt::object, where,
                            "a Sequence of Split(regex) and ByteLevel pre-tokenizers");
  const auto& list =
      require(pre, "pretokenizers", vt::array, where + ": pre_tokenizer", "[Split, ByteLevel]");
  if (list.size() != 2 || !list[0].is_object() || list[0].value("type", "") != "Split" ||
      !list[1].is_object() || list[1].value("type", "") != "ByteLevel" ||
      list[1].value("use_regex", true) || list[1].value("add_prefix_space", true)) {
    throw Error(fmt::format(
        "{}: pre_tokenizer is not the one ponder writes; expected [Split(regex, Isolated), "
        "ByteLevel(add_prefix_space=false, use_regex=false)]",
        where));
  }
  const auto& pattern =
      require(list[0], "pattern", vt::object, where + ": Split", "{\"Regex\": ...}");
  return require(pattern, "Regex", vt::string, where + ": Split pattern", "a regex string")
      .get<std::string>();
}

}  // namespace

Tokenizer Tokenizer::load(const std::filesystem::path& file_or_folder) {
  using vt = nlohmann::json::value_t;
  const std::filesystem::path file = std::filesystem::is_directory(file_or_folder)
                                         ? file_or_folder / "tokenizer.json"
                                         : file_or_folder;
  const std::string where = file.string();
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error(fmt::format("tokenizer file `{}` not found or unreadable", where));
  std::stringstream buffer;
  buffer << in.rdbuf();
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(buffer.str());
  } catch (const nlohmann::json::parse_error& e) {
    throw Error(fmt::format("{}: not valid JSON (truncated or corrupt?) at byte {}: {}", where,
                            e.byte, e.what()));
  }
  if (!doc.is_object()) throw Error(fmt::format("{}: expected a JSON object", where));
  const auto& version = require(doc, "version", vt::string, where, "\"1.0\"");
  if (version != "1.0") {
    throw Error(fmt::format("{}: tokenizer.json version {} is not supported; expected \"1.0\"",
                            where, version.dump()));
  }
  const auto& model = require(doc, "model", vt::object, where, "a BPE model");
  if (model.value("type", "") != "BPE") {
    throw Error(fmt::format("{}: model type {} is not supported; expected \"BPE\"", where,
                            model.value("type", nlohmann::json()).dump()));
  }
  const auto& vocab = require(model, "vocab", vt::object, where + ": model", "a token -> id map");
  const auto& merge_list = require(model, "merges", vt::array, where + ": model", "a merge list");

  // Every vocab entry must sit where the layout puts it: bytes first, then merges.
  std::unordered_map<std::string, TokenId> id_of;
  for (const auto& [text, id] : vocab.items()) {
    if (!id.is_number_integer()) {
      throw Error(fmt::format("{}: vocab entry `{}` has a non-integer id", where, text));
    }
    id_of[text] = id.get<TokenId>();
  }
  for (int b = 0; b < 256; ++b) {
    const std::string text = bytes_to_byte_level(std::string(1, static_cast<char>(b)));
    auto it = id_of.find(text);
    if (it == id_of.end() || it->second != b) {
      throw Error(fmt::format("{}: byte {} must be token id {}; not a ponder byte-level vocab",
                              where, b, b));
    }
  }
  std::vector<std::pair<TokenId, TokenId>> merges;
  merges.reserve(merge_list.size());
  for (size_t r = 0; r < merge_list.size(); ++r) {
    std::string left, right;
    const auto& m = merge_list[r];
    if (m.is_string()) {
      const std::string s = m.get<std::string>();
      const size_t space = s.find(' ');
      if (space == std::string::npos || s.find(' ', space + 1) != std::string::npos) {
        throw Error(fmt::format("{}: merge {} ({}) is not two tokens separated by one space", where,
                                r, m.dump()));
      }
      left = s.substr(0, space);
      right = s.substr(space + 1);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      left = m[0].get<std::string>();
      right = m[1].get<std::string>();
    } else {
      throw Error(fmt::format("{}: merge {} is {}; expected \"a b\" or [\"a\", \"b\"]", where, r,
                              m.dump()));
    }
    auto a = id_of.find(left), b = id_of.find(right), joined = id_of.find(left + right);
    if (a == id_of.end() || b == id_of.end() || joined == id_of.end()) {
      throw Error(fmt::format("{}: merge {} ({} + {}) names a token missing from the vocab", where,
                              r, left, right));
    }
    if (joined->second != 256 + static_cast<TokenId>(r)) {
      throw Error(fmt::format("{}: merge {} produces id {}; expected {} (merge r makes id 256 + r)",
                              where, r, joined->second, 256 + r));
    }
    merges.emplace_back(a->second, b->second);
  }
  if (id_of.size() != 256 + merges.size()) {
    throw Error(fmt::format("{}: vocab has {} entries; expected 256 bytes + {} merges", where,
                            id_of.size(), merges.size()));
  }

  const auto& added = require(doc, "added_tokens", vt::array, where, "the special tokens");
  const TokenId first_special = 256 + static_cast<TokenId>(merges.size());
  if (added.size() != kSpecialTokens.size()) {
    throw Error(
        fmt::format("{}: {} added tokens; expected the {} special tokens of the chat format", where,
                    added.size(), kSpecialTokens.size()));
  }
  for (int k = 0; k < kNumSpecialTokens; ++k) {
    const auto& token = added[k];
    if (!token.is_object() || token.value("content", "") != kSpecialTokens[k] ||
        token.value("id", -1) != first_special + k) {
      throw Error(fmt::format("{}: added token {} is {}; expected {} with id {}", where, k,
                              token.dump(), kSpecialTokens[k], first_special + k));
    }
  }
  const std::string pattern = split_pattern(doc, where);
  try {
    return Tokenizer(merges, pattern);
  } catch (const Error& e) {
    throw Error(fmt::format("{}: {}", where, e.what()));
  }
}

}  // namespace ponder

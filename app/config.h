// A run's configuration: one TOML file plus `--set section.key=value`
// overrides, checked against the schema (app/config_schema.h), with every key
// the file leaves out filled from its default.
//
// Contract:
//  - A Config exists only fully validated: every schema key has a value of its
//    type within its constraints, and the file held no key or section the
//    schema lacks. Any problem is a ponder::Error whose one-line message names
//    the file and line (or the --set argument), the key, the value at fault and
//    what was expected; for a misspelt key, section or choice it suggests the
//    closest valid one.
//  - Overrides apply after the file, left to right, so the last one wins.
//  - A list of tables (e.g. [[rl.rewards]]) is checked by its key's
//    TableListRule as it loads, so a bad entry fails here, not when used.
//  - to_toml() re-loads to an equal Config.
//  - Asking a getter for a key the schema lacks, or of another type, is a
//    programming error: std::logic_error, not ponder::Error.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "app/config_schema.h"

namespace ponder {

class Config {
 public:
  // Loads `file` (an empty path: defaults only), applies `overrides`, each
  // "section.key=value" with the value in TOML syntax. For convenience on the
  // command line, text that is not TOML (a bare word such as my-run or
  // data/a.txt) is taken as a string, a single string given for a list key is
  // a one-item list, and so is a single inline table given for a list of
  // tables; a list given for a list of tables replaces the whole list.
  static Config load(const std::filesystem::path& file,
                     const std::vector<std::string>& overrides = {},
                     const ConfigSchema& schema = config_schema());

  bool get_bool(std::string_view key) const;
  int64_t get_int(std::string_view key) const;
  double get_float(std::string_view key) const;
  const std::string& get_string(std::string_view key) const;  // kString and kEnum keys
  std::vector<std::string> get_strings(std::string_view key) const;
  // A kTableList key's tables, each a toml::table; those from the file keep
  // their source lines. Valid as long as the Config (or a copy) lives.
  const toml::array& get_tables(std::string_view key) const;
  // Where a kTableList key's tables came from, to name in messages as its rule
  // does (e.g. parse_reward_specs(config.get_tables(k), config.get_tables_source(k))):
  // the config file as the user named it, "--set <argument>", or "the default".
  const std::string& get_tables_source(std::string_view key) const;

  // The resolved config as TOML: every key, sections and keys in schema order.
  std::string to_toml() const;
  // The same, restricted to `keys`: each a full key name or a section name.
  std::string to_toml(const std::vector<std::string>& keys) const;

  // The file loaded; empty when there was none.
  const std::filesystem::path& source() const { return source_; }

  // Equal when every key has the same value; where the values came from
  // (source(), overrides, defaults) does not matter. Lists of tables are equal
  // when they hold the same keys and values, however they were written.
  friend bool operator==(const Config& a, const Config& b) { return a.values_ == b.values_; }

 private:
  Config(const ConfigSchema& schema, std::filesystem::path source);
  const ConfigValue& value(std::string_view key, ValueType type) const;

  const ConfigSchema* schema_;
  std::filesystem::path source_;
  std::vector<ConfigValue> values_;   // values_[i] belongs to schema_->keys[i]
  std::vector<std::string> origins_;  // where values_[i] came from, as a Site names it
};

}  // namespace ponder

// The config schema: every key a run config may set, with its type, default,
// allowed values and a one-line description. The one table both validates
// configs (app/config.h) and documents them (`ponder config docs`, committed
// as docs/CONFIG.md).
//
// Adding a key is adding a row to the table in config_schema.cc (the [rl],
// [rl.curriculum] and [tasks] rows live in config_schema_rl.cc); a key in a
// new section also needs a row in the section list there. Tests build small
// schemas of their own to exercise every type.
//
// Invariants (tests/app/test_config.cc checks them):
//  - every key name is "<section>.<leaf>", where <section> is a listed
//    section (itself possibly dotted, e.g. "rl.sampling") and <leaf> has no dot;
//  - names are unique, and no key name is also a section name;
//  - every default satisfies its own key's constraints.
#pragma once

#include <toml++/toml.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "policy/closest_match.h"

namespace ponder {

enum class ValueType {
  kBool,
  kInt,         // int64, optionally bounded
  kFloat,       // finite double, optionally bounded; an integer is accepted
  kString,      // optionally checked by a StringRule
  kEnum,        // a string from a fixed set of choices
  kStringList,  // array of strings; optionally each from a fixed set of choices
  kTableList,   // array of tables ([[section.key]] blocks); optionally checked by a TableListRule
};

// A kTableList value: the tables, shared so that a Config stays cheap to copy.
// Two are equal when their canonical TOML texts are: the same keys and values,
// whatever the order or layout they were written in. Tables read from a file
// keep their source lines.
class TableList {
 public:
  // Throws std::invalid_argument when an item is not a table.
  explicit TableList(toml::array tables);

  const toml::array& tables() const { return *tables_; }
  // Each table as canonical inline TOML, e.g. { name = "correct", weight = 1.0 }:
  // keys sorted, except that `name` comes first.
  const std::vector<std::string>& entries_toml() const { return entries_toml_; }

  friend bool operator==(const TableList& a, const TableList& b) {
    return a.entries_toml_ == b.entries_toml_;
  }

 private:
  std::shared_ptr<const toml::array> tables_;
  std::vector<std::string> entries_toml_;
};

// The C++ type of a resolved value: bool, int64_t, double, std::string (kString
// and kEnum), std::vector<std::string> (kStringList) or TableList (kTableList).
using ConfigValue =
    std::variant<bool, int64_t, double, std::string, std::vector<std::string>, TableList>;

// A check on a string value that a regex would be overkill for.
struct StringRule {
  std::string_view description;  // what is accepted, e.g. "letters, digits, ...": shown to users
  bool (*accepts)(std::string_view value);
};

// Accepts a non-empty string; for keys in any section.
extern const StringRule kNonEmptyRule;

// The check on a kTableList value beyond its being a list of tables, e.g. that
// every [[rl.rewards]] names a known reward.
struct TableListRule {
  std::string_view description;  // what each table holds: shown to users
  // Throws ponder::Error naming `source_name` (with the line, where the tables
  // have one), the entry and the key at fault. `source_name` is the config file
  // as the user named it, or "--set <argument>" for an override.
  void (*validate)(const toml::array& tables, const std::string& source_name);
};

struct KeySpec {
  std::string name;  // "section.key"
  ValueType type;
  ConfigValue default_value;
  std::string description;  // one line, lower case, no trailing period

  std::optional<int64_t> int_min, int_max;              // kInt: inclusive bounds
  std::optional<double> float_min, float_max;           // kFloat: bounds, inclusive unless open
  bool float_min_open = false, float_max_open = false;  // kFloat: the bound itself is excluded
  std::vector<std::string> choices;                     // kEnum; kStringList (empty: any string)
  std::size_t min_items = 0;                            // kStringList
  const StringRule* rule = nullptr;                     // kString: null accepts any string
  const TableListRule* table_rule = nullptr;            // kTableList: null accepts any tables

  std::string_view section() const;  // "tokenizer" for "tokenizer.vocab_size"
  std::string_view leaf() const;     // "vocab_size" for "tokenizer.vocab_size"
};

struct SectionSpec {
  std::string name;         // "tokenizer", or dotted for a subsection
  std::string description;  // one line
};

// Row builders, so that a table row reads: name, default, constraints,
// description. std::nullopt for a bound means unbounded on that side.
KeySpec bool_key(std::string name, bool def, std::string description);
KeySpec int_key(std::string name, int64_t def, std::optional<int64_t> min,
                std::optional<int64_t> max, std::string description);
KeySpec float_key(std::string name, double def, std::optional<double> min,
                  std::optional<double> max, std::string description);
// A number strictly above `above` (e.g. a learning rate, (0, 10]) or strictly
// below `below` (e.g. an Adam beta, [0, 1)); the other bound is inclusive.
KeySpec float_key_above(std::string name, double def, double above, std::optional<double> max,
                        std::string description);
KeySpec float_key_below(std::string name, double def, std::optional<double> min, double below,
                        std::string description);
KeySpec string_key(std::string name, std::string def, const StringRule* rule,
                   std::string description);
KeySpec enum_key(std::string name, std::string def, std::vector<std::string> choices,
                 std::string description);
KeySpec list_key(std::string name, std::vector<std::string> def, std::vector<std::string> choices,
                 std::size_t min_items, std::string description);
// `def` is a TOML array of inline tables, e.g. [{ name = "correct", weight = 1.0 }].
KeySpec table_list_key(std::string name, std::string_view def, const TableListRule* rule,
                       std::string description);

// A set of sections and keys, in documentation order (also the order of
// `Config::to_toml`).
struct ConfigSchema {
  std::vector<SectionSpec> sections;
  std::vector<KeySpec> keys;

  // Lookups by full dotted name; null when absent.
  const KeySpec* find_key(std::string_view name) const;
  const SectionSpec* find_section(std::string_view name) const;
};

// ponder's schema: the table every run config is checked against.
const ConfigSchema& config_schema();

// The [rl], [rl.curriculum] and [tasks] sections and keys (config_schema_rl.cc),
// a part of config_schema().
ConfigSchema rl_and_tasks_schema();

// `value` in TOML syntax on one line, e.g. 4096, 0.5, "text" (escaped), ["a", "b"],
// [{ name = "correct", weight = 1.0 }]. Floats always carry a '.' or an
// exponent, so they re-read as floats.
std::string toml_literal(const ConfigValue& value);

// The noun phrase for a type in messages: "a boolean", "an integer", "a number",
// "a string", "a list of strings", "a list of tables".
std::string_view type_phrase(ValueType type);

// Whether a finite `x` lies within a kFloat key's bounds.
bool float_in_bounds(const KeySpec& key, double x);

// What a key accepts beyond its type, for messages and docs: "in [269, 65536]",
// ">= 0", "in (0, 10]", "> 0", "one of: tokenizer", "each one of: tokenizer; at least 1",
// a StringRule's or TableListRule's description; "" when any value of the type
// is accepted.
std::string describe_allowed(const KeySpec& key);

// The reference: every section and key with type, default, allowed values and
// description, as Markdown. `ponder config docs` prints it for ponder's schema;
// docs/CONFIG.md is that output, committed.
std::string config_reference_markdown(const ConfigSchema& schema = config_schema());

}  // namespace ponder

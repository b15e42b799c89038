#include "app/config.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include "policy/error.h"

namespace ponder {
namespace fs = std::filesystem;

namespace {

// Where a default value comes from, as a TableListRule names it.
constexpr const char* kDefaultSource = "the default";

// Text from the user shown in a message: escaped so the message stays on one
// line, and shortened so a pasted paragraph does not drown it.
std::string shown(std::string_view text) {
  constexpr std::size_t kMaxShown = 60;
  if (text.size() <= kMaxShown) return toml_literal(std::string(text));
  std::size_t cut = kMaxShown;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // UTF-8
  return toml_literal(std::string(text.substr(0, cut))) + "...";
}

// A key or section name from a file: TOML allows any text in a quoted key.
std::string shown_name(std::string_view name) {
  bool plain =
      std::none_of(name.begin(), name.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; });
  return plain ? std::string(name) : shown(name);
}

std::string describe_node(const toml::node& node) {
  if (auto s = node.value_exact<std::string>()) return "a string (" + shown(*s) + ")";
  if (auto i = node.value_exact<int64_t>()) return fmt::format("an integer ({})", *i);
  if (auto x = node.value_exact<double>()) return fmt::format("a float ({})", toml_literal(*x));
  if (auto b = node.value_exact<bool>()) return fmt::format("a boolean ({})", *b);
  if (node.is_array()) return "an array";
  if (node.is_table()) return "a table";
  if (node.is_date()) return "a date";
  if (node.is_time()) return "a time";
  return "a date-time";
}

// Where a value came from; turns a problem into the user-facing message.
struct Site {
  std::string file;     // the config file as the user named it; empty for an override
  std::string set_arg;  // the whole --set argument; empty for the file

  // The source as messages name it: the file, or "--set <argument>".
  std::string name() const {
    return set_arg.empty() ? file : fmt::format("--set {}", shown_name(set_arg));
  }

  std::string location(const toml::source_region& where) const {
    if (where.begin.line == 0) return file;
    return fmt::format("{}:{}", file, where.begin.line);
  }

  [[noreturn]] void fail(std::string_view key, const toml::source_region& where,
                         std::string_view problem) const {
    if (!set_arg.empty()) throw Error(fmt::format("--set {}: {}", shown_name(set_arg), problem));
    throw Error(fmt::format("`{}` at {}: {}", shown_name(key), location(where), problem));
  }

  // `kind` is "key" or "section"; `suggestion` may be empty.
  [[noreturn]] void unknown(std::string_view kind, std::string_view name,
                            const toml::source_region& where, std::string_view suggestion) const {
    std::string hint = suggestion.empty() ? "" : fmt::format("; did you mean `{}`?", suggestion);
    if (!set_arg.empty()) {
      throw Error(fmt::format("--set {}: unknown {} `{}`{}", shown_name(set_arg), kind,
                              shown_name(name), hint));
    }
    throw Error(
        fmt::format("unknown {} `{}` at {}{}", kind, shown_name(name), location(where), hint));
  }
};

// A section, or the path to a subsection ("rl" when "rl.sampling" is listed).
bool is_section_path(const ConfigSchema& schema, std::string_view name) {
  for (const SectionSpec& section : schema.sections) {
    std::string_view s = section.name;
    if (s == name || (s.size() > name.size() && s.starts_with(name) && s[name.size()] == '.')) {
      return true;
    }
  }
  return false;
}

std::string suggest_key(const ConfigSchema& schema, std::string_view name) {
  // The right key in the wrong section is a likelier slip than any typo.
  std::string_view leaf = name.substr(name.rfind('.') + 1);
  for (const KeySpec& key : schema.keys) {
    if (key.leaf() == leaf) return key.name;
  }
  std::vector<std::string> names;
  for (const KeySpec& key : schema.keys) names.push_back(key.name);
  return closest_match(name, names);
}

std::string suggest_section(const ConfigSchema& schema, std::string_view name) {
  std::vector<std::string> names;
  for (const SectionSpec& section : schema.sections) names.push_back(section.name);
  return closest_match(name, names);
}

// `in_list`: the culprit is an item of the list the key holds.
[[noreturn]] void wrong_type(const KeySpec& key, const toml::node& culprit, const Site& site,
                             bool in_list = false) {
  std::string expected(type_phrase(key.type));
  // The block syntax is the likelier thing to have meant.
  if (key.type == ValueType::kTableList) expected += fmt::format(" ([[{}]])", key.name);
  site.fail(key.name, culprit.source(),
            fmt::format("expected {}, got {}{}", expected, describe_node(culprit),
                        in_list ? " in it" : ""));
}

// Converts `node` to the key's C++ type, or explains why it cannot; a list of
// tables is moved out of `node`, keeping its source lines.
// `lenient` (overrides only): a single string for a list key, or a single table
// for a list of tables, is a one-item list.
ConfigValue convert(const KeySpec& key, toml::node& node, const Site& site, bool lenient) {
  switch (key.type) {
    case ValueType::kBool:
      if (auto b = node.value_exact<bool>()) return *b;
      break;
    case ValueType::kInt:
      if (auto i = node.value_exact<int64_t>()) return *i;
      break;
    case ValueType::kFloat:
      if (auto x = node.value_exact<double>()) return *x;
      if (auto i = node.value_exact<int64_t>()) return static_cast<double>(*i);
      break;
    case ValueType::kString:
    case ValueType::kEnum:
      if (auto s = node.value_exact<std::string>()) return *s;
      break;
    case ValueType::kStringList:
      if (auto s = node.value_exact<std::string>(); s && lenient) {
        return std::vector<std::string>{*s};
      }
      if (const toml::array* array = node.as_array()) {
        std::vector<std::string> items;
        for (const toml::node& item : *array) {
          auto s = item.value_exact<std::string>();
          if (!s) wrong_type(key, item, site);
          items.push_back(*s);
        }
        return items;
      }
      break;
    case ValueType::kTableList:
      if (toml::table* table = node.as_table(); table && lenient) {
        toml::array tables;
        tables.push_back(std::move(*table));
        return TableList(std::move(tables));
      }
      if (toml::array* array = node.as_array()) {
        for (const toml::node& item : *array) {
          if (!item.is_table()) wrong_type(key, item, site, /*in_list=*/true);
        }
        return TableList(std::move(*array));
      }
      break;
  }
  wrong_type(key, node, site);
}

std::string choice_problem(const KeySpec& key, const std::string& value) {
  std::string problem =
      fmt::format("{} is not one of: {}", shown(value), fmt::join(key.choices, ", "));
  std::string suggestion = closest_match(value, key.choices);
  if (!suggestion.empty()) problem += fmt::format("; did you mean {}?", toml_literal(suggestion));
  return problem;
}

bool is_choice(const KeySpec& key, const std::string& value) {
  return std::find(key.choices.begin(), key.choices.end(), value) != key.choices.end();
}

// Why `value` (already of the key's type) breaks the key's constraints, or "".
std::string constraint_problem(const KeySpec& key, const ConfigValue& value) {
  auto out_of_range = [&](const auto& x) {
    return fmt::format("{} is out of range; expected {} {}", x, type_phrase(key.type),
                       describe_allowed(key));
  };
  switch (key.type) {
    case ValueType::kBool:
      return "";
    case ValueType::kInt: {
      int64_t i = std::get<int64_t>(value);
      if ((key.int_min && i < *key.int_min) || (key.int_max && i > *key.int_max)) {
        return out_of_range(i);
      }
      return "";
    }
    case ValueType::kFloat: {
      double x = std::get<double>(value);
      if (!std::isfinite(x)) return fmt::format("expected a finite number, got {}", x);
      if (!float_in_bounds(key, x)) return out_of_range(x);
      return "";
    }
    case ValueType::kString: {
      const std::string& s = std::get<std::string>(value);
      if (key.rule && !key.rule->accepts(s)) {
        return fmt::format("{} is not allowed; expected {}", shown(s), key.rule->description);
      }
      return "";
    }
    case ValueType::kEnum: {
      const std::string& s = std::get<std::string>(value);
      return is_choice(key, s) ? "" : choice_problem(key, s);
    }
    case ValueType::kStringList: {
      const auto& items = std::get<std::vector<std::string>>(value);
      if (items.size() < key.min_items) {
        return fmt::format("expected a list of at least {} string{}, got {}", key.min_items,
                           key.min_items == 1 ? "" : "s",
                           items.empty() ? "an empty list" : fmt::format("{}", items.size()));
      }
      if (key.choices.empty()) return "";
      for (const std::string& item : items) {
        if (!is_choice(key, item)) return choice_problem(key, item);
      }
      return "";
    }
    case ValueType::kTableList:  // the TableListRule checks the tables, with their lines
      return "";
  }
  return "";
}

// The schema's invariants (app/config_schema.h); a broken one is a bug in the
// table, so it is a logic_error.
void check_schema(const ConfigSchema& schema) {
  // "a.b_c.d": keys TOML accepts unquoted, joined by dots.
  auto is_dotted_bare = [](std::string_view s) {
    for (;;) {
      std::size_t dot = s.find('.');
      std::string_view part = s.substr(0, dot);
      if (part.empty() || !std::all_of(part.begin(), part.end(), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
          })) {
        return false;
      }
      if (dot == std::string_view::npos) return true;
      s.remove_prefix(dot + 1);
    }
  };
  for (const SectionSpec& section : schema.sections) {
    if (!is_dotted_bare(section.name)) {
      throw std::logic_error(fmt::format("config schema: bad section name `{}`", section.name));
    }
  }
  std::set<std::string_view> names;
  for (const KeySpec& key : schema.keys) {
    auto bug = [&](std::string_view what) {
      throw std::logic_error(fmt::format("config schema: key `{}`: {}", key.name, what));
    };
    if (!is_dotted_bare(key.name) || key.name.find('.') == std::string::npos) {
      bug("the name must be <section>.<leaf>");
    }
    if (!schema.find_section(key.section())) bug("its section is not listed");
    if (!names.insert(key.name).second) bug("listed twice");
    if (is_section_path(schema, key.name)) bug("also a section name");
    static constexpr std::size_t kVariantIndex[] = {0, 1, 2, 3, 3, 4, 5};  // by ValueType
    if (key.default_value.index() != kVariantIndex[static_cast<int>(key.type)]) {
      bug("the default is not of the key's type");
    }
    if (std::string problem = constraint_problem(key, key.default_value); !problem.empty()) {
      bug("the default breaks its own constraints: " + problem);
    }
    if (key.type == ValueType::kTableList && key.table_rule) {
      try {
        key.table_rule->validate(std::get<TableList>(key.default_value).tables(), kDefaultSource);
      } catch (const Error& e) {
        bug(fmt::format("the default breaks its own constraints: {}", e.what()));
      }
    }
  }
}

class Loader {
 public:
  Loader(const ConfigSchema& schema, std::vector<ConfigValue>& values,
         std::vector<std::string>& origins)
      : schema_(schema), values_(values), origins_(origins) {}

  // Sets every key `table` (at section path `prefix`) holds; rejects anything
  // else. Lists of tables are moved out of `table`.
  void apply_table(toml::table& table, const std::string& prefix, const Site& site) {
    for (auto&& [toml_key, node] : table) {
      std::string name = prefix.empty() ? std::string(toml_key.str())
                                        : fmt::format("{}.{}", prefix, toml_key.str());
      const toml::source_region& where =
          toml_key.source().begin.line != 0 ? toml_key.source() : node.source();
      if (const KeySpec* key = schema_.find_key(name)) {
        set(*key, node, site, /*lenient=*/false);
      } else if (is_section_path(schema_, name)) {
        toml::table* section = node.as_table();
        if (!section) {
          site.fail(name, where,
                    fmt::format("expected a section ([{}]), got {}", name, describe_node(node)));
        }
        apply_table(*section, name, site);
      } else if (node.is_table()) {
        site.unknown("section", name, where, suggest_section(schema_, name));
      } else {
        site.unknown("key", name, where, suggest_key(schema_, name));
      }
    }
  }

  void apply_override(const std::string& arg) {
    const Site site{.file = "", .set_arg = arg};
    std::size_t eq = arg.find('=');
    if (eq == std::string::npos) {
      throw Error(fmt::format("--set {}: expected section.key=value", shown_name(arg)));
    }
    std::string name = trimmed(arg.substr(0, eq));
    std::string text = arg.substr(eq + 1);
    const KeySpec* key = schema_.find_key(name);
    if (!key) {
      if (is_section_path(schema_, name)) {
        throw Error(fmt::format("--set {}: `{}` is a section; expected section.key=value",
                                shown_name(arg), name));
      }
      site.unknown("key", name, {}, suggest_key(schema_, name));
    }
    if (trimmed(text).empty()) {
      throw Error(fmt::format(
          "--set {}: the value is missing; for an empty string write {}=\"\" (quoted for the "
          "shell)",
          shown_name(arg), name));
    }
    // Parsed as the value of a one-line document, so TOML's own rules (and
    // errors) apply; more than one key means the text smuggled in a second line.
    toml::table doc;
    std::string parse_problem;
    try {
      const toml::table parsed = toml::parse("value = " + text);
      // A copy drops the source lines: "line 1" of this one-line document
      // would only mislead a message.
      doc = parsed;
      if (doc.size() != 1 || !doc.get("value")) parse_problem = "more than one value";
    } catch (const toml::parse_error& e) {
      parse_problem = std::string(e.description());
    }
    if (parse_problem.empty()) {
      set(*key, *doc.get("value"), site, /*lenient=*/true);
      return;
    }
    // Quotes and brackets show the user meant TOML, so the parse error is the
    // news; anything else is a bare word, taken as a string.
    std::string bare = trimmed(text);
    if (std::string_view("\"'[{").find(bare.front()) != std::string_view::npos) {
      throw Error(
          fmt::format("--set {}: malformed TOML value: {}", shown_name(arg), parse_problem));
    }
    toml::value<std::string> word(bare);
    set(*key, word, site, /*lenient=*/true);
  }

 private:
  static std::string trimmed(std::string_view s) {
    std::size_t begin = s.find_first_not_of(" \t");
    if (begin == std::string_view::npos) return "";
    return std::string(s.substr(begin, s.find_last_not_of(" \t") - begin + 1));
  }

  void set(const KeySpec& key, toml::node& node, const Site& site, bool lenient) {
    const toml::source_region where = node.source();  // convert() may move the node's value
    ConfigValue value = convert(key, node, site, lenient);
    if (std::string problem = constraint_problem(key, value); !problem.empty()) {
      site.fail(key.name, where, problem);
    }
    if (key.type == ValueType::kTableList && key.table_rule) {
      key.table_rule->validate(std::get<TableList>(value).tables(), site.name());
    }
    const std::size_t i = &key - schema_.keys.data();
    values_[i] = std::move(value);
    origins_[i] = site.name();
  }

  const ConfigSchema& schema_;
  std::vector<ConfigValue>& values_;
  std::vector<std::string>& origins_;
};

std::string read_config_file(const fs::path& file) {
  std::error_code ec;
  fs::file_status status = fs::status(file, ec);
  if (status.type() == fs::file_type::not_found) {
    throw Error(fmt::format("config file `{}` not found", file.string()));
  }
  if (status.type() == fs::file_type::directory) {
    throw Error(fmt::format("config file `{}` is a directory, not a file", file.string()));
  }
  std::ifstream in(file, std::ios::binary);
  std::ostringstream text;
  if (in) text << in.rdbuf();
  if (ec || !in || in.bad()) {
    std::string reason = ec ? ec.message() : std::strerror(errno);
    throw Error(fmt::format("config file `{}` cannot be read: {}", file.string(), reason));
  }
  return text.str();
}

// A value as to_toml() writes it: a list of tables one table per line, the
// rest as toml_literal() does.
std::string value_toml(const ConfigValue& value) {
  const TableList* list = std::get_if<TableList>(&value);
  if (!list || list->entries_toml().empty()) return toml_literal(value);
  std::string out = "[\n";
  for (const std::string& entry : list->entries_toml()) out += fmt::format("  {},\n", entry);
  return out + "]";
}

}  // namespace

Config::Config(const ConfigSchema& schema, fs::path source)
    : schema_(&schema), source_(std::move(source)) {
  for (const KeySpec& key : schema.keys) values_.push_back(key.default_value);
  origins_.assign(values_.size(), std::string(kDefaultSource));
}

Config Config::load(const fs::path& file, const std::vector<std::string>& overrides,
                    const ConfigSchema& schema) {
  check_schema(schema);
  Config config(schema, file);
  Loader loader(schema, config.values_, config.origins_);
  if (!file.empty()) {
    std::string text = read_config_file(file);
    toml::table doc;
    try {
      doc = toml::parse(text, file.string());
    } catch (const toml::parse_error& e) {
      throw Error(fmt::format("{}:{}:{}: malformed TOML: {}", file.string(), e.source().begin.line,
                              e.source().begin.column, e.description()));
    }
    loader.apply_table(doc, "", Site{.file = file.string(), .set_arg = ""});
  }
  for (const std::string& arg : overrides) loader.apply_override(arg);
  return config;
}

const ConfigValue& Config::value(std::string_view name, ValueType type) const {
  const KeySpec* key = schema_->find_key(name);
  if (!key) throw std::logic_error(fmt::format("config key `{}` is not in the schema", name));
  bool string_like = type == ValueType::kString && key->type == ValueType::kEnum;
  if (key->type != type && !string_like) {
    throw std::logic_error(fmt::format("config key `{}` is {}, not {}", name,
                                       type_phrase(key->type), type_phrase(type)));
  }
  return values_[key - schema_->keys.data()];
}

bool Config::get_bool(std::string_view key) const {
  return std::get<bool>(value(key, ValueType::kBool));
}

int64_t Config::get_int(std::string_view key) const {
  return std::get<int64_t>(value(key, ValueType::kInt));
}

double Config::get_float(std::string_view key) const {
  return std::get<double>(value(key, ValueType::kFloat));
}

const std::string& Config::get_string(std::string_view key) const {
  return std::get<std::string>(value(key, ValueType::kString));
}

std::vector<std::string> Config::get_strings(std::string_view key) const {
  return std::get<std::vector<std::string>>(value(key, ValueType::kStringList));
}

const toml::array& Config::get_tables(std::string_view key) const {
  return std::get<TableList>(value(key, ValueType::kTableList)).tables();
}

const std::string& Config::get_tables_source(std::string_view key) const {
  const ConfigValue& tables = value(key, ValueType::kTableList);
  return origins_[&tables - values_.data()];
}

std::string Config::to_toml() const {
  return to_toml({});
}

std::string Config::to_toml(const std::vector<std::string>& keys) const {
  auto wanted = [&](const KeySpec& key) {
    if (keys.empty()) return true;
    return std::any_of(keys.begin(), keys.end(),
                       [&](const std::string& k) { return key.name == k || key.section() == k; });
  };
  std::string out;
  for (const SectionSpec& section : schema_->sections) {
    std::string body;
    for (std::size_t i = 0; i < schema_->keys.size(); ++i) {
      const KeySpec& key = schema_->keys[i];
      if (key.section() != section.name || !wanted(key)) continue;
      body += fmt::format("{} = {}\n", key.leaf(), value_toml(values_[i]));
    }
    if (body.empty()) continue;  // a section that only holds subsections
    if (!out.empty()) out += '\n';
    out += fmt::format("[{}]\n{}", section.name, body);
  }
  return out;
}

}  // namespace ponder

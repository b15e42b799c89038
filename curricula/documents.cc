#include "curricula/documents.h"

#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "policy/error.h"

namespace ponder {
namespace {

std::string document_of(const nlohmann::ordered_json& object,
                        const std::vector<std::string>& fields, const std::string& where) {
  std::string text;
  auto add = [&](const std::string& value) {
    if (!text.empty()) text += '\n';
    text += value;
  };
  if (fields.empty()) {
    for (const auto& [key, value] : object.items()) {
      if (value.is_string()) add(value.get<std::string>());
    }
    return text;
  }
  for (const auto& field : fields) {
    auto it = object.find(field);
    if (it == object.end()) throw Error(fmt::format("{}: missing field `{}`", where, field));
    if (!it->is_string()) {
      throw Error(
          fmt::format("{}: field `{}` is {}; expected a string", where, field, it->type_name()));
    }
    add(it->get<std::string>());
  }
  return text;
}

}  // namespace

uint64_t for_each_document(const std::filesystem::path& file,
                           const std::vector<std::string>& fields,
                           const std::function<void(std::string_view)>& document,
                           uint64_t max_bytes) {
  std::ifstream in(file, std::ios::binary);
  if (!in || std::filesystem::is_directory(file)) {
    throw Error(fmt::format("input file `{}` not found or unreadable", file.string()));
  }
  uint64_t passed = 0;
  if (file.extension() != ".jsonl") {
    std::stringstream buffer;
    buffer << in.rdbuf();
    std::string text = buffer.str();
    if (max_bytes > 0 && text.size() > max_bytes) text.resize(max_bytes);
    document(text);
    return text.size();
  }
  std::string line;
  for (int line_number = 1; std::getline(in, line); ++line_number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = fmt::format("{}:{}", file.string(), line_number);
    // Objects keep file order so that "every string field" is the order a reader sees.
    const nlohmann::ordered_json object = nlohmann::ordered_json::parse(line, nullptr, false);
    if (object.is_discarded()) throw Error(fmt::format("{}: not valid JSON", where));
    if (!object.is_object()) {
      throw Error(fmt::format("{}: expected a JSON object, got {}", where, object.type_name()));
    }
    const std::string text = document_of(object, fields, where);
    document(text);
    passed += text.size();
    if (max_bytes > 0 && passed >= max_bytes) break;
  }
  return passed;
}

}  // namespace ponder

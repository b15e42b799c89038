#include "policy/safetensors.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "policy/atomic_file.h"
#include "policy/error.h"

static_assert(std::endian::native == std::endian::little, "safetensors is little-endian");

namespace ponder {
namespace {

using nlohmann::ordered_json;

constexpr uint64_t kMaxHeaderBytes = 100'000'000;  // the reference implementation's limit
constexpr char kMetadataKey[] = "__metadata__";

// product(shape), or nullopt on a negative dimension or overflow of `limit`.
std::optional<uint64_t> element_count(const std::vector<int64_t>& shape, uint64_t limit) {
  uint64_t count = 1;
  for (int64_t d : shape) {
    if (d < 0) return std::nullopt;
    const auto u = static_cast<uint64_t>(d);
    if (u != 0 && count > limit / u) return std::nullopt;
    count *= u;
  }
  return count;
}

struct Entry {
  std::string name;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;
};

uint64_t offset_value(const ordered_json& v) {
  return v.is_number_unsigned() ? v.get<uint64_t>() : std::numeric_limits<uint64_t>::max();
}

// Parses one tensor entry of the header; `where` names the file.
Entry parse_entry(const std::string& where, const std::string& name, const ordered_json& info) {
  const std::string at = fmt::format("{}: tensor `{}`", where, name);
  if (!info.is_object()) throw Error(fmt::format("{} is {}; expected an object", at, info.dump()));
  auto dtype = info.find("dtype");
  if (dtype == info.end() || !dtype->is_string()) {
    throw Error(fmt::format("{} has no string `dtype`; expected \"F32\"", at));
  }
  if (*dtype != "F32") {
    throw Error(
        fmt::format("{} has dtype {}; only F32 is supported", at, dtype->get<std::string>()));
  }
  Entry e{name, {}, 0, 0};
  auto shape = info.find("shape");
  if (shape == info.end() || !shape->is_array()) {
    throw Error(fmt::format("{} has no `shape` list", at));
  }
  for (const auto& d : *shape) {
    if (!d.is_number_unsigned() || d.get<uint64_t>() > uint64_t{1} << 62) {
      throw Error(
          fmt::format("{}: shape {} is not a list of non-negative integers", at, shape->dump()));
    }
    e.shape.push_back(d.get<int64_t>());
  }
  auto offsets = info.find("data_offsets");
  if (offsets == info.end() || !offsets->is_array() || offsets->size() != 2 ||
      !(*offsets)[0].is_number_unsigned() || !(*offsets)[1].is_number_unsigned() ||
      offset_value((*offsets)[0]) > offset_value((*offsets)[1])) {
    throw Error(fmt::format("{}: data_offsets {} is not [begin, end] with begin <= end", at,
                            offsets == info.end() ? "(missing)" : offsets->dump()));
  }
  e.begin = offset_value((*offsets)[0]);
  e.end = offset_value((*offsets)[1]);
  const auto count = element_count(e.shape, std::numeric_limits<uint64_t>::max() / 4);
  if (!count || *count * 4 != e.end - e.begin) {
    throw Error(fmt::format("{}: shape [{}] needs {} bytes but data_offsets [{}, {}] span {}", at,
                            fmt::join(e.shape, ", "),
                            count ? fmt::format("{}", *count * 4) : std::string("too many"),
                            e.begin, e.end, e.end - e.begin));
  }
  return e;
}

}  // namespace

std::string encode_safetensors(const std::vector<TensorView>& tensors,
                               const std::map<std::string, std::string>& metadata) {
  ordered_json header = ordered_json::object();
  if (!metadata.empty()) header[kMetadataKey] = metadata;
  std::set<std::string> seen;
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    if (t.name.empty() || t.name == kMetadataKey || !seen.insert(t.name).second) {
      throw Error(fmt::format(
          "cannot write safetensors: tensor name \"{}\" is empty, reserved or repeated", t.name));
    }
    const auto count = element_count(t.shape, std::numeric_limits<uint64_t>::max() / 8);
    if (!count || (*count > 0 && t.data == nullptr)) {
      throw Error(fmt::format("cannot write safetensors: tensor `{}` has shape [{}] and {} data",
                              t.name, fmt::join(t.shape, ", "), t.data ? "some" : "no"));
    }
    header[t.name] = {
        {"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {offset, offset + *count * 4}}};
    offset += *count * 4;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("cannot write safetensors: a tensor name or metadata is not UTF-8: {}",
                            e.what()));
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string out;
  out.reserve(8 + text.size() + offset);
  const uint64_t n = text.size();
  out.append(reinterpret_cast<const char*>(&n), 8);
  out += text;
  for (const auto& t : tensors) {
    const size_t bytes = *element_count(t.shape, std::numeric_limits<uint64_t>::max()) * 4;
    if (bytes > 0) out.append(reinterpret_cast<const char*>(t.data), bytes);
  }
  return out;
}

void write_safetensors(const std::filesystem::path& path, const std::vector<TensorView>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  write_file_atomically(path, encode_safetensors(tensors, metadata));
}

const HostTensor& SafetensorsFile::get(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) {
    throw Error(fmt::format("{}: no tensor `{}`", path_.string(), name));
  }
  return it->second;
}

SafetensorsFile read_safetensors(const std::filesystem::path& path) {
  const std::string where = path.string();
  std::ifstream in(path, std::ios::binary);
  std::error_code ec;
  const uint64_t file_size = std::filesystem::file_size(path, ec);
  if (!in || ec) throw Error(fmt::format("safetensors file `{}` not found or unreadable", where));
  if (file_size < 8) {
    throw Error(fmt::format("{}: truncated: {} bytes, shorter than the 8-byte header length", where,
                            file_size));
  }
  uint64_t n = 0;
  in.read(reinterpret_cast<char*>(&n), 8);
  if (n > file_size - 8) {
    throw Error(fmt::format(
        "{}: header length {} runs past the end of the file ({} bytes); truncated or not "
        "safetensors",
        where, n, file_size));
  }
  if (n > kMaxHeaderBytes) {
    throw Error(fmt::format("{}: header length {} exceeds the limit of {} bytes", where, n,
                            kMaxHeaderBytes));
  }
  std::string text(n, '\0');
  in.read(text.data(), static_cast<std::streamsize>(n));
  if (!in) throw Error(fmt::format("{}: cannot read the {}-byte header", where, n));
  ordered_json header;
  try {
    if (text.empty() || text[0] != '{') throw std::invalid_argument("no object");
    header = ordered_json::parse(text);
  } catch (const std::exception&) {
    throw Error(
        fmt::format("{}: header is not a valid JSON object (corrupt or not safetensors)", where));
  }
  if (!header.is_object()) {
    throw Error(fmt::format("{}: header is not a JSON object (not safetensors)", where));
  }

  SafetensorsFile file;
  file.path_ = path;
  std::vector<Entry> entries;
  for (const auto& [key, value] : header.items()) {
    if (key == kMetadataKey) {
      if (!value.is_object()) {
        throw Error(fmt::format("{}: __metadata__ is {}; expected an object of strings", where,
                                value.type_name()));
      }
      for (const auto& [k, v] : value.items()) {
        if (!v.is_string()) {
          throw Error(fmt::format("{}: __metadata__ `{}` is {}; expected a string", where, k,
                                  v.type_name()));
        }
        file.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    entries.push_back(parse_entry(where, key, value));
  }

  // The tensors must tile the data buffer: sorted by offset, each starts where
  // the previous one ended, and the last ends at the end of the file.
  const uint64_t buffer = file_size - 8 - n;
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t position = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    const Entry& e = entries[i];
    if (e.end > buffer) {
      throw Error(
          fmt::format("{}: tensor `{}`: data_offsets [{}, {}] run past the data buffer of {} bytes "
                      "(truncated?)",
                      where, e.name, e.begin, e.end, buffer));
    }
    if (e.begin < position) {
      throw Error(fmt::format("{}: tensor `{}`: data_offsets [{}, {}] overlap tensor `{}`", where,
                              e.name, e.begin, e.end, entries[i - 1].name));
    }
    if (e.begin > position) {
      throw Error(fmt::format("{}: bytes [{}, {}) of the data buffer belong to no tensor", where,
                              position, e.begin));
    }
    position = e.end;
  }
  if (position != buffer) {
    throw Error(fmt::format("{}: {} trailing bytes after the last tensor (corrupt?)", where,
                            buffer - position));
  }

  for (const Entry& e : entries) {
    HostTensor t;
    t.shape = e.shape;
    t.values.resize((e.end - e.begin) / 4);
    in.read(reinterpret_cast<char*>(t.values.data()),
            static_cast<std::streamsize>(e.end - e.begin));
    if (!in) throw Error(fmt::format("{}: cannot read tensor `{}`", where, e.name));
    file.names.push_back(e.name);
    file.tensors_.emplace(e.name, std::move(t));
  }
  return file;
}

}  // namespace ponder

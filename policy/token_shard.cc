#include "policy/token_shard.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <fstream>

#include <fmt/format.h>

#include "policy/atomic_file.h"
#include "policy/error.h"

static_assert(std::endian::native == std::endian::little, "token shards are little-endian");

namespace ponder {
namespace {

constexpr size_t kHeaderBytes = 24;

template <typename T>
void put(std::string& out, T value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof(T));
}

template <typename T>
T get(const char* p) {
  T value;
  std::memcpy(&value, p, sizeof(T));
  return value;
}

}  // namespace

void write_token_shard(const std::filesystem::path& path, std::span<const TokenId> ids,
                       int vocab_size) {
  const uint32_t width = vocab_size <= 65536 ? 2 : 4;
  std::string out;
  out.reserve(kHeaderBytes + ids.size() * width);
  out.append(kTokenShardMagic, sizeof(kTokenShardMagic));
  put<uint32_t>(out, kTokenShardVersion);
  put<uint32_t>(out, width);
  put<uint64_t>(out, ids.size());
  for (TokenId id : ids) {
    if (id < 0 || id >= vocab_size) {
      throw Error(fmt::format("cannot write `{}`: token id {} is outside the vocabulary of {}",
                              path.string(), id, vocab_size));
    }
    if (width == 2) {
      put<uint16_t>(out, static_cast<uint16_t>(id));
    } else {
      put<uint32_t>(out, static_cast<uint32_t>(id));
    }
  }
  write_file_atomically(path, out);
}

std::vector<TokenId> read_token_shard(const std::filesystem::path& path) {
  const std::string where = path.string();
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(fmt::format("token shard `{}` not found or unreadable", where));
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (data.size() < kHeaderBytes) {
    throw Error(
        fmt::format("token shard `{}` is truncated: {} bytes, shorter than the {}-byte header",
                    where, data.size(), kHeaderBytes));
  }
  if (std::memcmp(data.data(), kTokenShardMagic, sizeof(kTokenShardMagic)) != 0) {
    throw Error(fmt::format("`{}` is not a ponder token shard (bad magic)", where));
  }
  const auto version = get<uint32_t>(data.data() + 8);
  if (version != kTokenShardVersion) {
    throw Error(fmt::format("token shard `{}` has format version {}; expected {}", where, version,
                            kTokenShardVersion));
  }
  const auto width = get<uint32_t>(data.data() + 12);
  if (width != 2 && width != 4) {
    throw Error(fmt::format("token shard `{}` stores {}-byte ids; expected 2 or 4", where, width));
  }
  const auto count = get<uint64_t>(data.data() + 16);
  const uint64_t payload = data.size() - kHeaderBytes;
  if (count > payload / width || payload != count * width) {
    throw Error(
        fmt::format("token shard `{}` is truncated or corrupt: header says {} ids ({} bytes), "
                    "file holds {} bytes of ids",
                    where, count, count * width, payload));
  }
  std::vector<TokenId> ids(count);
  const char* p = data.data() + kHeaderBytes;
  for (uint64_t i = 0; i < count; ++i) {
    ids[i] = width == 2 ? get<uint16_t>(p + i * 2) : static_cast<TokenId>(get<uint32_t>(p + i * 4));
  }
  return ids;
}

TokenShardWriter::TokenShardWriter(std::filesystem::path folder, std::string prefix, int vocab_size,
                                   uint64_t tokens_per_shard)
    : folder_(std::move(folder)),
      prefix_(std::move(prefix)),
      vocab_size_(vocab_size),
      tokens_per_shard_(tokens_per_shard) {
  if (tokens_per_shard_ == 0) throw Error("tokens per shard must be at least 1");
}

void TokenShardWriter::append(std::span<const TokenId> ids) {
  while (!ids.empty()) {
    const size_t room = tokens_per_shard_ - pending_.size();
    const size_t take = std::min(room, ids.size());
    pending_.insert(pending_.end(), ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(take));
    ids = ids.subspan(take);
    if (pending_.size() == tokens_per_shard_) flush();
  }
}

void TokenShardWriter::finish() {
  if (!pending_.empty()) flush();
}

void TokenShardWriter::flush() {
  const auto path = folder_ / fmt::format("{}_{:05d}.bin", prefix_, shards_.size());
  write_token_shard(path, pending_, vocab_size_);
  shards_.push_back(path);
  tokens_ += pending_.size();
  pending_.clear();
}

std::vector<TokenId> read_token_shards(const std::filesystem::path& folder,
                                       const std::string& prefix) {
  std::vector<TokenId> all;
  int count = 0;
  for (;; ++count) {
    const auto path = folder / fmt::format("{}_{:05d}.bin", prefix, count);
    if (!std::filesystem::exists(path)) break;
    const std::vector<TokenId> ids = read_token_shard(path);
    all.insert(all.end(), ids.begin(), ids.end());
  }
  if (count == 0) {
    throw Error(fmt::format("no token shards `{}_00000.bin` in `{}`", prefix, folder.string()));
  }
  return all;
}

}  // namespace ponder

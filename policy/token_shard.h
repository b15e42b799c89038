// Token shards: the binary files pretraining reads.
//
// Layout (little-endian), 24-byte header then the ids:
//   bytes 0..7    magic "PNDRTOK\0"
//   bytes 8..11   format version (uint32) = 1
//   bytes 12..15  bytes per id (uint32): 2 (uint16 ids) or 4 (uint32 ids)
//   bytes 16..23  number of ids (uint64)
//   bytes 24..    the ids
// Documents are concatenated, each starting with the <|bos|> id.
// Invariant: file size == 24 + count * bytes_per_id; readers check it, so a
// truncated shard is an error, never silently short data.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "policy/tokenizer.h"

namespace ponder {

inline constexpr char kTokenShardMagic[8] = {'P', 'N', 'D', 'R', 'T', 'O', 'K', '\0'};
inline constexpr uint32_t kTokenShardVersion = 1;

// Writes one shard atomically (temp file + rename). Ids are stored as uint16
// when vocab_size <= 65536, else uint32. Throws ponder::Error on I/O failure or
// an id outside [0, vocab_size).
void write_token_shard(const std::filesystem::path& path, std::span<const TokenId> ids,
                       int vocab_size);

// Reads a whole shard. Throws ponder::Error naming the file for a missing file,
// wrong magic or version, unknown id width, or a size that disagrees with the
// header.
std::vector<TokenId> read_token_shard(const std::filesystem::path& path);

// Writes ids into <folder>/<prefix>_00000.bin, <prefix>_00001.bin, ... of
// at most `tokens_per_shard` ids each, as they arrive.
class TokenShardWriter {
 public:
  TokenShardWriter(std::filesystem::path folder, std::string prefix, int vocab_size,
                   uint64_t tokens_per_shard);
  void append(std::span<const TokenId> ids);
  // Writes the last, partial shard (none when it would be empty).
  void finish();

  const std::vector<std::filesystem::path>& shards() const { return shards_; }
  uint64_t tokens() const { return tokens_; }

 private:
  void flush();

  std::filesystem::path folder_;
  std::string prefix_;
  int vocab_size_;
  uint64_t tokens_per_shard_;
  std::vector<TokenId> pending_;
  std::vector<std::filesystem::path> shards_;
  uint64_t tokens_ = 0;
};

// Every <folder>/<prefix>_NNNNN.bin in order, concatenated. Throws
// ponder::Error when there is none, or as read_token_shard does.
std::vector<TokenId> read_token_shards(const std::filesystem::path& folder,
                                       const std::string& prefix);

}  // namespace ponder

// What every build shares, with or without MPI: slices, the replica check,
// the failure drill and launcher detection.
#include "parallel/communicator.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "policy/error.h"

namespace ponder {

Slice rank_slice(size_t count, int rank, int world_size) {
  if (world_size < 1 || rank < 0 || rank >= world_size) {
    throw Error(fmt::format("rank {} is not in a world of {}", rank, world_size));
  }
  const auto r = static_cast<size_t>(rank), w = static_cast<size_t>(world_size);
  return {r * count / w, (r + 1) * count / w};
}

std::string launcher_evidence() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"}) {
    if (const char* value = std::getenv(name)) return fmt::format("{}={}", name, value);
  }
  return "";
}

namespace {

// FNV-1a over the bytes, eight at a time: fast enough to run every few steps
// on every parameter, and any flipped bit changes it.
uint64_t hash_floats(std::span<const float> values) {
  uint64_t hash = 0xCBF29CE484222325ull;
  const auto* bytes = reinterpret_cast<const unsigned char*>(values.data());
  const size_t n = values.size_bytes();
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t word;
    std::memcpy(&word, bytes + i, 8);
    hash = (hash ^ word) * 0x100000001B3ull;
  }
  for (; i < n; ++i) hash = (hash ^ bytes[i]) * 0x100000001B3ull;
  return hash;
}

}  // namespace

void require_identical_replicas(Communicator& comm, std::span<const float> params,
                                std::string_view context) {
  if (comm.size() == 1) return;
  const std::vector<uint64_t> hashes = comm.all_gather(hash_floats(params));
  for (size_t r = 1; r < hashes.size(); ++r) {
    if (hashes[r] != hashes[0]) {
      throw Error(fmt::format(
          "{}: the parameters of rank {} (hash {:016x}) differ from rank 0's ({:016x}); the "
          "replicas diverged",
          context, r, hashes[r], hashes[0]));
    }
  }
}

void failure_drill(const Communicator& comm, int64_t step) {
  const char* drill = std::getenv("PONDER_FAIL_RANK_AT_STEP");
  if (drill == nullptr) return;
  int rank = -1;
  long long at = -1;
  if (std::sscanf(drill, "%d:%lld", &rank, &at) != 2) {
    throw Error(
        fmt::format("PONDER_FAIL_RANK_AT_STEP = `{}`; expected RANK:STEP, e.g. 1:2", drill));
  }
  if (rank == comm.rank() && at == step) {
    throw Error(fmt::format("failure drill: rank {} fails at step {} (PONDER_FAIL_RANK_AT_STEP)",
                            rank, step));
  }
}

}  // namespace ponder

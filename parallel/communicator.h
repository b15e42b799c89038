// The processes of a data-parallel run and the collectives they share.
//
// A run of N processes is started by an MPI launcher (`mpirun -np N ponder
// ...`, Slurm's `srun`); every process runs the same program on its own share
// of the data, and the collectives below keep them in step. A process that no
// launcher started is a world of one: it never initialises MPI, and every
// collective is the identity. (OpenMPI's "singleton" start would fork a
// runtime daemon into every `ponder tokenizer encode`; detecting the
// launcher's environment is cheaper and fails in fewer containers.)
//
// Contract:
//  - Collectives are called by every rank, in the same order, with the same
//    counts; a rank that skips one deadlocks the others. Code that branches
//    on rank() must not branch around a collective.
//  - all_reduce_* sum element-wise in place; the result is the same bits on
//    every rank. Long buffers go in buckets of kBucketElements (MPI counts
//    are ints, and a bounded bucket keeps the transport's copies small).
//  - A rank that reaches a collective before the others sleeps until they
//    arrive instead of spinning on its core (ranks often share a machine
//    with other work, or with each other).
//  - A failing rank must not return from main normally: abort() ends the
//    whole job (MPI_Abort), so no rank waits forever in a collective.
//  - Built without MPI (PONDER_MPI off), world() is always a world of one,
//    and a process under a launcher says so rather than run N copies alone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ponder {

// Items [begin, end) of a count split over a world: rank r of w gets
// [r·count/w, (r+1)·count/w), so shares differ by at most one and, in rank
// order, tile the whole in order.
struct Slice {
  size_t begin = 0, end = 0;
  size_t size() const { return end - begin; }
  bool contains(size_t i) const { return i >= begin && i < end; }
  bool operator==(const Slice&) const = default;
};
Slice rank_slice(size_t count, int rank, int world_size);

// The environment variable by which an MPI launcher announced this process
// ("OMPI_COMM_WORLD_SIZE=2": OpenMPI's mpirun; PMI_SIZE: Slurm's srun and
// MPICH; PMIX_RANK: srun --mpi=pmix), or "" when none did.
std::string launcher_evidence();

class Communicator {
 public:
  static constexpr size_t kBucketElements = size_t{1} << 22;

  // This process's communicator: the launcher's job when one started it
  // (MPI is initialised on the first call), else a world of one. Throws
  // ponder::Error when a launcher started it but the build has no MPI.
  static Communicator& world();

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool is_root() const { return rank_ == 0; }

  void all_reduce_sum(std::span<float> data);
  void all_reduce_sum(std::span<double> data);
  void all_reduce_sum(std::span<int64_t> data);
  // The sum over ranks of one value per rank.
  double sum(double value) {
    all_reduce_sum(std::span<double>(&value, 1));
    return value;
  }
  // Every rank's value, in rank order, on every rank.
  std::vector<uint64_t> all_gather(uint64_t value);
  // Rank `root`'s bytes replace `bytes` on every other rank.
  void broadcast(std::string& bytes, int root = 0);
  // On rank 0, every rank's bytes in rank order; elsewhere, empty.
  std::vector<std::string> gather(const std::string& bytes);
  void barrier();
  // Ends every process of the job with exit status `code`.
  [[noreturn]] void abort(int code);

 private:
  Communicator(int rank, int size) : rank_(rank), size_(size) {}
  int rank_, size_;
};

// Throws ponder::Error, on every rank alike, when `params` differ between
// ranks: a data-parallel run keeps every replica identical, so a difference
// is a bug or a broken node. `context` names the check in the message
// ("pretrain step 40"). One 64-bit hash per rank crosses the network.
void require_identical_replicas(Communicator& comm, std::span<const float> params,
                                std::string_view context);

// A failure drill for tests and operators: with PONDER_FAIL_RANK_AT_STEP=R:S
// in the environment, rank R throws ponder::Error when it reaches step S of a
// training loop, as a crash there would. Unset (the normal case), nothing.
void failure_drill(const Communicator& comm, int64_t step);

}  // namespace ponder

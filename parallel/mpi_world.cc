// The communicator over MPI (built with PONDER_MPI).
#include <mpi.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "parallel/communicator.h"

namespace ponder {
namespace {

// MPI_Finalize at exit, in the process that initialised MPI only: a forked
// child that calls exit() must not finalise its parent's job.
pid_t initialised_by = 0;

void finalize_at_exit() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized && getpid() == initialised_by) MPI_Finalize();
}

// Waits until every rank has reached this call, sleeping rather than
// spinning. OpenMPI polls while it waits; a rank that waits long for a slower
// one (or for rank 0 building the tokenizer alone) would burn a core that the
// slower rank, or anything else on a shared machine, could use. The sleeps
// grow from 20 µs to 1 ms, so a short wait stays short. The collective that
// follows then finds every rank present and runs at full speed.
void arrive_together() {
  MPI_Request request;
  MPI_Ibarrier(MPI_COMM_WORLD, &request);
  auto pause = std::chrono::microseconds(20);
  for (int done = 0;;) {
    MPI_Test(&request, &done, MPI_STATUS_IGNORE);
    if (done) return;
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(1000));
  }
}

template <typename T>
void all_reduce_in_buckets(std::span<T> data, MPI_Datatype type) {
  arrive_together();
  for (size_t at = 0; at < data.size(); at += Communicator::kBucketElements) {
    const size_t n = std::min(Communicator::kBucketElements, data.size() - at);
    MPI_Allreduce(MPI_IN_PLACE, data.data() + at, static_cast<int>(n), type, MPI_SUM,
                  MPI_COMM_WORLD);
  }
}

}  // namespace

Communicator& Communicator::world() {
  static Communicator* const world = [] {
    if (launcher_evidence().empty()) return new Communicator(0, 1);
    // Only the main thread calls MPI; OpenMP's threads do math alone.
    int provided = 0;
    MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
    initialised_by = getpid();
    std::atexit(finalize_at_exit);
    int rank = 0, size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    return new Communicator(rank, size);
  }();
  return *world;
}

void Communicator::all_reduce_sum(std::span<float> data) {
  if (size_ > 1) all_reduce_in_buckets(data, MPI_FLOAT);
}

void Communicator::all_reduce_sum(std::span<double> data) {
  if (size_ > 1) all_reduce_in_buckets(data, MPI_DOUBLE);
}

void Communicator::all_reduce_sum(std::span<int64_t> data) {
  if (size_ > 1) all_reduce_in_buckets(data, MPI_INT64_T);
}

std::vector<uint64_t> Communicator::all_gather(uint64_t value) {
  std::vector<uint64_t> out(static_cast<size_t>(size_), value);
  if (size_ > 1) {
    arrive_together();
    MPI_Allgather(&value, 1, MPI_UINT64_T, out.data(), 1, MPI_UINT64_T, MPI_COMM_WORLD);
  }
  return out;
}

void Communicator::broadcast(std::string& bytes, int root) {
  if (size_ == 1) return;
  arrive_together();
  uint64_t length = bytes.size();
  MPI_Bcast(&length, 1, MPI_UINT64_T, root, MPI_COMM_WORLD);
  bytes.resize(length);
  for (size_t at = 0; at < length; at += kBucketElements) {
    const size_t n = std::min<size_t>(kBucketElements, length - at);
    MPI_Bcast(bytes.data() + at, static_cast<int>(n), MPI_CHAR, root, MPI_COMM_WORLD);
  }
}

std::vector<std::string> Communicator::gather(const std::string& bytes) {
  if (size_ == 1) return {bytes};
  // Lengths first, then the bytes: rank 0 sizes its buffers from the lengths.
  const std::vector<uint64_t> lengths = all_gather(bytes.size());
  std::vector<std::string> out;
  if (is_root()) {
    out.resize(lengths.size());
    out[0] = bytes;
    for (int r = 1; r < size_; ++r) {
      out[r].resize(lengths[r]);
      for (size_t at = 0; at < lengths[r]; at += kBucketElements) {
        const size_t n = std::min<size_t>(kBucketElements, lengths[r] - at);
        MPI_Recv(out[r].data() + at, static_cast<int>(n), MPI_CHAR, r, 0, MPI_COMM_WORLD,
                 MPI_STATUS_IGNORE);
      }
    }
  } else {
    for (size_t at = 0; at < bytes.size(); at += kBucketElements) {
      const size_t n = std::min<size_t>(kBucketElements, bytes.size() - at);
      MPI_Send(bytes.data() + at, static_cast<int>(n), MPI_CHAR, 0, 0, MPI_COMM_WORLD);
    }
  }
  return out;
}

void Communicator::barrier() {
  if (size_ > 1) arrive_together();
}

void Communicator::abort(int code) {
  if (initialised_by != 0) MPI_Abort(MPI_COMM_WORLD, code);
  std::exit(code);
}

}  // namespace ponder

#include "parallel/nccl_communicator.h"

#include <algorithm>
#include <exception>
#include <string>

#include <fmt/format.h>

#include "policy/error.h"

namespace ponder {

void check_cuda(cudaError_t status, const char* call) {
  if (status != cudaSuccess) {
    throw Error(fmt::format("{} failed: {}", call, cudaGetErrorString(status)));
  }
}

namespace {

const NcclLibrary& loaded_library() {
  std::string why;
  const NcclLibrary* library = nccl_library(&why);
  if (library == nullptr) throw Error("NCCL could not be loaded: " + why);
  return *library;
}

}  // namespace

void NcclCommunicator::check(ncclResult_t status, const char* call) const {
  if (status != ncclSuccess) {
    throw Error(fmt::format("{} failed: {}", call, nccl_.error_string(status)));
  }
}

NcclCommunicator::NcclCommunicator(Communicator& world, int device)
    : nccl_(loaded_library()), rank_(world.rank()), size_(world.size()), device_(device) {
  check_cuda(cudaSetDevice(device), "cudaSetDevice");
  ncclUniqueId id{};
  if (world.is_root()) check(nccl_.get_unique_id(&id), "ncclGetUniqueId");
  std::string bytes(reinterpret_cast<const char*>(&id), sizeof(id));
  world.broadcast(bytes);
  std::copy(bytes.begin(), bytes.end(), reinterpret_cast<char*>(&id));
  check(nccl_.comm_init_rank(&comm_, size_, id, rank_), "ncclCommInitRank");
}

NcclCommunicator::~NcclCommunicator() {
  // A destructor cannot throw; a failed destroy leaks a communicator at exit.
  // While an exception unwinds (this rank is failing), collectives queued on
  // the GPU may wait for peers that will never join them: abort them rather
  // than wait, so the error reaches main and ends the job (MPI_Abort).
  if (comm_ == nullptr) return;
  if (std::uncaught_exceptions() > 0) {
    nccl_.comm_abort(comm_);
  } else {
    nccl_.comm_destroy(comm_);
  }
}

void NcclCommunicator::all_reduce_sum(float* data, size_t count, cudaStream_t stream) {
  check(nccl_.all_reduce(data, data, count, ncclFloat32, ncclSum, comm_, stream), "ncclAllReduce");
}

}  // namespace ponder

#include "parallel/nccl_communicator.h"

#include <algorithm>

#include <fmt/format.h>

#include "policy/error.h"

namespace ponder {
namespace {

void check(cudaError_t status, const char* call) {
  if (status != cudaSuccess) {
    throw Error(fmt::format("{} failed: {}", call, cudaGetErrorString(status)));
  }
}

void check(ncclResult_t status, const char* call) {
  if (status != ncclSuccess) {
    throw Error(fmt::format("{} failed: {}", call, ncclGetErrorString(status)));
  }
}

}  // namespace

NcclCommunicator::NcclCommunicator(Communicator& world, int device)
    : rank_(world.rank()), size_(world.size()), device_(device) {
  check(cudaSetDevice(device), "cudaSetDevice");
  ncclUniqueId id{};
  if (world.is_root()) check(ncclGetUniqueId(&id), "ncclGetUniqueId");
  std::string bytes(reinterpret_cast<const char*>(&id), sizeof(id));
  world.broadcast(bytes);
  std::copy(bytes.begin(), bytes.end(), reinterpret_cast<char*>(&id));
  check(ncclCommInitRank(&comm_, size_, id, rank_), "ncclCommInitRank");
}

NcclCommunicator::~NcclCommunicator() {
  // A destructor cannot throw; a failed destroy leaks a communicator at exit.
  if (comm_ != nullptr) ncclCommDestroy(comm_);
}

void NcclCommunicator::all_reduce(float* data, size_t count, ncclRedOp_t op, cudaStream_t stream) {
  for (size_t at = 0; at < count; at += Communicator::kBucketElements) {
    const size_t n = std::min(Communicator::kBucketElements, count - at);
    check(ncclAllReduce(data + at, data + at, n, ncclFloat32, op, comm_, stream), "ncclAllReduce");
  }
}

void NcclCommunicator::all_reduce_sum(float* data, size_t count, cudaStream_t stream) {
  all_reduce(data, count, ncclSum, stream);
}

void NcclCommunicator::all_reduce_mean(float* data, size_t count, cudaStream_t stream) {
  all_reduce(data, count, ncclAvg, stream);
}

}  // namespace ponder

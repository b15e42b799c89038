// All-reduce of device buffers with NCCL, for ranks that each drive one GPU.
// Built only when CMake finds the CUDA toolkit and NCCL's header
// (PONDER_NCCL); NCCL itself is loaded at run time (nccl_library.h).
//
// The NCCL communicator is bootstrapped over the process's MPI communicator
// (parallel/communicator.h): rank 0 makes NCCL's unique id and broadcasts it,
// then every rank joins with its rank and the world size. Construction is
// therefore a collective: every rank constructs one, in the same order
// relative to other collectives.
//
// Contract:
//  - Buffers are device pointers on the device the communicator was made
//    for; operations are enqueued on `stream` (nullptr: the legacy default
//    stream) and complete in stream order; nothing here synchronises the
//    host, so a caller that reads the result on the host synchronises first.
//  - One call reduces the whole buffer (NCCL counts are size_t); the
//    trainers split gradients into buckets themselves (gradient_sync.h).
//  - Every CUDA or NCCL failure is a ponder::Error naming the call and the
//    library's message.
//  - Destroyed while an exception unwinds, it aborts its queued collectives
//    (ncclCommAbort) instead of waiting for peers that may never join them.
#pragma once

#include <cstddef>

#include <cuda_runtime_api.h>
#include <nccl.h>

#include "parallel/communicator.h"
#include "parallel/nccl_library.h"

namespace ponder {

// Throws ponder::Error naming `call` and CUDA's message unless `status` is
// cudaSuccess (the CUDA runtime calls of this folder).
void check_cuda(cudaError_t status, const char* call);

class NcclCommunicator {
 public:
  // Joins world.size() ranks on CUDA device `device` (cudaSetDevice). Throws
  // ponder::Error when NCCL cannot be loaded (parallel/nccl_library.h).
  NcclCommunicator(Communicator& world, int device);
  ~NcclCommunicator();
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  int device() const { return device_; }

  // In place: the element-wise sum over ranks of `count` floats.
  void all_reduce_sum(float* data, size_t count, cudaStream_t stream = nullptr);

 private:
  void check(ncclResult_t status, const char* call) const;

  const NcclLibrary& nccl_;
  ncclComm_t comm_ = nullptr;
  int rank_, size_, device_;
};

}  // namespace ponder

// GradientSync for ranks that each drive one GPU: NCCL all-reduces (sum) of
// fixed buckets, each launched as soon as backward has queued the last write
// to it, on a stream of its own, so the reduction runs beside the rest of
// backward. Built with the NCCL communicator (PONDER_NCCL).
//
// Stream order: when backward reports a bucket final, an event recorded on
// the compute stream (the backend's, where backward's kernels are queued)
// makes the reduction stream wait for those kernels, then the bucket's
// all-reduce is queued there. finish() queues the remaining buckets and makes
// the compute stream wait for the reduction stream, so the optimizer step
// queued after it reads the sums. Nothing here blocks the host.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>

#include <cuda_runtime_api.h>

#include "parallel/gradient_sync.h"
#include "parallel/nccl_communicator.h"

namespace ponder {

class NcclGradientSync final : public GradientSync {
 public:
  // One bucket's reduction, in place, queued on `stream`.
  using Reduce = std::function<void(float* data, size_t count, cudaStream_t stream)>;

  // NCCL's sum over the ranks of `world`: joins its NCCL communicator on CUDA
  // device `device` (a collective). `grads` are `count` device floats written
  // by work on `compute_stream`.
  NcclGradientSync(Communicator& world, int device, cudaStream_t compute_stream, float* grads,
                   size_t count, size_t bucket_elements);
  // Any reduction, for tests of the stream ordering: with one rank NCCL's
  // in-place sum does nothing at all, so only a reduction that writes can
  // show a bucket reduced before backward finished it.
  NcclGradientSync(Reduce reduce, int device, cudaStream_t compute_stream, float* grads,
                   size_t count, size_t bucket_elements);
  ~NcclGradientSync() override;
  NcclGradientSync(const NcclGradientSync&) = delete;
  NcclGradientSync& operator=(const NcclGradientSync&) = delete;

  void gradients_final_from(size_t offset) override;
  void finish() override;

 private:
  // Makes the reduction stream wait for the backward work queued so far.
  void wait_for_backward();

  std::unique_ptr<NcclCommunicator> nccl_;  // absent with a caller's Reduce
  Reduce reduce_;
  cudaStream_t compute_;
  cudaStream_t reduce_stream_ = nullptr;
  cudaEvent_t backward_done_ = nullptr;  // recorded on compute_ at each report
  cudaEvent_t reduced_ = nullptr;        // recorded on reduce_stream_ by finish()
  float* grads_;
  GradientBuckets buckets_;
};

}  // namespace ponder

#include "parallel/nccl_gradient_sync.h"

#include <fmt/format.h>

#include "policy/error.h"

namespace ponder {
namespace {

void check(cudaError_t status, const char* call) {
  if (status != cudaSuccess) {
    throw Error(fmt::format("{} failed: {}", call, cudaGetErrorString(status)));
  }
}

}  // namespace

NcclGradientSync::NcclGradientSync(Communicator& world, int device, cudaStream_t compute_stream,
                                   float* grads, size_t count, size_t bucket_elements)
    : nccl_(world, device),
      compute_(compute_stream),
      grads_(grads),
      buckets_(count, bucket_elements) {
  check(cudaStreamCreateWithFlags(&reduce_, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
  check(cudaEventCreateWithFlags(&backward_done_, cudaEventDisableTiming), "cudaEventCreate");
  check(cudaEventCreateWithFlags(&reduced_, cudaEventDisableTiming), "cudaEventCreate");
}

NcclGradientSync::~NcclGradientSync() {
  // Queued reductions must end before the stream and events go; a destructor
  // cannot throw, so failures here are ignored (the process is ending).
  if (reduce_ != nullptr) cudaStreamSynchronize(reduce_);
  if (reduced_ != nullptr) cudaEventDestroy(reduced_);
  if (backward_done_ != nullptr) cudaEventDestroy(backward_done_);
  if (reduce_ != nullptr) cudaStreamDestroy(reduce_);
}

void NcclGradientSync::launch(Slice bucket) {
  // One event per report covers every bucket it launches: the reduction
  // stream waits once for all the backward work queued until now.
  if (!compute_recorded_) {
    check(cudaEventRecord(backward_done_, compute_), "cudaEventRecord");
    check(cudaStreamWaitEvent(reduce_, backward_done_, 0), "cudaStreamWaitEvent");
    compute_recorded_ = true;
  }
  nccl_.all_reduce_sum(grads_ + bucket.begin, bucket.size(), reduce_);
}

void NcclGradientSync::gradients_final_from(size_t offset) {
  compute_recorded_ = false;
  buckets_.final_from(offset, [this](Slice bucket) { launch(bucket); });
}

void NcclGradientSync::finish() {
  compute_recorded_ = false;
  buckets_.finish([this](Slice bucket) { launch(bucket); });
  check(cudaEventRecord(reduced_, reduce_), "cudaEventRecord");
  check(cudaStreamWaitEvent(compute_, reduced_, 0), "cudaStreamWaitEvent");
}

}  // namespace ponder

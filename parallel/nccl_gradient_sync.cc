#include "parallel/nccl_gradient_sync.h"

#include <exception>
#include <utility>

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
    : NcclGradientSync(nullptr, device, compute_stream, grads, count, bucket_elements) {
  nccl_ = std::make_unique<NcclCommunicator>(world, device);
  reduce_ = [nccl = nccl_.get()](float* data, size_t n, cudaStream_t stream) {
    nccl->all_reduce_sum(data, n, stream);
  };
}

NcclGradientSync::NcclGradientSync(Reduce reduce, int device, cudaStream_t compute_stream,
                                   float* grads, size_t count, size_t bucket_elements)
    : reduce_(std::move(reduce)),
      compute_(compute_stream),
      grads_(grads),
      buckets_(count, bucket_elements) {
  // The reduction stream and events belong to the device of the gradients.
  check(cudaSetDevice(device), "cudaSetDevice");
  check(cudaStreamCreateWithFlags(&reduce_stream_, cudaStreamNonBlocking),
        "cudaStreamCreateWithFlags");
  check(cudaEventCreateWithFlags(&backward_done_, cudaEventDisableTiming), "cudaEventCreate");
  check(cudaEventCreateWithFlags(&reduced_, cudaEventDisableTiming), "cudaEventCreate");
}

NcclGradientSync::~NcclGradientSync() {
  // Queued reductions must end before the stream and events go; a destructor
  // cannot throw, so failures here are ignored (the process is ending). While
  // an exception unwinds, a reduction may wait for a peer that never joins:
  // then nothing waits here, and the communicator, destroyed next, aborts it.
  if (reduce_stream_ != nullptr && std::uncaught_exceptions() == 0)
    cudaStreamSynchronize(reduce_stream_);
  if (reduced_ != nullptr) cudaEventDestroy(reduced_);
  if (backward_done_ != nullptr) cudaEventDestroy(backward_done_);
  if (reduce_stream_ != nullptr) cudaStreamDestroy(reduce_stream_);
}

void NcclGradientSync::launch(Slice bucket) {
  // One event per report covers every bucket it launches: the reduction
  // stream waits once for all the backward work queued until now.
  if (!compute_recorded_) {
    check(cudaEventRecord(backward_done_, compute_), "cudaEventRecord");
    check(cudaStreamWaitEvent(reduce_stream_, backward_done_, 0), "cudaStreamWaitEvent");
    compute_recorded_ = true;
  }
  reduce_(grads_ + bucket.begin, bucket.size(), reduce_stream_);
}

void NcclGradientSync::gradients_final_from(size_t offset) {
  compute_recorded_ = false;
  buckets_.final_from(offset, [this](Slice bucket) { launch(bucket); });
}

void NcclGradientSync::finish() {
  compute_recorded_ = false;
  buckets_.finish([this](Slice bucket) { launch(bucket); });
  check(cudaEventRecord(reduced_, reduce_stream_), "cudaEventRecord");
  check(cudaStreamWaitEvent(compute_, reduced_, 0), "cudaStreamWaitEvent");
}

}  // namespace ponder

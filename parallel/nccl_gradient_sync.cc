#include "parallel/nccl_gradient_sync.h"

#include <exception>
#include <utility>

namespace ponder {

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
  check_cuda(cudaSetDevice(device), "cudaSetDevice");
  check_cuda(cudaStreamCreateWithFlags(&reduce_stream_, cudaStreamNonBlocking),
             "cudaStreamCreateWithFlags");
  check_cuda(cudaEventCreateWithFlags(&backward_done_, cudaEventDisableTiming), "cudaEventCreate");
  check_cuda(cudaEventCreateWithFlags(&reduced_, cudaEventDisableTiming), "cudaEventCreate");
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

void NcclGradientSync::wait_for_backward() {
  // The reductions queued next run after every backward kernel queued so far.
  check_cuda(cudaEventRecord(backward_done_, compute_), "cudaEventRecord");
  check_cuda(cudaStreamWaitEvent(reduce_stream_, backward_done_, 0), "cudaStreamWaitEvent");
}

void NcclGradientSync::gradients_final_from(size_t offset) {
  wait_for_backward();
  buckets_.final_from(offset,
                      [this](Slice b) { reduce_(grads_ + b.begin, b.size(), reduce_stream_); });
}

void NcclGradientSync::finish() {
  wait_for_backward();
  buckets_.finish([this](Slice b) { reduce_(grads_ + b.begin, b.size(), reduce_stream_); });
  check_cuda(cudaEventRecord(reduced_, reduce_stream_), "cudaEventRecord");
  check_cuda(cudaStreamWaitEvent(compute_, reduced_, 0), "cudaStreamWaitEvent");
}

}  // namespace ponder

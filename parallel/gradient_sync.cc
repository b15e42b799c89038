#include "parallel/gradient_sync.h"

#include <fmt/format.h>

#include "policy/error.h"

namespace ponder {

GradientBuckets::GradientBuckets(size_t count, size_t bucket_elements) {
  if (bucket_elements == 0) throw Error("gradient buckets must hold at least one value");
  for (size_t end = count; end > 0;) {
    const size_t begin = end > bucket_elements ? end - bucket_elements : 0;
    buckets_.push_back({begin, end});
    end = begin;
  }
}

void GradientBuckets::final_from(size_t offset, const std::function<void(Slice)>& launch) {
  while (launched_ < buckets_.size() && buckets_[launched_].begin >= offset) {
    launch(buckets_[launched_++]);
  }
}

void GradientBuckets::finish(const std::function<void(Slice)>& launch) {
  while (launched_ < buckets_.size()) launch(buckets_[launched_++]);
  launched_ = 0;
}

void StagedGradientSync::finish() {
  backend_.download(host_.data(), grads_, host_.size());
  comm_.all_reduce_sum(std::span<float>(host_));
  backend_.upload(grads_, host_.data(), host_.size());
}

}  // namespace ponder

#include "policy/optimizer.h"

#include <cmath>
#include <stdexcept>
#include <string>

namespace ponder {

template <typename T>
AdamW<T>::AdamW(Backend<T>& backend, std::vector<ParameterSpec> specs, T* params, T* grads,
                AdamWConfig config)
    : backend_(backend), params_(params), grads_(grads), config_(config) {
  for (const ParameterSpec& spec : specs) {
    if (spec.offset < size_) {
      throw std::invalid_argument("AdamW: parameter `" + spec.name +
                                  "` overlaps or precedes the one before it");
    }
    if (spec.size == 0) continue;
    // Merging neighbours keeps each backend call long: one call per run
    // rather than one per tensor (a kernel launch each on CUDA).
    const bool contiguous = spec.offset == size_ && !spans_.empty();
    if (contiguous) {
      spans_.back().size += spec.size;
    } else {
      spans_.push_back({spec.offset, spec.size, false});
    }
    if (contiguous && runs_.back().decay == spec.decay) {
      runs_.back().size += spec.size;
    } else {
      runs_.push_back({spec.offset, spec.size, spec.decay});
    }
    size_ = spec.offset + spec.size;
  }
  m_ = backend_.alloc(size_);
  v_ = backend_.alloc(size_);
}

template <typename T>
AdamW<T>::~AdamW() {
  backend_.free(m_);
  backend_.free(v_);
}

template <typename T>
double AdamW<T>::step(double lr) {
  double sum_of_squares = 0.0;
  for (const Range& span : spans_) {
    sum_of_squares += backend_.sum_of_squares(grads_ + span.offset, span.size);
  }
  const double norm = std::sqrt(sum_of_squares);
  if (!std::isfinite(norm)) return norm;

  if (config_.grad_clip > 0 && norm > config_.grad_clip) {
    const double factor = config_.grad_clip / norm;
    for (const Range& span : spans_) backend_.scale(grads_ + span.offset, span.size, factor);
  }
  const int64_t t = ++steps_taken_;
  for (const Range& run : runs_) {
    backend_.adamw(params_ + run.offset, grads_ + run.offset, m_ + run.offset, v_ + run.offset,
                   run.size, lr, config_.beta1, config_.beta2, config_.eps,
                   run.decay ? config_.weight_decay : 0.0, t);
  }
  return norm;
}

template class AdamW<float>;
template class AdamW<double>;

}  // namespace ponder

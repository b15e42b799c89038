// AdamW with global gradient-norm clipping, written against Backend<T> so the
// same code drives the CPU and CUDA backends: all arithmetic on parameters,
// gradients and moments goes through the backend's optimizer ops.
//
// Gradient accumulation is the caller's job: backward ops accumulate (+=)
// into the gradients, so the caller zeroes them before the first micro-batch,
// runs every micro-batch's backward, and weights the objective so the sum is
// the gradient of the mean (e.g. w_t = 1/N over all micro-batches' tokens).
// step() then sees the accumulated gradient; the caller zeroes it again after.
//
// Invariants:
//  - params, grads, m and v share one flat layout: spec i's tensor is at
//    [offset, offset + size) in each; specs are in offset order, not overlapping.
//  - steps_taken() counts the updates applied; the next update uses bias
//    correction with t = steps_taken() + 1.
//  - A step whose gradient norm is not finite changes nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "policy/backend.h"
#include "policy/model_config.h"

namespace ponder {

struct AdamWConfig {
  double lr = 3e-3;  // the schedule's peak; step() takes the current value
  double beta1 = 0.9, beta2 = 0.95, eps = 1e-8;
  double weight_decay = 0.1;  // decoupled; only on specs with decay = true
  double grad_clip = 1.0;     // global L2 norm limit; 0 = off
};

template <typename T>
class AdamW {
 public:
  // params and grads are backend arrays laid out per `specs`; they must outlive
  // the optimizer. m and v are allocated (zeroed) on the backend. Throws
  // std::invalid_argument if specs overlap or are out of order.
  AdamW(Backend<T>& backend, std::vector<ParameterSpec> specs, T* params, T* grads,
        AdamWConfig config);
  ~AdamW();
  AdamW(const AdamW&) = delete;
  AdamW& operator=(const AdamW&) = delete;

  // One update at learning rate `lr`. Computes the global L2 norm of grads; if
  // it exceeds grad_clip (> 0), scales grads in place by grad_clip / norm; then
  // m = β1·m + (1−β1)·g, v = β2·v + (1−β2)·g², p -= lr·wd·p (decay specs only),
  // p -= lr·m̂ / (√v̂ + eps) with m̂, v̂ bias-corrected at t = steps_taken() + 1.
  // Returns the norm before clipping. A non-finite norm is returned with
  // nothing changed (not params, moments, grads nor the step count): the caller
  // skips the step.
  double step(double lr);

  // Training state for checkpoints: the moments (backend arrays in the
  // params' layout; read and write them with the backend's download/upload)
  // and the number of updates applied.
  T* m() { return m_; }
  T* v() { return v_; }
  int64_t steps_taken() const { return steps_taken_; }
  void set_steps_taken(int64_t steps) { steps_taken_ = steps; }

  const AdamWConfig& config() const { return config_; }

 private:
  // A contiguous element range [offset, offset + size).
  struct Range {
    size_t offset = 0;
    size_t size = 0;
    bool decay = false;
  };

  Backend<T>& backend_;
  T* params_;
  T* grads_;
  AdamWConfig config_;
  std::vector<Range> spans_;  // maximal contiguous ranges, for the norm and clipping
  std::vector<Range> runs_;   // maximal contiguous ranges of one decay flag, for updates
  size_t size_ = 0;           // elements in the layout (end of the last spec)
  T* m_ = nullptr;
  T* v_ = nullptr;
  int64_t steps_taken_ = 0;
};

extern template class AdamW<float>;
extern template class AdamW<double>;

}  // namespace ponder

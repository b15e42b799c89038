// The learning rate as a function of the optimizer step: linear warmup to a
// peak, then one of four shapes down to a floor of min_lr_ratio · peak.
//
// With s the 0-based step, W = warmup_steps, S = total_steps, P = peak_lr and
// M = min_lr_ratio · P:
//   s ≥ S:        the final value: P for kConstant, M for the others;
//   s < W:        P · (s + 1) / W, so step 0 already trains (P / W) and step
//                 W − 1 is the first at P;
//   otherwise, with progress q = (s − W) / (S − W) in [0, 1):
//     kCosine:    M + (P − M) · (1 + cos(π q)) / 2
//     kLinear:    P − (P − M) · q
//     kConstant:  P
//     kWsd:       P until step D = max(W, S − round(decay_fraction · S)), then
//                 linear from P at D towards M at S.
// The decaying shapes reach M at s = S, one past the last of S steps.
// The rate never decreases during warmup and never increases after it.
//
// Preconditions: peak_lr > 0, warmup_steps ≥ 0, total_steps ≥ 0,
// min_lr_ratio and decay_fraction in [0, 1], step ≥ 0. warmup_steps ≥
// total_steps is allowed: the run ends inside the warmup.
#pragma once

#include <cstdint>
#include <string_view>

namespace ponder {

struct LrSchedule {
  enum class Kind { kCosine, kLinear, kConstant, kWsd };

  Kind kind = Kind::kCosine;
  double peak_lr = 3e-3;
  int64_t warmup_steps = 0;
  int64_t total_steps = 0;
  double min_lr_ratio = 0.1;
  double decay_fraction = 0.2;  // kWsd only

  double at(int64_t step) const;

  // "cosine", "linear", "constant" or "wsd"; anything else throws ponder::Error
  // listing the choices.
  static Kind parse_kind(std::string_view name);
  static std::string_view kind_name(Kind kind);
};

}  // namespace ponder

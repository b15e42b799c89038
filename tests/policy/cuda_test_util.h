// What the GPU tests share: skipping without a device, buffers on either
// backend, fresh random inputs and the parity metric.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "policy/backend.h"
#include "policy/cuda/cuda_backend.h"
#include "policy/model_config.h"

namespace ponder::cuda_test {

// In a fixture's SetUp or a test's first line: the test is skipped, with
// CUDA's reason, where no device is usable (CI machines have none).
#define PONDER_REQUIRE_CUDA_DEVICE()                                                    \
  do {                                                                                  \
    std::string ponder_why_;                                                            \
    if (::ponder::CudaBackend::device_count(&ponder_why_) == 0) {                       \
      GTEST_SKIP() << "no CUDA device (" << ponder_why_ << "); GPU tests run on a GPU " \
                   << "machine, docs/GPU.md";                                           \
    }                                                                                   \
  } while (0)

// A small model for whole-model GPU tests: head_dim 16, grouped-query
// attention, widths that are not powers of two.
inline ModelConfig small_model_config() {
  ModelConfig config;
  config.vocab_size = 300;
  config.hidden_size = 64;
  config.intermediate_size = 168;
  config.num_hidden_layers = 2;
  config.num_attention_heads = 4;
  config.num_key_value_heads = 2;
  config.max_position_embeddings = 64;
  return config;
}

inline const char* name_of(CudaPrecision p) {
  return p == CudaPrecision::kFp32 ? "fp32" : "bf16";
}

// The parity bound of the issue: fp32 1e-5, bf16 1e-2 (norm-relative).
inline double tolerance(CudaPrecision p) {
  return p == CudaPrecision::kFp32 ? 1e-5 : 1e-2;
}

// A fresh seed per run (PONDER_TEST_SEED repeats one), reported on failure.
inline uint64_t fresh_seed() {
  if (const char* fixed = std::getenv("PONDER_TEST_SEED")) return std::strtoull(fixed, nullptr, 10);
  return (static_cast<uint64_t>(std::random_device{}()) << 32) | std::random_device{}();
}

inline std::vector<float> random_values(std::mt19937_64& rng, size_t n, double scale = 1.0) {
  std::normal_distribution<double> normal(0.0, scale);
  std::vector<float> v(n);
  for (float& x : v) x = static_cast<float>(normal(rng));
  return v;
}

inline std::vector<int> random_ints(std::mt19937_64& rng, size_t n, int below) {
  std::vector<int> v(n);
  for (int& x : v) x = static_cast<int>(rng() % below);
  return v;
}

// Allocations on one backend, freed with it.
class Buffers {
 public:
  explicit Buffers(Backend<float>& backend) : backend_(backend) {}
  ~Buffers() {
    for (void* p : owned_) backend_.free(p);
  }
  Buffers(const Buffers&) = delete;
  Buffers& operator=(const Buffers&) = delete;

  float* values(const std::vector<float>& host) {
    float* p = backend_.alloc(host.size());
    backend_.upload(p, host.data(), host.size());
    owned_.push_back(p);
    return p;
  }
  // n NaNs: an op that leaves any of them unwritten fails the comparison.
  float* poisoned(size_t n) {
    return values(std::vector<float>(n, std::numeric_limits<float>::quiet_NaN()));
  }
  int* ids(const std::vector<int>& host) {
    TokenId* p = backend_.alloc_ids(host.size());
    backend_.upload_ids(p, host.data(), host.size());
    owned_.push_back(p);
    return p;
  }
  std::vector<float> read(const float* p, size_t n) {
    std::vector<float> host(n);
    backend_.download(host.data(), p, n);
    return host;
  }

 private:
  Backend<float>& backend_;
  std::vector<void*> owned_;
};

// ‖gpu − cpu‖₂ / ‖cpu‖₂ within `bound`, and every GPU value finite (a NaN
// left from the poison means an element was never written).
inline void expect_parity(const std::vector<float>& gpu, const std::vector<float>& cpu,
                          double bound, const std::string& what) {
  ASSERT_EQ(gpu.size(), cpu.size()) << what;
  double diff = 0, norm = 0;
  size_t unwritten = 0;
  for (size_t i = 0; i < gpu.size(); ++i) {
    if (!std::isfinite(gpu[i])) {
      ++unwritten;
      continue;
    }
    const double d = static_cast<double>(gpu[i]) - cpu[i];
    diff += d * d;
    norm += static_cast<double>(cpu[i]) * cpu[i];
  }
  EXPECT_EQ(unwritten, 0u) << what << ": GPU values not finite (never written?)";
  const double relative = std::sqrt(diff) / std::max(std::sqrt(norm), 1e-30);
  EXPECT_LE(relative, bound) << what << ": norm-relative difference from the CPU backend";
}

// A GPU test, run in both precisions: skipped without a device; a fresh
// seed and RNG; a backend of the test's precision.
class CudaTest : public ::testing::TestWithParam<CudaPrecision> {
 protected:
  void SetUp() override {
    PONDER_REQUIRE_CUDA_DEVICE();
    seed_ = fresh_seed();
    rng_.seed(seed_);
    RecordProperty("seed", std::to_string(seed_));
    gpu_ = std::make_unique<CudaBackend>(GetParam());
  }
  // For failure messages: "bf16, seed 123".
  std::string where() const {
    return std::string(name_of(GetParam())) + ", seed " + std::to_string(seed_);
  }

  uint64_t seed_ = 0;
  std::mt19937_64 rng_;
  std::unique_ptr<CudaBackend> gpu_;
};

}  // namespace ponder::cuda_test

// AdamW on the CPU backend against a reference written out below in plain
// double arithmetic (PyTorch's AdamW with clip_grad_norm_, without its 1e-6 in
// the clip factor).
#include "policy/optimizer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <stdexcept>
#include <vector>

#include "policy/cpu/cpu_backend.h"

namespace ponder {
namespace {

// The reference: one update of params p (with moments m, v) by grads g.
struct Reference {
  std::vector<double> p, m, v;
  int64_t t = 0;

  // Returns the norm before clipping.
  double step(std::vector<double> g, const std::vector<ParameterSpec>& specs, const AdamWConfig& c,
              double lr) {
    double sum = 0;
    for (double x : g) sum += x * x;
    const double norm = std::sqrt(sum);
    if (c.grad_clip > 0 && norm > c.grad_clip) {
      for (double& x : g) x *= c.grad_clip / norm;
    }
    ++t;
    for (const ParameterSpec& spec : specs) {
      for (size_t i = spec.offset; i < spec.offset + spec.size; ++i) {
        m[i] = c.beta1 * m[i] + (1 - c.beta1) * g[i];
        v[i] = c.beta2 * v[i] + (1 - c.beta2) * g[i] * g[i];
        const double m_hat = m[i] / (1 - std::pow(c.beta1, static_cast<double>(t)));
        const double v_hat = v[i] / (1 - std::pow(c.beta2, static_cast<double>(t)));
        const double decayed = spec.decay ? p[i] - lr * c.weight_decay * p[i] : p[i];
        p[i] = decayed - lr * m_hat / (std::sqrt(v_hat) + c.eps);
      }
    }
    return norm;
  }
};

// Four tensors, 18 elements; `mixed`: decay off for the first and third, as
// for an embedding and a norm.
std::vector<ParameterSpec> specs(bool mixed) {
  return {{"embed", {2, 3}, 0, 6, !mixed},
          {"w1", {5}, 6, 5, true},
          {"norm", {3}, 11, 3, !mixed},
          {"w2", {2, 2}, 14, 4, true}};
}

std::vector<double> uniform(size_t n, double scale, std::mt19937& rng) {
  std::uniform_real_distribution<double> dist(-scale, scale);
  std::vector<double> out(n);
  for (double& x : out) x = dist(rng);
  return out;
}

// A backend array of n values.
template <typename T>
class Array {
 public:
  Array(Backend<T>& backend, size_t n) : backend_(backend), n_(n), data_(backend.alloc(n)) {}
  ~Array() { backend_.free(data_); }
  Array(const Array&) = delete;
  Array& operator=(const Array&) = delete;

  T* get() { return data_; }
  void set(const std::vector<double>& values) {
    std::vector<T> host(values.begin(), values.end());
    backend_.upload(data_, host.data(), n_);
  }

 private:
  Backend<T>& backend_;
  size_t n_;
  T* data_;
};

template <typename T>
std::vector<double> read(Backend<T>& backend, const T* data, size_t n) {
  std::vector<T> host(n);
  backend.download(host.data(), data, n);
  return std::vector<double>(host.begin(), host.end());
}

void expect_near(const std::vector<double>& got, const std::vector<double>& want, double relative,
                 const char* what) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_NEAR(got[i], want[i], relative * std::max(1.0, std::abs(want[i])))
        << what << "[" << i << "]";
  }
}

// Six steps with fresh gradients and a changing learning rate, compared with
// the reference after every step.
template <typename T>
void check_against_reference(bool mixed, double grad_clip, double tolerance) {
  CpuBackend<T> backend;
  const std::vector<ParameterSpec> layout = specs(mixed);
  const size_t n = 18;
  const AdamWConfig config = {.lr = 0.05,
                              .beta1 = 0.9,
                              .beta2 = 0.95,
                              .eps = 1e-8,
                              .weight_decay = 0.1,
                              .grad_clip = grad_clip};
  std::mt19937 rng(42);
  Reference reference = {uniform(n, 1.0, rng), std::vector<double>(n), std::vector<double>(n)};
  for (double& p : reference.p) p = static_cast<T>(p);  // start from the same values
  Array<T> params(backend, n), grads(backend, n);
  params.set(reference.p);
  AdamW<T> optimizer(backend, layout, params.get(), grads.get(), config);

  bool clipped = false;
  for (int step = 0; step < 6; ++step) {
    std::vector<double> g = uniform(n, 1.0, rng);
    for (double& x : g) x = static_cast<T>(x);
    grads.set(g);
    const double lr = 0.05 / (step + 1);
    const double want_norm = reference.step(g, layout, config, lr);
    const double norm = optimizer.step(lr);
    EXPECT_NEAR(norm, want_norm, tolerance * want_norm);
    clipped = clipped || (grad_clip > 0 && norm > grad_clip);
    EXPECT_EQ(optimizer.steps_taken(), step + 1);
    expect_near(read(backend, params.get(), n), reference.p, tolerance, "p");
    expect_near(read(backend, optimizer.m(), n), reference.m, tolerance, "m");
    expect_near(read(backend, optimizer.v(), n), reference.v, tolerance, "v");
  }
  // Uniform(-1, 1) gradients over 18 values have a norm near 2.4.
  EXPECT_EQ(clipped, grad_clip == 1.0);
}

TEST(AdamW, MatchesTheReferenceInDouble) {
  for (bool mixed : {false, true}) {
    for (double clip : {0.0, 1.0, 100.0}) {
      SCOPED_TRACE(::testing::Message() << "mixed " << mixed << ", clip " << clip);
      check_against_reference<double>(mixed, clip, 1e-12);
    }
  }
}

TEST(AdamW, MatchesTheReferenceInFloat) {
  for (bool mixed : {false, true}) {
    for (double clip : {0.0, 1.0}) {
      SCOPED_TRACE(::testing::Message() << "mixed " << mixed << ", clip " << clip);
      check_against_reference<float>(mixed, clip, 2e-5);
    }
  }
}

TEST(AdamW, ClippingScalesTheGradientsToTheLimit) {
  CpuBackend<double> backend;
  Array<double> params(backend, 4), grads(backend, 4);
  grads.set({3, 0, 0, 4});
  AdamW<double> optimizer(backend, {{"w", {4}, 0, 4, true}}, params.get(), grads.get(),
                          {.grad_clip = 1.0});
  EXPECT_DOUBLE_EQ(optimizer.step(1e-3), 5.0);
  const std::vector<double> clipped = read(backend, grads.get(), 4);
  EXPECT_DOUBLE_EQ(clipped[0], 0.6);
  EXPECT_DOUBLE_EQ(clipped[3], 0.8);
}

TEST(AdamW, WeightDecayOnlyTouchesDecayedTensors) {
  // With zero gradients the Adam term is 0, leaving p · (1 − lr · wd) or p.
  CpuBackend<double> backend;
  const size_t n = 18;
  Array<double> params(backend, n), grads(backend, n);
  std::vector<double> start(n);
  for (size_t i = 0; i < n; ++i) start[i] = 1.0 + static_cast<double>(i);
  params.set(start);
  AdamW<double> optimizer(backend, specs(true), params.get(), grads.get(), {.weight_decay = 0.5});
  EXPECT_EQ(optimizer.step(0.1), 0.0);
  const std::vector<double> after = read(backend, params.get(), n);
  for (const ParameterSpec& spec : specs(true)) {
    for (size_t i = spec.offset; i < spec.offset + spec.size; ++i) {
      EXPECT_DOUBLE_EQ(after[i], spec.decay ? start[i] * 0.95 : start[i]) << spec.name;
    }
  }
}

TEST(AdamW, NonFiniteGradientsChangeNothing) {
  for (double bad :
       {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()}) {
    CpuBackend<float> backend;
    const size_t n = 18;
    std::mt19937 rng(7);
    Array<float> params(backend, n), grads(backend, n);
    params.set(uniform(n, 1.0, rng));
    AdamW<float> optimizer(backend, specs(true), params.get(), grads.get(), {});
    grads.set(uniform(n, 1.0, rng));
    optimizer.step(1e-2);

    std::vector<double> g = uniform(n, 1.0, rng);
    g[12] = bad;
    grads.set(g);
    const std::vector<double> p0 = read(backend, params.get(), n);
    const std::vector<double> m0 = read(backend, optimizer.m(), n);
    const std::vector<double> v0 = read(backend, optimizer.v(), n);
    const double norm = optimizer.step(1e-2);
    EXPECT_FALSE(std::isfinite(norm));
    EXPECT_EQ(optimizer.steps_taken(), 1);
    EXPECT_EQ(read(backend, params.get(), n), p0);
    EXPECT_EQ(read(backend, optimizer.m(), n), m0);
    EXPECT_EQ(read(backend, optimizer.v(), n), v0);
    const std::vector<double> g_after = read(backend, grads.get(), n);
    for (size_t i = 0; i < n; ++i) {
      if (i != 12) {
        EXPECT_EQ(g_after[i], static_cast<double>(static_cast<float>(g[i]))) << i;
      }
    }
  }
}

TEST(AdamW, StateRoundTripsThroughTheAccessors) {
  // Two steps, then the state moves to a fresh optimizer: its next step is
  // bitwise the same as the original's.
  CpuBackend<float> backend;
  const size_t n = 18;
  std::mt19937 rng(3);
  const std::vector<double> p = uniform(n, 1.0, rng);
  const std::vector<double> g1 = uniform(n, 1.0, rng), g2 = uniform(n, 1.0, rng),
                            g3 = uniform(n, 1.0, rng);
  Array<float> params(backend, n), grads(backend, n);
  params.set(p);
  AdamW<float> original(backend, specs(true), params.get(), grads.get(), {});
  grads.set(g1);
  original.step(1e-2);
  grads.set(g2);
  original.step(2e-2);

  std::vector<float> m(n), v(n), saved_params(n);
  backend.download(m.data(), original.m(), n);
  backend.download(v.data(), original.v(), n);
  backend.download(saved_params.data(), params.get(), n);

  Array<float> params2(backend, n), grads2(backend, n);
  backend.upload(params2.get(), saved_params.data(), n);
  AdamW<float> resumed(backend, specs(true), params2.get(), grads2.get(), {});
  backend.upload(resumed.m(), m.data(), n);
  backend.upload(resumed.v(), v.data(), n);
  resumed.set_steps_taken(original.steps_taken());
  EXPECT_EQ(resumed.steps_taken(), 2);

  grads.set(g3);
  grads2.set(g3);
  EXPECT_EQ(original.step(3e-2), resumed.step(3e-2));
  EXPECT_EQ(read(backend, params.get(), n), read(backend, params2.get(), n));
  EXPECT_EQ(read(backend, original.m(), n), read(backend, resumed.m(), n));
  EXPECT_EQ(read(backend, original.v(), n), read(backend, resumed.v(), n));
  EXPECT_EQ(resumed.steps_taken(), 3);
}

TEST(AdamW, ElementsBetweenSpecsAreLeftAlone) {
  CpuBackend<double> backend;
  Array<double> params(backend, 6), grads(backend, 6);
  params.set({1, 1, 1, 1, 1, 1});
  grads.set({0, 0, 100, 100, 3, 4});  // elements 2 and 3 belong to no spec
  AdamW<double> optimizer(backend, {{"a", {2}, 0, 2, true}, {"b", {2}, 4, 2, true}}, params.get(),
                          grads.get(), {.grad_clip = 0});
  EXPECT_DOUBLE_EQ(optimizer.step(1e-2), 5.0);
  const std::vector<double> after = read(backend, params.get(), 6);
  EXPECT_EQ(after[2], 1.0);
  EXPECT_EQ(after[3], 1.0);
  EXPECT_NE(after[4], 1.0);
}

TEST(AdamW, OverlappingSpecsAreRejected) {
  CpuBackend<double> backend;
  Array<double> params(backend, 8), grads(backend, 8);
  const std::vector<ParameterSpec> overlapping = {{"a", {4}, 0, 4, true}, {"b", {4}, 2, 4, true}};
  EXPECT_THROW(AdamW<double>(backend, overlapping, params.get(), grads.get(), {}),
               std::invalid_argument);
}

}  // namespace
}  // namespace ponder

// Finite-difference gradient checks in float64, op by op and for the whole
// model. Each op's backward is checked as the gradient of a scalar
// f = Σ R ⊙ forward(x) for a random R. The error of a gradient tensor is
// ‖analytic − numeric‖ / max(‖analytic‖, ‖numeric‖) (norm-wise relative);
// the bound is 1e-6 (central differences with h = 1e-5 are good to ~1e-9).
#include <cmath>
#include <functional>
#include <random>

#include <gtest/gtest.h>

#include "policy/cpu/cpu_backend.h"
#include "policy/model.h"

namespace ponder {
namespace {

using Vec = std::vector<double>;
constexpr double kStep = 1e-5;
constexpr double kTolerance = 1e-6;

Vec random_vec(size_t n, std::mt19937& rng, double scale = 1.0) {
  std::normal_distribution<double> normal(0.0, scale);
  Vec v(n);
  for (auto& x : v) x = normal(rng);
  return v;
}

double relative_error(const Vec& a, const Vec& b) {
  double diff = 0, na = 0, nb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff += (a[i] - b[i]) * (a[i] - b[i]);
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  const double scale = std::max(std::sqrt(std::max(na, nb)), 1e-12);
  return std::sqrt(diff) / scale;
}

// Numeric gradient of f with respect to x (x is restored afterwards).
Vec numeric_gradient(Vec& x, const std::function<double()>& f) {
  Vec g(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const double saved = x[i];
    x[i] = saved + kStep;
    const double plus = f();
    x[i] = saved - kStep;
    const double minus = f();
    x[i] = saved;
    g[i] = (plus - minus) / (2 * kStep);
  }
  return g;
}

double dot(const Vec& a, const Vec& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

class OpGradient : public ::testing::Test {
 protected:
  CpuBackend<double> be;
  std::mt19937 rng{42};
};

TEST_F(OpGradient, Matmul) {
  const int n = 5, in = 7, out = 4;
  Vec x = random_vec(n * in, rng), w = random_vec(out * in, rng), r = random_vec(n * out, rng);
  auto f = [&] {
    Vec y(n * out);
    be.matmul_forward(y.data(), x.data(), w.data(), n, in, out);
    return dot(y, r);
  };
  Vec dx(n * in, 0.0), dw(out * in, 0.0);
  be.matmul_backward(dx.data(), dw.data(), r.data(), x.data(), w.data(), n, in, out);
  EXPECT_LT(relative_error(dx, numeric_gradient(x, f)), kTolerance);
  EXPECT_LT(relative_error(dw, numeric_gradient(w, f)), kTolerance);
}

TEST_F(OpGradient, Embedding) {
  const int n = 6, c = 3, vocab = 4;
  const std::vector<TokenId> ids = {0, 2, 2, 3, 0, 2};  // repeats accumulate
  Vec table = random_vec(vocab * c, rng), r = random_vec(n * c, rng);
  auto f = [&] {
    Vec y(n * c);
    be.embedding_forward(y.data(), ids.data(), table.data(), n, c);
    return dot(y, r);
  };
  Vec dtable(vocab * c, 0.0);
  be.embedding_backward(dtable.data(), ids.data(), r.data(), n, c);
  EXPECT_LT(relative_error(dtable, numeric_gradient(table, f)), kTolerance);
}

TEST_F(OpGradient, RmsNorm) {
  const int n = 4, c = 9;
  Vec x = random_vec(n * c, rng), w = random_vec(c, rng), r = random_vec(n * c, rng);
  auto f = [&] {
    Vec y(n * c), rstd(n);
    be.rmsnorm_forward(y.data(), rstd.data(), x.data(), w.data(), n, c, 1e-5);
    return dot(y, r);
  };
  Vec y(n * c), rstd(n), dx(n * c, 0.0), dw(c, 0.0);
  be.rmsnorm_forward(y.data(), rstd.data(), x.data(), w.data(), n, c, 1e-5);
  be.rmsnorm_backward(dx.data(), dw.data(), r.data(), x.data(), w.data(), rstd.data(), n, c);
  EXPECT_LT(relative_error(dx, numeric_gradient(x, f)), kTolerance);
  EXPECT_LT(relative_error(dw, numeric_gradient(w, f)), kTolerance);
}

TEST_F(OpGradient, Rope) {
  const int n = 5, heads = 3, head_dim = 8;
  const std::vector<int> positions = {0, 1, 7, 3, 100};
  Vec x = random_vec(n * heads * head_dim, rng), r = random_vec(x.size(), rng);
  auto f = [&] {
    Vec y = x;
    be.rope_forward(y.data(), positions.data(), n, heads, head_dim, 10000.0);
    return dot(y, r);
  };
  Vec dx = r;
  be.rope_backward(dx.data(), positions.data(), n, heads, head_dim, 10000.0);
  EXPECT_LT(relative_error(dx, numeric_gradient(x, f)), kTolerance);
}

TEST_F(OpGradient, CausalAttentionWithGroupedQueries) {
  const int batch = 2, seq = 5, heads = 4, kv_heads = 2, head_dim = 3;
  const int n = batch * seq, qd = heads * head_dim, kvd = kv_heads * head_dim;
  Vec q = random_vec(n * qd, rng), k = random_vec(n * kvd, rng), v = random_vec(n * kvd, rng);
  Vec r = random_vec(n * qd, rng);
  const size_t att_size = static_cast<size_t>(batch) * heads * seq * seq;
  auto f = [&] {
    Vec out(n * qd), att(att_size);
    be.attention_forward(out.data(), att.data(), q.data(), k.data(), v.data(), batch, seq, heads,
                         kv_heads, head_dim);
    return dot(out, r);
  };
  Vec out(n * qd), att(att_size), scratch(att_size);
  be.attention_forward(out.data(), att.data(), q.data(), k.data(), v.data(), batch, seq, heads,
                       kv_heads, head_dim);
  Vec dq(q.size(), 0.0), dk(k.size(), 0.0), dv(v.size(), 0.0);
  be.attention_backward(dq.data(), dk.data(), dv.data(), scratch.data(), r.data(), att.data(),
                        q.data(), k.data(), v.data(), batch, seq, heads, kv_heads, head_dim);
  EXPECT_LT(relative_error(dq, numeric_gradient(q, f)), kTolerance);
  EXPECT_LT(relative_error(dk, numeric_gradient(k, f)), kTolerance);
  EXPECT_LT(relative_error(dv, numeric_gradient(v, f)), kTolerance);
}

TEST_F(OpGradient, SwiGlu) {
  const size_t n = 17;
  Vec g = random_vec(n, rng, 2.0), u = random_vec(n, rng), r = random_vec(n, rng);
  auto f = [&] {
    Vec h(n);
    be.swiglu_forward(h.data(), g.data(), u.data(), n);
    return dot(h, r);
  };
  Vec dg(n, 0.0), du(n, 0.0);
  be.swiglu_backward(dg.data(), du.data(), r.data(), g.data(), u.data(), n);
  EXPECT_LT(relative_error(dg, numeric_gradient(g, f)), kTolerance);
  EXPECT_LT(relative_error(du, numeric_gradient(u, f)), kTolerance);
}

TEST_F(OpGradient, WeightedCrossEntropy) {
  const int n = 4, vocab = 6;
  const std::vector<TokenId> targets = {1, 5, -1, 0};  // -1: ignored
  const Vec weights = {0.5, 1.5, 3.0, 0.0};            // weight 0: ignored
  Vec logits = random_vec(n * vocab, rng, 3.0);
  auto f = [&] {
    Vec logprobs(n);
    be.token_logprobs(logprobs.data(), logits.data(), targets.data(), n, vocab);
    return -dot(weights, logprobs);
  };
  Vec grad = logits;
  be.weighted_cross_entropy_backward(grad.data(), targets.data(), weights.data(), n, vocab);
  EXPECT_LT(relative_error(grad, numeric_gradient(logits, f)), kTolerance);
}

// The whole model: every parameter's gradient against central differences.
void check_model(bool tied) {
  CpuBackend<double> be;
  ModelConfig config;
  config.vocab_size = 11;
  config.hidden_size = 8;
  config.intermediate_size = 12;
  config.num_hidden_layers = 2;
  config.num_attention_heads = 4;
  config.num_key_value_heads = 2;
  config.max_position_embeddings = 16;
  config.tie_word_embeddings = tied;
  Model<double> model(be, config);
  model.init_weights(7, 0.5);
  const int batch = 2, seq = 5;
  const std::vector<TokenId> inputs = {1, 4, 4, 9, 0, 3, 3, 10, 2, 7};
  const std::vector<TokenId> targets = {4, 4, 9, 0, -1, 3, 10, 2, 7, 5};
  const Vec weights = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0};
  model.zero_grad();
  model.forward(inputs.data(), targets.data(), weights.data(), batch, seq);
  model.backward();
  Vec analytic(model.num_parameters());
  be.download(analytic.data(), model.grads(), analytic.size());
  Vec params = model.get_params();
  auto loss = [&] {
    model.set_params(params);
    return model.forward(inputs.data(), targets.data(), weights.data(), batch, seq);
  };
  const Vec numeric = numeric_gradient(params, loss);
  for (const auto& spec : model.specs()) {
    const Vec a(analytic.begin() + spec.offset, analytic.begin() + spec.offset + spec.size);
    const Vec b(numeric.begin() + spec.offset, numeric.begin() + spec.offset + spec.size);
    EXPECT_LT(relative_error(a, b), kTolerance) << spec.name;
  }
}

TEST(ModelGradient, UntiedEmbeddingsMatchFiniteDifferences) {
  check_model(false);
}
TEST(ModelGradient, TiedEmbeddingsMatchFiniteDifferences) {
  check_model(true);
}

// float32 gives the float64 results to float precision: loss to 1e-5 relative,
// each gradient tensor to 1e-3 norm-wise relative.
TEST(ModelGradient, Float32AgreesWithFloat64) {
  ModelConfig config;
  config.vocab_size = 50;
  config.hidden_size = 32;
  config.intermediate_size = 40;
  config.num_hidden_layers = 2;
  config.num_attention_heads = 4;
  config.num_key_value_heads = 1;
  config.max_position_embeddings = 32;
  CpuBackend<double> be64;
  CpuBackend<float> be32;
  Model<double> m64(be64, config);
  Model<float> m32(be32, config);
  m64.init_weights(3, 0.2);
  const Vec p64 = m64.get_params();
  m32.set_params(std::vector<float>(p64.begin(), p64.end()));
  std::mt19937 rng(1);
  const int batch = 3, seq = 16, n = batch * seq;
  std::vector<TokenId> inputs(n), targets(n);
  for (int i = 0; i < n; ++i) {
    inputs[i] = static_cast<TokenId>(rng() % config.vocab_size);
    targets[i] = static_cast<TokenId>(rng() % config.vocab_size);
  }
  const Vec w64(n, 1.0 / n);
  const std::vector<float> w32(n, 1.0f / n);
  m64.zero_grad();
  m32.zero_grad();
  const double loss64 = m64.forward(inputs.data(), targets.data(), w64.data(), batch, seq);
  const double loss32 = m32.forward(inputs.data(), targets.data(), w32.data(), batch, seq);
  EXPECT_NEAR(loss32, loss64, 1e-5 * std::abs(loss64));
  m64.backward();
  m32.backward();
  Vec g64(m64.num_parameters());
  std::vector<float> g32(m32.num_parameters());
  be64.download(g64.data(), m64.grads(), g64.size());
  be32.download(g32.data(), m32.grads(), g32.size());
  for (const auto& spec : m64.specs()) {
    const Vec a(g64.begin() + spec.offset, g64.begin() + spec.offset + spec.size);
    const Vec b(g32.begin() + spec.offset, g32.begin() + spec.offset + spec.size);
    EXPECT_LT(relative_error(a, b), 1e-3) << spec.name;
  }
}

}  // namespace
}  // namespace ponder

// CudaBackend op by op against CpuBackend<float>, in both precisions, on
// fresh random inputs each run (the seed is in every failure message;
// PONDER_TEST_SEED repeats one). Outputs that an op writes start as NaN, so
// an element it skips fails; outputs it accumulates into start random. Ops
// with a matmul meet the precision's bound (fp32 1e-5, bf16 1e-2,
// norm-relative); the rest are fp32 in both and meet 1e-5.
// Skipped without a CUDA device.
#include <algorithm>
#include <array>
#include <memory>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "policy/cpu/cpu_backend.h"
#include "policy/error.h"
#include "tests/policy/cuda_test_util.h"

namespace ponder {
namespace {

using cuda_test::Buffers;
using ::testing::HasSubstr;

constexpr double kFp32Bound = 1e-5;

class CudaOps : public cuda_test::CudaTest {
 protected:
  void SetUp() override {
    CudaTest::SetUp();
    if (IsSkipped()) return;
    c_ = std::make_unique<Buffers>(cpu_);
    g_ = std::make_unique<Buffers>(*gpu_);
  }

  double bound() const { return cuda_test::tolerance(GetParam()); }
  std::vector<float> random(size_t n, double scale = 1.0) {
    return cuda_test::random_values(rng_, n, scale);
  }
  std::vector<int> ints(size_t n, int below) { return cuda_test::random_ints(rng_, n, below); }
  // The same values on both backends.
  std::pair<float*, float*> both(const std::vector<float>& host) {
    return {c_->values(host), g_->values(host)};
  }
  std::pair<int*, int*> both_ids(const std::vector<int>& host) {
    return {c_->ids(host), g_->ids(host)};
  }
  void check(const float* cpu, const float* gpu, size_t n, double limit, const std::string& what) {
    cuda_test::expect_parity(
        g_->read(gpu, n), c_->read(cpu, n), limit,
        what + " (" + cuda_test::name_of(GetParam()) + ", seed " + std::to_string(seed_) + ")");
  }

  CpuBackend<float> cpu_;
  std::unique_ptr<Buffers> c_, g_;  // destroyed before the backends
};

TEST_P(CudaOps, MemoryRoundTrips) {
  const std::vector<float> host = random(1001);
  float* p = g_->values(host);
  EXPECT_EQ(g_->read(p, host.size()), host);
  float* q = g_->poisoned(host.size());
  gpu_->copy(q, p, host.size());
  EXPECT_EQ(g_->read(q, host.size()), host);
  gpu_->zero(q, 500);
  const std::vector<float> zeroed = g_->read(q, host.size());
  EXPECT_EQ(std::vector<float>(zeroed.begin(), zeroed.begin() + 500), std::vector<float>(500, 0));
  EXPECT_EQ(zeroed[500], host[500]);
  float* fresh = gpu_->alloc(77);
  EXPECT_EQ(g_->read(fresh, 77), std::vector<float>(77, 0.0f));
  gpu_->free(fresh);
}

TEST_P(CudaOps, MatmulForward) {
  // Aligned widths (vector loads in the bf16 copies) and odd ones.
  for (auto [n, in, out] : {std::array{37, 96, 200}, std::array{5, 50, 33}}) {
    auto [x_c, x_g] = both(random(static_cast<size_t>(n) * in));
    auto [w_c, w_g] = both(random(static_cast<size_t>(out) * in, 0.1));
    float* y_c = c_->poisoned(static_cast<size_t>(n) * out);
    float* y_g = g_->poisoned(static_cast<size_t>(n) * out);
    cpu_.matmul_forward(y_c, x_c, w_c, n, in, out);
    gpu_->matmul_forward(y_g, x_g, w_g, n, in, out);
    check(y_c, y_g, static_cast<size_t>(n) * out, bound(), "matmul_forward " + std::to_string(in));
  }
}

TEST_P(CudaOps, MatmulBackwardAccumulates) {
  const int n = 29, in = 64, out = 72;
  auto [g_c, g_g] = both(random(static_cast<size_t>(n) * out));
  auto [x_c, x_g] = both(random(static_cast<size_t>(n) * in));
  auto [w_c, w_g] = both(random(static_cast<size_t>(out) * in, 0.1));
  auto [dx_c, dx_g] = both(random(static_cast<size_t>(n) * in));
  auto [dw_c, dw_g] = both(random(static_cast<size_t>(out) * in));
  cpu_.matmul_backward(dx_c, dw_c, g_c, x_c, w_c, n, in, out);
  gpu_->matmul_backward(dx_g, dw_g, g_g, x_g, w_g, n, in, out);
  check(dx_c, dx_g, static_cast<size_t>(n) * in, bound(), "matmul_backward dinp");
  check(dw_c, dw_g, static_cast<size_t>(out) * in, bound(), "matmul_backward dweight");
  // Without an input gradient (the embedding's first layer has none).
  cpu_.matmul_backward(nullptr, dw_c, g_c, x_c, w_c, n, in, out);
  gpu_->matmul_backward(nullptr, dw_g, g_g, x_g, w_g, n, in, out);
  check(dw_c, dw_g, static_cast<size_t>(out) * in, bound(), "matmul_backward dweight only");
}

TEST_P(CudaOps, Embedding) {
  const int vocab = 50, c = 48, n = 300;  // ids repeat: the backward adds rows
  auto [ids_c, ids_g] = both_ids(ints(n, vocab));
  auto [table_c, table_g] = both(random(static_cast<size_t>(vocab) * c));
  float* out_c = c_->poisoned(static_cast<size_t>(n) * c);
  float* out_g = g_->poisoned(static_cast<size_t>(n) * c);
  cpu_.embedding_forward(out_c, ids_c, table_c, n, c);
  gpu_->embedding_forward(out_g, ids_g, table_g, n, c);
  check(out_c, out_g, static_cast<size_t>(n) * c, kFp32Bound, "embedding_forward");
  auto [d_c, d_g] = both(random(static_cast<size_t>(n) * c));
  cpu_.embedding_backward(table_c, ids_c, d_c, n, c);
  gpu_->embedding_backward(table_g, ids_g, d_g, n, c);
  check(table_c, table_g, static_cast<size_t>(vocab) * c, kFp32Bound, "embedding_backward");
}

TEST_P(CudaOps, RmsNorm) {
  for (int c : {96, 100}) {
    const int n = 70;
    const size_t nc = static_cast<size_t>(n) * c;
    auto [x_c, x_g] = both(random(nc, 2.0));
    auto [w_c, w_g] = both(random(c));
    float *y_c = c_->poisoned(nc), *y_g = g_->poisoned(nc);
    float *r_c = c_->poisoned(n), *r_g = g_->poisoned(n);
    cpu_.rmsnorm_forward(y_c, r_c, x_c, w_c, n, c, 1e-5);
    gpu_->rmsnorm_forward(y_g, r_g, x_g, w_g, n, c, 1e-5);
    check(y_c, y_g, nc, kFp32Bound, "rmsnorm_forward out");
    check(r_c, r_g, n, kFp32Bound, "rmsnorm_forward rstd");
    auto [d_c, d_g] = both(random(nc));
    auto [dx_c, dx_g] = both(random(nc));
    auto [dw_c, dw_g] = both(random(c));
    cpu_.rmsnorm_backward(dx_c, dw_c, d_c, x_c, w_c, r_c, n, c);
    gpu_->rmsnorm_backward(dx_g, dw_g, d_g, x_g, w_g, r_g, n, c);
    check(dx_c, dx_g, nc, kFp32Bound, "rmsnorm_backward dinp");
    check(dw_c, dw_g, c, kFp32Bound, "rmsnorm_backward dweight");
  }
}

TEST_P(CudaOps, Rope) {
  const int n = 40, heads = 3, head_dim = 16;
  const size_t size = static_cast<size_t>(n) * heads * head_dim;
  auto [pos_c, pos_g] = both_ids(ints(n, 4096));
  for (double theta : {10000.0, 500000.0}) {
    auto [x_c, x_g] = both(random(size));
    cpu_.rope_forward(x_c, pos_c, n, heads, head_dim, theta);
    gpu_->rope_forward(x_g, pos_g, n, heads, head_dim, theta);
    check(x_c, x_g, size, kFp32Bound, "rope_forward");
    cpu_.rope_backward(x_c, pos_c, n, heads, head_dim, theta);
    gpu_->rope_backward(x_g, pos_g, n, heads, head_dim, theta);
    check(x_c, x_g, size, kFp32Bound, "rope_backward");
  }
}

TEST_P(CudaOps, Attention) {
  const int batch = 2, seq = 33, heads = 4, kv_heads = 2, head_dim = 16;
  const size_t n = static_cast<size_t>(batch) * seq;
  const size_t qd = n * heads * head_dim, kvd = n * kv_heads * head_dim;
  const size_t att = static_cast<size_t>(batch) * heads * seq * seq;
  auto [q_c, q_g] = both(random(qd));
  auto [k_c, k_g] = both(random(kvd));
  auto [v_c, v_g] = both(random(kvd));
  float *out_c = c_->poisoned(qd), *out_g = g_->poisoned(qd);
  float *att_c = c_->poisoned(att), *att_g = g_->poisoned(att);
  cpu_.attention_forward(out_c, att_c, q_c, k_c, v_c, batch, seq, heads, kv_heads, head_dim);
  gpu_->attention_forward(out_g, att_g, q_g, k_g, v_g, batch, seq, heads, kv_heads, head_dim);
  check(out_c, out_g, qd, bound(), "attention_forward out");
  check(att_c, att_g, att, bound(), "attention_forward att");

  auto [d_c, d_g] = both(random(qd));
  auto [dq_c, dq_g] = both(random(qd));
  auto [dk_c, dk_g] = both(random(kvd));
  auto [dv_c, dv_g] = both(random(kvd));
  float *s_c = c_->poisoned(att), *s_g = g_->poisoned(att);
  cpu_.attention_backward(dq_c, dk_c, dv_c, s_c, d_c, att_c, q_c, k_c, v_c, batch, seq, heads,
                          kv_heads, head_dim);
  gpu_->attention_backward(dq_g, dk_g, dv_g, s_g, d_g, att_g, q_g, k_g, v_g, batch, seq, heads,
                           kv_heads, head_dim);
  check(dq_c, dq_g, qd, bound(), "attention_backward dq");
  check(dk_c, dk_g, kvd, bound(), "attention_backward dk");
  check(dv_c, dv_g, kvd, bound(), "attention_backward dv");
}

TEST_P(CudaOps, CacheWriteAndCachedAttention) {
  const int rows = 3, max_pos = 40, heads = 4, kv_heads = 2, head_dim = 16;
  const int width = kv_heads * head_dim, q_width = heads * head_dim;
  const size_t cache = static_cast<size_t>(rows) * max_pos * width;
  // Entries of one row sit at consecutive positions; the longest reads all 40.
  const std::vector<int> row = {0, 1, 2, 0, 2}, position = {7, 0, 38, 8, 39};
  const int n = static_cast<int>(row.size());
  auto [rows_c, rows_g] = both_ids(row);
  auto [pos_c, pos_g] = both_ids(position);
  auto [kc_c, kc_g] = both(random(cache));
  auto [vc_c, vc_g] = both(random(cache));
  auto [k_c, k_g] = both(random(static_cast<size_t>(n) * width));
  auto [v_c, v_g] = both(random(static_cast<size_t>(n) * width));
  cpu_.cache_write(kc_c, k_c, rows_c, pos_c, n, max_pos, width);
  gpu_->cache_write(kc_g, k_g, rows_g, pos_g, n, max_pos, width);
  cpu_.cache_write(vc_c, v_c, rows_c, pos_c, n, max_pos, width);
  gpu_->cache_write(vc_g, v_g, rows_g, pos_g, n, max_pos, width);
  check(kc_c, kc_g, cache, kFp32Bound, "cache_write");
  auto [q_c, q_g] = both(random(static_cast<size_t>(n) * q_width));
  float* out_c = c_->poisoned(static_cast<size_t>(n) * q_width);
  float* out_g = g_->poisoned(static_cast<size_t>(n) * q_width);
  cpu_.attention_cached(out_c, q_c, kc_c, vc_c, rows_c, pos_c, n, max_pos, heads, kv_heads,
                        head_dim);
  gpu_->attention_cached(out_g, q_g, kc_g, vc_g, rows_g, pos_g, n, max_pos, heads, kv_heads,
                         head_dim);
  check(out_c, out_g, static_cast<size_t>(n) * q_width, kFp32Bound, "attention_cached");
}

TEST_P(CudaOps, SwiGluAddScale) {
  const size_t n = 1000;
  auto [g_c, g_g] = both(random(n, 3.0));
  auto [u_c, u_g] = both(random(n));
  float *h_c = c_->poisoned(n), *h_g = g_->poisoned(n);
  cpu_.swiglu_forward(h_c, g_c, u_c, n);
  gpu_->swiglu_forward(h_g, g_g, u_g, n);
  check(h_c, h_g, n, kFp32Bound, "swiglu_forward");
  auto [dh_c, dh_g] = both(random(n));
  auto [dg_c, dg_g] = both(random(n));
  auto [du_c, du_g] = both(random(n));
  cpu_.swiglu_backward(dg_c, du_c, dh_c, g_c, u_c, n);
  gpu_->swiglu_backward(dg_g, du_g, dh_g, g_g, u_g, n);
  check(dg_c, dg_g, n, kFp32Bound, "swiglu_backward dg");
  check(du_c, du_g, n, kFp32Bound, "swiglu_backward du");
  float *sum_c = c_->poisoned(n), *sum_g = g_->poisoned(n);
  cpu_.add(sum_c, g_c, u_c, n);
  gpu_->add(sum_g, g_g, u_g, n);
  check(sum_c, sum_g, n, kFp32Bound, "add");
  cpu_.scale(sum_c, n, 0.37);
  gpu_->scale(sum_g, n, 0.37);
  check(sum_c, sum_g, n, kFp32Bound, "scale");
}

TEST_P(CudaOps, Objective) {
  const int n = 20, vocab = 1000;
  const size_t size = static_cast<size_t>(n) * vocab;
  std::vector<int> targets = ints(n, vocab);
  targets[3] = -1;  // padding
  std::vector<float> weights = random(n);
  weights[5] = 0;  // a masked token
  auto [t_c, t_g] = both_ids(targets);
  auto [w_c, w_g] = both(weights);
  auto [x_c, x_g] = both(random(size, 3.0));
  float *lp_c = c_->poisoned(n), *lp_g = g_->poisoned(n);
  cpu_.token_logprobs(lp_c, x_c, t_c, n, vocab);
  gpu_->token_logprobs(lp_g, x_g, t_g, n, vocab);
  check(lp_c, lp_g, n, kFp32Bound, "token_logprobs");
  cpu_.weighted_cross_entropy_backward(x_c, t_c, w_c, n, vocab);
  gpu_->weighted_cross_entropy_backward(x_g, t_g, w_g, n, vocab);
  check(x_c, x_g, size, kFp32Bound, "weighted_cross_entropy_backward");
}

TEST_P(CudaOps, Optimizer) {
  const size_t n = 100003;
  auto [x_c, x_g] = both(random(n));
  const double cpu_sum = cpu_.sum_of_squares(x_c, n), gpu_sum = gpu_->sum_of_squares(x_g, n);
  EXPECT_NEAR(gpu_sum, cpu_sum, 1e-10 * cpu_sum) << "seed " << seed_;
  EXPECT_EQ(gpu_->sum_of_squares(x_g, n), gpu_sum) << "a reduction's bits vary";
  auto [g_c, g_g] = both(random(n));
  auto [m_c, m_g] = both(random(n, 0.1));
  std::vector<float> v(n);
  for (float& e : v) e = std::abs(random(1, 0.1)[0]);
  auto [v_c, v_g] = both(v);
  cpu_.adamw(x_c, g_c, m_c, v_c, n, 3e-3, 0.9, 0.95, 1e-8, 0.1, 3);
  gpu_->adamw(x_g, g_g, m_g, v_g, n, 3e-3, 0.9, 0.95, 1e-8, 0.1, 3);
  check(x_c, x_g, n, kFp32Bound, "adamw params");
  check(m_c, m_g, n, kFp32Bound, "adamw m");
  check(v_c, v_g, n, kFp32Bound, "adamw v");
}

TEST_P(CudaOps, PackedMatmulMatchesAndRowsStandAlone) {
  // Vector loads (in % 8 == 0), the scalar path, and more rows than a block's tile.
  for (auto [n, in, out] :
       {std::array{1, 64, 100}, std::array{7, 50, 33}, std::array{130, 96, 40}}) {
    const size_t x_size = static_cast<size_t>(n) * in;
    auto [x_c, x_g] = both(random(x_size));
    auto [w_c, w_g] = both(random(static_cast<size_t>(out) * in, 0.1));
    float* packed_c = c_->poisoned(cpu_.packed_weight_size(in, out));
    float* packed_g = g_->poisoned(gpu_->packed_weight_size(in, out));
    cpu_.pack_weight(packed_c, w_c, in, out);
    gpu_->pack_weight(packed_g, w_g, in, out);
    float* y_c = c_->poisoned(static_cast<size_t>(n) * out);
    float* y_g = g_->poisoned(static_cast<size_t>(n) * out);
    cpu_.matmul_packed(y_c, x_c, packed_c, n, in, out);
    gpu_->matmul_packed(y_g, x_g, packed_g, n, in, out);
    check(y_c, y_g, static_cast<size_t>(n) * out, bound(), "matmul_packed " + std::to_string(in));
    // Each row alone, from an input that starts one value later (so not
    // 16-byte aligned): the same bits as in the batch.
    const std::vector<float> batch = g_->read(y_g, static_cast<size_t>(n) * out);
    std::vector<float> shifted(x_size + 1);
    const std::vector<float> x_host = g_->read(x_g, x_size);
    std::copy(x_host.begin(), x_host.end(), shifted.begin() + 1);
    float* x_shifted = g_->values(shifted);
    float* one = g_->poisoned(out);
    for (int r = 0; r < n; r += std::max(1, n / 5)) {
      gpu_->matmul_packed(one, x_shifted + 1 + static_cast<size_t>(r) * in, packed_g, 1, in, out);
      const std::vector<float> alone = g_->read(one, out);
      EXPECT_TRUE(
          std::equal(alone.begin(), alone.end(), batch.begin() + static_cast<size_t>(r) * out))
          << "row " << r << " of " << n << " differs alone (in " << in << ")";
    }
  }
}

TEST_P(CudaOps, BackwardReductionsAreDeterministic) {
  const int batch = 2, seq = 65, heads = 4, kv_heads = 1, head_dim = 16, vocab = 30, c = 64;
  const size_t n = static_cast<size_t>(batch) * seq;
  const size_t qd = n * heads * head_dim, kvd = n * kv_heads * head_dim;
  const size_t att = static_cast<size_t>(batch) * heads * seq * seq;
  float *q = g_->values(random(qd)), *k = g_->values(random(kvd)), *v = g_->values(random(kvd));
  float *out = g_->poisoned(qd), *p = g_->poisoned(att), *s = g_->poisoned(att);
  float* d = g_->values(random(qd));
  gpu_->attention_forward(out, p, q, k, v, batch, seq, heads, kv_heads, head_dim);
  int* ids = g_->ids(ints(n, vocab));
  float* x = g_->values(random(n * c));
  float* w = g_->values(random(c));
  float* rstd = g_->poisoned(n);
  gpu_->rmsnorm_forward(out, rstd, x, w, static_cast<int>(n), c, 1e-5);
  auto run = [&] {
    float *dq = g_->values(std::vector<float>(qd)), *dk = g_->values(std::vector<float>(kvd));
    float* dv = g_->values(std::vector<float>(kvd));
    gpu_->attention_backward(dq, dk, dv, s, d, p, q, k, v, batch, seq, heads, kv_heads, head_dim);
    float* table = g_->values(std::vector<float>(static_cast<size_t>(vocab) * c));
    gpu_->embedding_backward(table, ids, x, static_cast<int>(n), c);
    float *dx = g_->values(std::vector<float>(n * c)), *dw = g_->values(std::vector<float>(c));
    gpu_->rmsnorm_backward(dx, dw, x, x, w, rstd, static_cast<int>(n), c);
    return std::vector<std::vector<float>>{g_->read(dk, kvd), g_->read(dv, kvd),
                                           g_->read(table, static_cast<size_t>(vocab) * c),
                                           g_->read(dw, c)};
  };
  EXPECT_EQ(run(), run());
}

TEST_P(CudaOps, CudaFailuresAreErrorsWithTheirPlace) {
  try {
    gpu_->alloc(size_t{1} << 50);  // 4 PiB
    FAIL() << "allocated 4 PiB";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("CUDA error at"));
    EXPECT_THAT(e.what(), HasSubstr("cuda_backend.cu:"));
    EXPECT_THAT(e.what(), HasSubstr("cudaMalloc"));
  }
  // The backend still works afterwards.
  float* p = g_->values({1.0f, 2.0f});
  EXPECT_EQ(g_->read(p, 2), (std::vector<float>{1.0f, 2.0f}));
}

INSTANTIATE_TEST_SUITE_P(Precisions, CudaOps,
                         ::testing::Values(CudaPrecision::kFp32, CudaPrecision::kBf16),
                         [](const auto& info) { return cuda_test::name_of(info.param); });

}  // namespace
}  // namespace ponder

// The attention heads' products in registers (layers/kernels/head_products.h): hand values for
// each row range and both layouts of A, random products against a double reference (and the
// columns kColumnsToRow leaves out zero, or untouched when accumulating), the error on shapes
// it does not take, and attention_heads on that path (T, dh multiples of 16, T <= 128) against
// the per-head-copy composition, against the OpenBLAS path, and by finite differences.
#include <cmath>
#include <vector>

#include "attention_reference.h"
#include "helpers.h"
#include "layers/attention.h"
#include "layers/kernels/head_products.h"

using namespace nl;
using kernels::HeadOperand;
using kernels::HeadRange;
using nl::test::rand_tensor;

namespace {

constexpr float kUntouched = -1234.5f;

// The k range and column count the header promises for row i.
struct RowRange {
  int64_t k0, k1, cols;
};
RowRange row_range(HeadRange range, int64_t i, int64_t cols, int64_t depth) {
  const int64_t i0 = i / 16 * 16, i8 = i / 8 * 8;
  switch (range) {
    case HeadRange::kColumnsToRow: return {0, depth, std::min(cols, i0 + 16)};
    case HeadRange::kDepthToRow: return {0, std::min(depth, i8 + 8), cols};
    case HeadRange::kDepthFromRow: return {std::min(depth, i8), depth, cols};
    default: return {0, depth, cols};
  }
}

// A stored as rows × depth (or depth × rows when transposed) with row stride ld >= its width.
struct Case {
  int64_t rows, cols, depth;
  bool transposed;
  HeadRange range;
};

void require_matches_reference(const Case& c, bool accumulate, uint64_t seed) {
  const int64_t lda = (c.transposed ? c.rows : c.depth) + 3, ldb = c.cols + 5, ldc = c.cols + 7;
  const Tensor a = rand_tensor({(c.transposed ? c.depth : c.rows) * lda}, seed, false);
  const Tensor b = rand_tensor({c.depth * ldb}, seed + 1, false);
  const Tensor c0 = rand_tensor({c.rows * ldc}, seed + 2, false);
  auto A = [&](int64_t i, int64_t k) {
    return c.transposed ? a.data()[k * lda + i] : a.data()[i * lda + k];
  };
  std::vector<float> out(c0.data(), c0.data() + c.rows * ldc);
  for (int64_t i = 0; i < c.rows; ++i)  // columns the range leaves out must keep this value
    for (int64_t j = row_range(c.range, i, c.cols, c.depth).cols; j < c.cols; ++j)
      out[i * ldc + j] = kUntouched;
  kernels::head_product(c.rows, c.cols, c.depth, HeadOperand{a.data(), lda, c.transposed},
                        b.data(), ldb, out.data(), ldc, c.range, accumulate);
  double worst = 0;
  for (int64_t i = 0; i < c.rows; ++i) {
    const RowRange r = row_range(c.range, i, c.cols, c.depth);
    for (int64_t j = 0; j < c.cols; ++j) {
      const float got = out[i * ldc + j];
      if (j >= r.cols) {  // kColumnsToRow's rest: zeros, or untouched when accumulating
        REQUIRE(got == (accumulate ? kUntouched : 0.0f));
        continue;
      }
      double want = accumulate ? c0.data()[i * ldc + j] : 0.0;
      for (int64_t k = r.k0; k < r.k1; ++k) want += double(A(i, k)) * b.data()[k * ldb + j];
      worst = std::max(worst, std::abs(got - want));
    }
  }
  REQUIRE(worst < 2e-5);  // |entries| < 1, at most 128 terms: float rounding only
}

const HeadRange kRanges[] = {HeadRange::kAll, HeadRange::kColumnsToRow, HeadRange::kDepthToRow,
                             HeadRange::kDepthFromRow};

}  // namespace

TEST_CASE("head_product: hand values for every range and both layouts",
          "[layers][attention][head_products]") {
  // A = 1 everywhere, B[k, j] = k: C[i, j] = sum of k over row i's range, an exact integer.
  const int64_t n = 48;
  std::vector<float> ones(n * n, 1.0f), b(n * n);
  for (int64_t k = 0; k < n; ++k)
    for (int64_t j = 0; j < n; ++j) b[k * n + j] = static_cast<float>(k);
  auto sum_to = [](int64_t m) { return static_cast<float>(m * (m - 1) / 2); };  // 0 + ... + m-1
  for (bool transposed : {false, true}) {
    INFO("transposed " << transposed);
    std::vector<float> c(n * n, kUntouched);
    kernels::head_product(n, n, n, {ones.data(), n, transposed}, b.data(), n, c.data(), n,
                          HeadRange::kDepthToRow, false);
    REQUIRE(c[0 * n + 5] == sum_to(8));     // rows 0-7: k in [0, 8)
    REQUIRE(c[12 * n + 9] == sum_to(16));   // rows 8-15: k in [0, 16)
    REQUIRE(c[20 * n + 47] == sum_to(24));  // rows 16-23: k in [0, 24)
    REQUIRE(c[47 * n + 0] == sum_to(48));
    kernels::head_product(n, n, n, {ones.data(), n, transposed}, b.data(), n, c.data(), n,
                          HeadRange::kDepthFromRow, true);  // adds k in [i8, 48)
    REQUIRE(c[0 * n + 5] == sum_to(8) + sum_to(48));
    REQUIRE(c[12 * n + 9] == sum_to(16) + sum_to(48) - sum_to(8));
    REQUIRE(c[20 * n + 47] == sum_to(24) + sum_to(48) - sum_to(16));
    REQUIRE(c[47 * n + 0] == sum_to(48) + sum_to(48) - sum_to(40));
    std::fill(c.begin(), c.end(), kUntouched);
    kernels::head_product(n, n, n, {ones.data(), n, transposed}, b.data(), n, c.data(), n,
                          HeadRange::kColumnsToRow, false);
    REQUIRE(c[3 * n + 15] == sum_to(48));
    REQUIRE(c[3 * n + 16] == 0.0f);  // row block 0 computes columns [0, 16), zeros the rest
    REQUIRE(c[31 * n + 31] == sum_to(48));
    REQUIRE(c[31 * n + 32] == 0.0f);
    REQUIRE(c[32 * n + 47] == sum_to(48));
    std::fill(c.begin(), c.end(), kUntouched);  // accumulating, the rest is left as it is
    kernels::head_product(n, n, n, {ones.data(), n, transposed}, b.data(), n, c.data(), n,
                          HeadRange::kColumnsToRow, true);
    REQUIRE(c[3 * n + 15] == kUntouched + sum_to(48));
    REQUIRE(c[3 * n + 16] == kUntouched);
  }
}

TEST_CASE("head_product against a double reference: ranges, layouts, sizes, accumulation",
          "[layers][attention][head_products]") {
  uint64_t seed = 500;
  for (int64_t rows : {16, 64, 128})
    for (int64_t cols : {16, 32, 48, 64, 80, 128})
      for (int64_t depth : {16, 32, 64})
        for (bool transposed : {false, true})
          for (HeadRange range : kRanges)
            for (bool accumulate : {false, true}) {
              INFO("rows " << rows << ", cols " << cols << ", depth " << depth << ", transposed "
                           << transposed << ", range " << static_cast<int>(range)
                           << ", accumulate " << accumulate);
              require_matches_reference({rows, cols, depth, transposed, range}, accumulate,
                                        seed += 3);
            }
}

TEST_CASE("head_product names the shapes it does not take", "[layers][attention][head_products][errors]") {
  std::vector<float> x(64 * 64);
  REQUIRE_FALSE(kernels::head_product_fits(16, 24, 16));
  REQUIRE(kernels::head_product_fits(16, 32, 48));
  REQUIRE_THROWS_MENTIONING(kernels::head_product(16, 24, 16, {x.data(), 16}, x.data(), 24,
                                                  x.data(), 24, HeadRange::kAll, false),
                            "head_product", "cols 24");
}

TEST_CASE("attention_heads in registers agrees with the composition and with OpenBLAS",
          "[layers][attention][fused][head_products]") {
  // T = 32, 2 heads of dh = 16: the in-register path. Padding masks the last 5 keys of the
  // second sequence.
  std::vector<float> valid(64, 1.0f);
  for (int64_t t = 27; t < 32; ++t) valid[32 + t] = 0.0f;
  const Tensor kpm = Tensor::from_vector(valid, {2, 32});
  for (bool causal : {false, true})
    for (bool padded : {false, true}) {
      INFO("causal " << causal << ", padded " << padded);
      const Tensor x = rand_tensor({2, 32, 3 * 32}, 140 + causal + 2 * padded, false);
      const Tensor w = rand_tensor({2, 32, 32}, 150, false);
      auto run = [&](bool registers, Tensor& grad) {
        set_attention_head_kernels(registers);
        Tensor a = x.detach().clone();
        a.requires_grad_(true);
        Tensor y = attention_heads(a, 2, padded ? kpm : Tensor(), causal);
        sum(mul(y, w)).backward();
        set_attention_head_kernels(true);
        grad = a.grad();
        return y.detach();
      };
      Tensor g_regs, g_blas;
      const Tensor y_regs = run(true, g_regs), y_blas = run(false, g_blas);
      REQUIRE(nl::test::max_abs_diff(y_regs, y_blas) < 1e-5);
      REQUIRE(nl::test::max_abs_diff(g_regs, g_blas) < 1e-5);
      // And against split_heads / matmul / masked_fill / softmax / merge_heads.
      const Tensor fused = nl::test::require_matches_composition(x, padded ? kpm : Tensor(),
                                                                 causal, w);
      REQUIRE(nl::test::max_abs_diff(fused, y_regs) == 0.0);  // that check ran in registers too
    }
}

TEST_CASE("attention_heads in registers writes dQ, dK, dV over the saved projection only when "
          "nothing else needs it", "[layers][attention][fused][head_products][autograd]") {
  // The projection is an intermediate (x * 1, exact) that only the op holds: its gradient goes
  // into the projection's own buffer (the probe below sees that buffer arrive), with the values
  // a leaf projection gets (no buffer taken there).
  const Tensor x0 = rand_tensor({2, 32, 3 * 32}, 170, false);
  const Tensor w = rand_tensor({2, 32, 32}, 171, false);
  for (bool causal : {false, true}) {
    INFO("causal " << causal);
    Tensor leaf = x0.detach().clone();
    leaf.requires_grad_(true);
    sum(mul(attention_heads(leaf, 2, Tensor(), causal), w)).backward();

    Tensor x = x0.detach().clone();
    x.requires_grad_(true);
    const float* arrived = nullptr;
    const float* projection = nullptr;
    Tensor loss;
    {  // the projection's last handle outside the op goes with this scope
      Tensor h = mul_scalar(x, 1.0f);
      Tensor probed = h.detach().clone();  // an identity that notes where its gradient lives
      record(probed, "probe", {h}, [&](const Tensor& d, GradSink& g) {
        arrived = d.data();
        g.add(0, d);
      });
      projection = probed.data();
      loss = sum(mul(attention_heads(probed, 2, Tensor(), causal), w));
    }
    loss.backward();
    REQUIRE(arrived == projection);
    REQUIRE(nl::test::max_abs_diff(x.grad(), leaf.grad()) == 0.0);
  }
  SECTION("a projection the caller keeps is left as it was") {
    Tensor x = x0.detach().clone();
    x.requires_grad_(true);
    Tensor qkv = mul_scalar(x, 1.0f);
    sum(mul(attention_heads(qkv, 2, Tensor(), true), w)).backward();
    REQUIRE(qkv.to_vector() == x0.to_vector());
  }
  SECTION("a retained graph keeps the projection for the next backward") {
    Tensor x = x0.detach().clone();
    x.requires_grad_(true);
    Tensor loss = sum(mul(attention_heads(mul_scalar(x, 1.0f), 2, Tensor(), true), w));
    loss.backward(true);
    const std::vector<float> once = x.grad().to_vector();
    loss.backward();
    const std::vector<float> twice = x.grad().to_vector();
    for (size_t k = 0; k < once.size(); ++k) REQUIRE(twice[k] == 2.0f * once[k]);
  }
}

TEST_CASE("attention_heads in registers: gradients by finite differences",
          "[layers][attention][fused][head_products][gradcheck]") {
  std::vector<float> valid(32, 1.0f);
  valid[2] = valid[17] = 0.0f;  // padded keys inside the first and the second row block
  const Tensor kpm = Tensor::from_vector(valid, {1, 32});
  for (bool causal : {false, true}) {
    INFO("causal " << causal);
    REQUIRE_GRADCHECK(
        [&](const std::vector<Tensor>& in) { return attention_heads(in[0], 1, kpm, causal); },
        std::vector<Tensor>{rand_tensor({1, 32, 3 * 16}, 160 + causal)});
  }
}

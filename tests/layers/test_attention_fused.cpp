// The fused attention ops: scaled_masked_softmax (scale + causal/padding mask + softmax in one
// pass each way) and attention_heads (all heads through strided GEMMs, no head copies), each
// against the unfused composition of split_heads / matmul / masked_fill / softmax /
// merge_heads, by hand values, by finite differences, and on fully masked rows; many heads
// give the same bits at 1 and 2 threads; causal attention from T = 128 on (the triangle in
// blocks) likewise.
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "attention_reference.h"
#include "helpers.h"
#include "layers/attention.h"
#include "layers/kernels/masked_softmax.h"

using namespace nl;
using nl::test::rand_tensor;
using nl::test::require_matches_composition;
using nl::test::unfused_attention;
using nl::test::unfused_softmax;

namespace {

const Tensor kPad = Tensor::from_vector({1, 1, 1, 1, 1, 1, 0, 0}, {2, 4});

// attention_heads(x) and d sum(y * w) / dx at `threads` threads (the setting restored after).
struct HeadsRun {
  Tensor out, grad;
};
HeadsRun attention_at_threads(const Tensor& x, const Tensor& w, int64_t heads, bool causal,
                              int threads) {
  nl::ThreadCountGuard restore_threads;
  set_num_threads(threads);
  Tensor a = x.detach().clone();
  a.requires_grad_(true);
  Tensor y = attention_heads(a, heads, Tensor(), causal);
  sum(mul(y, w)).backward();
  return {y.detach(), a.grad()};
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.numel() == b.numel() && std::memcmp(a.data(), b.data(), a.numel() * sizeof(float)) == 0;
}

}  // namespace

TEST_CASE("scaled_masked_softmax matches hand values", "[layers][attention][fused]") {
  // scale 2, causal: row 0 sees only key 0; row 1 gets softmax(0, ln 3) = (1/4, 3/4).
  Tensor s = Tensor::from_vector({5.0f, 7.0f, 0.0f, std::log(3.0f) / 2.0f}, {1, 2, 2});
  Tensor y = scaled_masked_softmax(s, Tensor(), 1, true, 2.0f);
  CHECK(y.at({0, 0, 0}) == 1.0f);
  CHECK(y.at({0, 0, 1}) == 0.0f);
  CHECK(y.at({0, 1, 0}) == Approx(0.25f).epsilon(1e-6));
  CHECK(y.at({0, 1, 1}) == Approx(0.75f).epsilon(1e-6));
  // padding: key 1 of the only batch is padded -> all weight on key 0
  Tensor z = scaled_masked_softmax(s, Tensor::from_vector({1, 0}, {1, 2}), 1, false, 1.0f);
  CHECK(z.to_vector() == std::vector<float>{1, 0, 1, 0});
}

TEST_CASE("scaled_masked_softmax agrees with scale, masked_fill and softmax",
          "[layers][attention][fused]") {
  for (bool causal : {false, true})
    for (bool padded : {false, true})
      for (int64_t T : {4, 37}) {  // 37: rows longer than the 16-lane sums, with a tail
        INFO("causal " << causal << ", padded " << padded << ", T " << T);
        Tensor kpm = Tensor::ones({2, T});
        if (padded) kpm.set({1, T - 1}, 0.0f), kpm.set({0, 0}, 0.0f);
        Tensor s = rand_tensor({2 * 3, T, T}, 40 + T, false, -6.0f, 6.0f);
        const Tensor ref = unfused_softmax(s, kpm, 3, causal, 0.7f);
        const Tensor got = scaled_masked_softmax(s, kpm, 3, causal, 0.7f);
        REQUIRE(nl::test::max_abs_diff(got, ref) < 1e-6);
      }
}

TEST_CASE("scaled_masked_softmax gradients by finite differences", "[layers][attention][fused][gradcheck]") {
  for (bool causal : {false, true}) {
    INFO("causal " << causal);
    REQUIRE_GRADCHECK(
        [&](const std::vector<Tensor>& in) {
          return scaled_masked_softmax(in[0], kPad, 2, causal, 0.5f);
        },
        std::vector<Tensor>{rand_tensor({4, 4, 4}, 50 + causal)});
  }
}

TEST_CASE("scaled_masked_softmax gives fully masked rows zeros and zero gradient",
          "[layers][attention][fused]") {
  Tensor kpm = Tensor::from_vector({1, 1, 1, 0, 0, 0}, {2, 3});  // batch 1: every key padded
  Tensor s = rand_tensor({2, 3, 3}, 60);
  Tensor y = scaled_masked_softmax(s, kpm, 1, true, 1.0f);
  for (int64_t t = 0; t < 3; ++t)
    for (int64_t j = 0; j < 3; ++j) {
      CHECK(y.at({1, t, j}) == 0.0f);
      if (j > t) CHECK(y.at({0, t, j}) == 0.0f);  // causal in batch 0
    }
  sum(mul(y, rand_tensor({2, 3, 3}, 61, false))).backward();
  for (int64_t t = 0; t < 3; ++t)
    for (int64_t j = 0; j < 3; ++j) {
      CHECK(s.grad().at({1, t, j}) == 0.0f);
      CHECK(std::isfinite(s.grad().at({0, t, j})));
    }
}

TEST_CASE("causal masked softmax never reads scores or dy above the diagonal",
          "[layers][attention][fused]") {
  // Under the causal triangle those entries are never computed: NaN there must not leak. Row
  // lengths 1..37 cover whole 16-lane blocks, padded blocks and the last block cut at S.
  const int64_t N = 2, T = 37, S = 37;
  Tensor s = rand_tensor({N, T, S}, 70, false, -4.0f, 4.0f);
  Tensor dy = rand_tensor({N, T, S}, 71, false, -1.0f, 1.0f);
  Tensor s_nan = s.clone(), dy_nan = dy.clone();
  for (int64_t n = 0; n < N; ++n)
    for (int64_t t = 0; t < T; ++t)
      for (int64_t j = t + 1; j < S; ++j) {
        s_nan.set({n, t, j}, std::numeric_limits<float>::quiet_NaN());
        dy_nan.set({n, t, j}, std::numeric_limits<float>::quiet_NaN());
      }
  kernels::SoftmaxMask mask;
  mask.causal = true;
  Tensor y = Tensor::empty({N, T, S}), y_nan = Tensor::empty({N, T, S});
  kernels::masked_softmax_forward(s.data(), y.data(), N, T, S, 0.5f, mask);
  kernels::masked_softmax_forward(s_nan.data(), y_nan.data(), N, T, S, 0.5f, mask);
  REQUIRE(y_nan.to_vector() == y.to_vector());
  for (bool accumulate : {false, true}) {
    Tensor ds = Tensor::ones({N, T, S}), ds_nan = Tensor::ones({N, T, S});
    kernels::masked_softmax_backward(y.data(), dy.data(), ds.data(), N, T, S, 0.5f, accumulate,
                                     true);
    kernels::masked_softmax_backward(y.data(), dy_nan.data(), ds_nan.data(), N, T, S, 0.5f,
                                     accumulate, true);
    INFO("accumulate " << accumulate);
    REQUIRE(ds_nan.to_vector() == ds.to_vector());
    // above the diagonal: untouched (1) when accumulating, 0 when writing
    REQUIRE(ds.at({1, 3, 20}) == (accumulate ? 1.0f : 0.0f));
  }
}

TEST_CASE("masked softmax: the 16-row block path gives the row path's bits",
          "[layers][attention][fused]") {
  // S a multiple of 16 takes the block path; T = 37 leaves groups of fewer than 16 rows at
  // every head's end; the padding mask masks some keys and, in batch 1, every key (all-zero
  // rows); scores above the diagonal are NaN under the causal mask (never read).
  for (int64_t S : {16, 48, 64, 128})
    for (bool causal : {false, true})
      for (bool padded : {false, true}) {
        INFO("S " << S << ", causal " << causal << ", padded " << padded);
        const int64_t B = 2, heads = 3, N = B * heads, T = causal ? S : 37;
        Tensor s = rand_tensor({N, T, S}, 90 + S, false, -30.0f, 30.0f);
        std::vector<float> valid(B * S, 1.0f);
        for (int64_t j = 0; j < S; ++j) {
          if (j % 5 == 3) valid[j] = 0.0f;
          valid[S + j] = 0.0f;
        }
        kernels::SoftmaxMask mask;
        mask.causal = causal;
        mask.heads = heads;
        mask.key_valid = padded ? valid.data() : nullptr;
        if (causal)
          for (int64_t n = 0; n < N; ++n)
            for (int64_t t = 0; t < T; ++t)
              for (int64_t j = t + 1; j < S; ++j)
                s.set({n, t, j}, std::numeric_limits<float>::quiet_NaN());
        Tensor blocks = Tensor::empty({N, T, S}), by_rows = Tensor::empty({N, T, S});
        kernels::masked_softmax_forward(s.data(), blocks.data(), N, T, S, 0.3f, mask);
        kernels::masked_softmax_forward_by_rows(s.data(), by_rows.data(), N, T, S, 0.3f, mask);
        REQUIRE(std::memcmp(blocks.data(), by_rows.data(), sizeof(float) * N * T * S) == 0);
        Tensor in_place = s.clone();  // s == y, as attention_heads calls it
        kernels::masked_softmax_forward(in_place.data(), in_place.data(), N, T, S, 0.3f, mask);
        REQUIRE(std::memcmp(in_place.data(), by_rows.data(), sizeof(float) * N * T * S) == 0);
        if (padded) REQUIRE(by_rows.at({heads, 0, 0}) == 0.0f);  // batch 1: every key masked
      }
}

TEST_CASE("attention_heads agrees with the per-head-copy composition, values and gradients",
          "[layers][attention][fused]") {
  for (bool causal : {false, true})
    for (bool padded : {false, true}) {
      INFO("causal " << causal << ", padded " << padded);
      require_matches_composition(rand_tensor({2, 4, 3 * 6}, 70 + causal + 2 * padded),
                                  padded ? kPad : Tensor(), causal,
                                  rand_tensor({2, 4, 6}, 80, false));
    }
}

TEST_CASE("attention_heads gradients by finite differences", "[layers][attention][fused][gradcheck]") {
  for (bool causal : {false, true}) {
    INFO("causal " << causal);
    REQUIRE_GRADCHECK(
        [&](const std::vector<Tensor>& in) { return attention_heads(in[0], 2, kPad, causal); },
        std::vector<Tensor>{rand_tensor({2, 4, 12}, 90 + causal)});
  }
}

// From T = 128 on, causal attention multiplies only the triangle each block of 64 query rows can
// see (layers/attention_core.cpp, triangle_block_rows). T = 128 is two whole blocks, T = 136
// ends in a block of 8 rows; the padded case masks the last keys of the second sequence.
TEST_CASE("causal attention_heads at T >= 128 (the triangle in blocks) agrees with the composition",
          "[layers][attention][fused][triangle]") {
  for (int64_t T : {128, 136})
    for (bool padded : {false, true}) {
      INFO("T " << T << ", padded " << padded);
      std::vector<float> valid(2 * T, 1.0f);
      for (int64_t t = T - 20; t < T; ++t) valid[T + t] = 0.0f;
      const Tensor kpm = padded ? Tensor::from_vector(valid, {2, T}) : Tensor();
      const Tensor a = rand_tensor({2, T, 3 * 8}, 100 + T + padded, false);
      const Tensor fused =
          require_matches_composition(a, kpm, true, rand_tensor({2, T, 8}, 110 + T, false));
      // The output at t does not see later positions: changing the last position's q, k, v
      // leaves every earlier output bit for bit.
      Tensor c = a.detach().clone();
      for (int64_t j = 0; j < 3 * 8; ++j) c.data()[(T - 1) * 3 * 8 + j] += 1.0f;
      Tensor moved = attention_heads(c, 2, kpm, true);
      REQUIRE(std::memcmp(moved.data(), fused.data(), (T - 1) * 8 * sizeof(float)) == 0);
    }
}

TEST_CASE("causal attention_heads: the triangle's blocks against whole products, and the switch",
          "[layers][attention][fused][triangle]") {
  REQUIRE(causal_triangle_min_len() == 128);
  const Tensor x = rand_tensor({2, 200, 3 * 16}, 130, false);
  const Tensor w = rand_tensor({2, 200, 16}, 131, false);
  set_causal_triangle_min_len(std::numeric_limits<int64_t>::max());  // whole T×T products
  const HeadsRun whole = attention_at_threads(x, w, 2, true, 1);
  set_causal_triangle_min_len(128);
  const HeadsRun blocks = attention_at_threads(x, w, 2, true, 1);
  REQUIRE(nl::test::max_abs_diff(whole.out, blocks.out) < 1e-6);
  REQUIRE(nl::test::max_abs_diff(whole.grad, blocks.grad) < 1e-6);
  REQUIRE_FALSE(same_bits(whole.grad, blocks.grad));  // the switch did change the computation
  REQUIRE_THROWS_MENTIONING(set_causal_triangle_min_len(0), "set_causal_triangle_min_len", "0");
}

TEST_CASE("causal attention_heads at T >= 128: gradients by finite differences",
          "[layers][attention][fused][triangle][gradcheck]") {
  std::vector<float> valid(130, 1.0f);
  valid[3] = valid[100] = 0.0f;  // padded keys inside the first and the last block
  const Tensor kpm = Tensor::from_vector(valid, {1, 130});
  REQUIRE_GRADCHECK(
      [&](const std::vector<Tensor>& in) { return attention_heads(in[0], 2, kpm, true); },
      std::vector<Tensor>{rand_tensor({1, 130, 12}, 120)});
}

TEST_CASE("fused attention ops name the op and the bad shape", "[layers][attention][fused][errors]") {
  REQUIRE_THROWS_MENTIONING(attention_heads(Tensor::zeros({2, 4, 10}), 2, Tensor(), false),
                            "attention_heads", "(2, 4, 10)");
  REQUIRE_THROWS_MENTIONING(attention_heads(Tensor::zeros({2, 4, 12}), 2, Tensor::ones({2, 3}), false),
                            "key_padding_mask", "(2, 3)");
  REQUIRE_THROWS_MENTIONING(scaled_masked_softmax(Tensor::zeros({3, 4, 4}), Tensor(), 2, false, 1.0f),
                            "scaled_masked_softmax", "(3, 4, 4)");
  REQUIRE_THROWS_MENTIONING(scaled_masked_softmax(Tensor::zeros({2, 4, 4}), Tensor::ones({2, 3}), 1, false, 1.0f),
                            "key_padding_mask", "(2, 3)");
}


TEST_CASE("attention_heads with many small heads: the same bits at 1 and 2 threads", "[layers][attention][fused][threads]") {
  // 32 heads of T = 64, dh = 32: small enough GEMMs for the heads to run side by side on the
  // pool at 2 threads (layers/attention_core.cpp, for_each_head).
  const Tensor x = rand_tensor({8, 64, 3 * 128}, 95, false);
  const Tensor w = rand_tensor({8, 64, 128}, 96, false);
  const HeadsRun one = attention_at_threads(x, w, 4, true, 1), two = attention_at_threads(x, w, 4, true, 2);
  REQUIRE(same_bits(one.out, two.out));
  REQUIRE(same_bits(one.grad, two.grad));
  // And the values are attention's: against the per-head-copy composition.
  Tensor b = x.detach().clone();
  REQUIRE(nl::test::max_abs_diff(one.out, unfused_attention(b, 4, Tensor(), true)) < 1e-5);
}

TEST_CASE("attention_heads with large heads, at least as many as threads: the same bits at 1 and 2 threads",
          "[layers][attention][fused][threads]") {
  // 4 heads of T = 256, dh = 64: each whole product (4 M multiply-adds) and the triangle's
  // 64-row blocks (up to 1 M) would be split over the pool if the heads ran one after the other;
  // side by side, each runs whole on one thread (layers/attention_core.cpp, for_each_head).
  const Tensor x = rand_tensor({2, 256, 3 * 128}, 97, false);
  const Tensor w = rand_tensor({2, 256, 128}, 98, false);
  for (bool causal : {false, true}) {
    INFO("causal " << causal);
    const HeadsRun one = attention_at_threads(x, w, 2, causal, 1);
    const HeadsRun two = attention_at_threads(x, w, 2, causal, 2);
    REQUIRE(same_bits(one.out, two.out));
    REQUIRE(same_bits(one.grad, two.grad));
  }
}

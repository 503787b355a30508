// LayerNorm forward + backward kernels, the naive reference, and layer_norm() (see the header).
#include "layers/kernels/layernorm.h"

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "core/autograd.h"
#include "core/error.h"
#include "core/simd.h"
#include "core/threading.h"

namespace nl {
namespace kernels {
namespace {

using simd::Vf16;
using simd::kWidth;

// Per-row statistics as the kernels use them: x - mean is formed as (x - mean_hi) - mean_lo.
struct RowStats {
  float mean_hi, mean_lo, rstd;
};

// Row statistics in float, two passes in 16-float vectors: m = the float mean, then the
// deviations d = x - m with their sum s1 and square sum s2. mean = m + s1/C exactly as the
// hi/lo pair (m, s1/C), var = s2/C - (s1/C)^2: s1 only corrects m's rounding, so nothing large
// cancels, and x - m is exact when x is near m (Sterbenz), which keeps rows of mean 1e4 and std
// 1e-2 accurate (tests/layers/test_layernorm.cpp). Float lanes instead of double halve the
// vector work and drop the conversions; s2 goes through about C/32 + 5 float roundings (a
// relative error below 2.2e-6 at C = 1024).

// Pass 1: the float mean of one row.
float row_mean_float(const float* x, int64_t C) {
  Vf16 a0{}, a1{}, a2{}, a3{};
  int64_t j = 0;
  for (; j + 4 * kWidth <= C; j += 4 * kWidth) {
    a0 += simd::load(x + j);
    a1 += simd::load(x + j + kWidth);
    a2 += simd::load(x + j + 2 * kWidth);
    a3 += simd::load(x + j + 3 * kWidth);
  }
  for (; j + kWidth <= C; j += kWidth) a0 += simd::load(x + j);
  float tail = 0.0f;
  for (; j < C; ++j) tail += x[j];
  return (simd::hsum((a0 + a1) + (a2 + a3)) + tail) * (1.0f / static_cast<float>(C));
}

// Pass 2: s1 = Σ (x - m), s2 = Σ (x - m)^2 over one row.
void row_deviation_sums(const float* x, int64_t C, float m, float* s1, float* s2) {
  const Vf16 vm = simd::splat(m);
  Vf16 s1a{}, s1b{}, s2a{}, s2b{};
  int64_t j = 0;
  for (; j + 2 * kWidth <= C; j += 2 * kWidth) {
    const Vf16 d0 = simd::load(x + j) - vm, d1 = simd::load(x + j + kWidth) - vm;
    s1a += d0;
    s1b += d1;
    s2a += d0 * d0;
    s2b += d1 * d1;
  }
  for (; j + kWidth <= C; j += kWidth) {
    const Vf16 d = simd::load(x + j) - vm;
    s1a += d;
    s2a += d * d;
  }
  float t1 = 0.0f, t2 = 0.0f;
  for (; j < C; ++j) {
    const float d = x[j] - m;
    t1 += d;
    t2 += d * d;
  }
  *s1 = simd::hsum(s1a + s1b) + t1;
  *s2 = simd::hsum(s2a + s2b) + t2;
}

// Statistics are computed for blocks of rows, each pass as its own loop over the block: the
// rows' dependency chains (a horizontal sum, then the next pass, then a sqrt and a division)
// are independent, so the core overlaps them instead of waiting on one row's. A block is at
// most kStatRows rows and at most kStatBlockElems elements (16 KB: it is read three times,
// statistics twice and normalising once, so it should stay in L1).
constexpr int kStatRows = 16;
constexpr int64_t kStatBlockElems = 4096;
int64_t stat_block_rows(int64_t C) {
  return std::clamp<int64_t>(kStatBlockElems / C, 1, kStatRows);
}
// Streamed rows (from DRAM: stream_output) take their statistics 4 KiB of rows at a time (one
// row at C = 1024), and the output pass asks for the rows 8 KiB ahead (at least the next block):
// with 16 KiB blocks and the next block asked for, each block's statistics waited on DRAM with
// nothing requested beyond it. Measured (twenty-eighth round, 1 thread, alternated call by
// call): forward 8192×1024 one-row blocks 1.16x, asking two rows ahead 1.08x more (three 0.85x,
// four 0.82-0.86x, six 0.78x of two); 8192×512 two-row blocks, four rows ahead 1.03-1.08x;
// 8192×256 four-row blocks, eight ahead 1.05x. The bench's layernorm_fwd/8192x1024, builds
// alternated: 1.37x at 1 thread, 1.15x at 2.
constexpr int64_t kStreamStatBytes = 4096;
constexpr int64_t kStreamAheadBytes = 8192;
int64_t stream_stat_block_rows(int64_t C) {
  return std::clamp<int64_t>(kStreamStatBytes / 4 / C, 1, kStatRows);
}
int64_t stream_ahead_rows(int64_t C, int64_t block) {
  return std::max<int64_t>(block, kStreamAheadBytes / 4 / C);
}

// The statistics of n <= kStatRows rows x[0..n) (row stride C): mean_hi, mean_lo, rstd.
void block_stats(const float* x, int64_t C, int n, float eps, float* mean_hi, float* mean_lo,
                 float* rstd) {
  float m[kStatRows], s1[kStatRows], s2[kStatRows];
  double var[kStatRows];
  for (int k = 0; k < n; ++k) m[k] = row_mean_float(x + k * C, C);
  for (int k = 0; k < n; ++k) row_deviation_sums(x + k * C, C, m[k], s1 + k, s2 + k);
  const double inv_c = 1.0 / static_cast<double>(C);
  for (int k = 0; k < n; ++k) {
    if (std::isfinite(s1[k]) && std::isfinite(s2[k])) {
      const double lo = static_cast<double>(s1[k]) * inv_c;
      mean_hi[k] = m[k];
      mean_lo[k] = static_cast<float>(lo);
      var[k] = std::max(0.0, static_cast<double>(s2[k]) * inv_c - lo * lo);
    } else {
      // A float sum overflowed (|x| near 1e19 and above) or the row holds inf/NaN: the double
      // two-pass moments.
      const Moments mo = row_moments(x + k * C, C);
      split_mean(mo.mean, mean_hi + k, mean_lo + k);
      var[k] = mo.var;
    }
  }
  // var >= 0 and eps > 0 keep this finite on a constant row (x̂ = 0 there, y = beta).
  for (int k = 0; k < n; ++k)
    rstd[k] = static_cast<float>(1.0 / std::sqrt(var[k] + static_cast<double>(eps)));
}

// y[j] = ((x[j] - mh) - ml) * rs * g[j] + b[j] for one row; kG/kB select the affine parts.
// kStream: y is streamed past the caches and next_x (the row the next statistics pass reads) is
// prefetched (see stream_min_bytes in norm_common.h).
template <bool kG, bool kB, bool kStream>
void forward_row(const float* x, const float* g, const float* b, const RowStats& st, int64_t C,
                 float* y, const float* next_x) {
  const float mh = st.mean_hi, ml = st.mean_lo, rs = st.rstd;
  const Vf16 vmh = simd::splat(mh), vml = simd::splat(ml), vrs = simd::splat(rs);
  int64_t j = 0;
  for (; j + kWidth <= C; j += kWidth) {
    Vf16 v = ((simd::load(x + j) - vmh) - vml) * vrs;
    if constexpr (kG) v *= simd::load(g + j);
    if constexpr (kB) v += simd::load(b + j);
    if constexpr (kStream) {
      if (next_x) simd::prefetch(next_x + j);
      simd::store_stream(y + j, v);
    } else {
      simd::store(y + j, v);
    }
  }
  for (; j < C; ++j) {
    float v = ((x[j] - mh) - ml) * rs;
    if constexpr (kG) v *= g[j];
    if constexpr (kB) v += b[j];
    y[j] = v;
  }
}

// Pass 2 of one row: dx = rs * (dŷ - a - x̂ b). next_x / next_dy (or null): the rows the next
// pass 1 will read, asked for one line per vector while this pass works from L1.
template <bool kG, OutStore kMode>
void dx_row(const float* xr, const float* dyr, const float* g, const RowStats& st, float a,
            float b, int64_t C, float* dxr, const float* next_x, const float* next_dy) {
  const Vf16 vmh = simd::splat(st.mean_hi), vml = simd::splat(st.mean_lo);
  const Vf16 vrs = simd::splat(st.rstd), va = simd::splat(a), vb = simd::splat(b);
  int64_t j = 0;
  for (; j + kWidth <= C; j += kWidth) {
    if (next_x) {
      simd::prefetch(next_x + j);
      simd::prefetch(next_dy + j);
    }
    const Vf16 xh = ((simd::load(xr + j) - vmh) - vml) * vrs;
    Vf16 d = simd::load(dyr + j);
    if constexpr (kG) d *= simd::load(g + j);
    const Vf16 v = vrs * (d - va - xh * vb);
    if constexpr (kMode == OutStore::kStream) simd::store_stream(dxr + j, v);
    else if constexpr (kMode == OutStore::kAdd) simd::store(dxr + j, simd::load(dxr + j) + v);
    else simd::store(dxr + j, v);
  }
  for (; j < C; ++j) {  // kStream rows have no tail (C % kWidth == 0)
    const float xh = ((xr[j] - st.mean_hi) - st.mean_lo) * st.rstd;
    const float d = kG ? dyr[j] * g[j] : dyr[j];
    const float v = st.rstd * (d - a - xh * b);
    dxr[j] = kMode == OutStore::kAdd ? dxr[j] + v : v;
  }
}

// Pass 2 of kRows rows together when dx streams (rows from DRAM): dx as dx_row computes it,
// and the rows' dy*x̂ / dy into the dgamma/dbeta partials, which pass 1 then leaves alone, so
// pass 1 — the pass that waits on DRAM — only loads and sums. The partials get the same terms
// in the same order as from pass 1 (the same bits). The pattern on the twenty-third round's host
// (scripts/ln-backward-structures.cpp, 8192×1024, 1 thread): 4.68 → 3.64 ms; the kernel's
// fwd+bwd 1.07-1.10x faster (docs/performance-history.md, twenty-fourth round). Rows before
// kDxFrom only add their partials (their dx was written by an earlier pass: streamed_pair).
template <int kRows, int kDxFrom, bool kG>
void dx_rows_with_partials(const float* const (&x)[kRows], const float* const (&dy)[kRows],
                           const float* g, const RowStats (&st)[kRows], const float (&a)[kRows],
                           const float (&b)[kRows], int64_t C, float* pdg, float* pdb,
                           float* const (&dx)[kRows], const float* const (&next_x)[kRows],
                           const float* const (&next_dy)[kRows]) {
  Vf16 vmh[kRows], vml[kRows], vrs[kRows], va[kRows], vb[kRows];
  for (int i = 0; i < kRows; ++i) {
    vmh[i] = simd::splat(st[i].mean_hi);
    vml[i] = simd::splat(st[i].mean_lo);
    vrs[i] = simd::splat(st[i].rstd);
    va[i] = simd::splat(a[i]);
    vb[i] = simd::splat(b[i]);
  }
  int64_t j = 0;
  for (; j + kWidth <= C; j += kWidth) {
    Vf16 pg{}, pb{};
    for (int i = 0; i < kRows; ++i) {
      if (next_x[i]) {  // into L2: see kPartialsInPass2MinC
        simd::prefetch_l2(next_x[i] + j);
        simd::prefetch_l2(next_dy[i] + j);
      }
      const Vf16 xh = ((simd::load(x[i] + j) - vmh[i]) - vml[i]) * vrs[i];
      const Vf16 dyv = simd::load(dy[i] + j);
      if (i >= kDxFrom) {  // a constant in the unrolled loop
        Vf16 d = dyv;
        if constexpr (kG) d *= simd::load(g + j);
        simd::store_stream(dx[i] + j, vrs[i] * (d - va[i] - xh * vb[i]));
      }
      pg += dyv * xh;
      pb += dyv;
    }
    simd::store(pdg + j, simd::load(pdg + j) + pg);
    simd::store(pdb + j, simd::load(pdb + j) + pb);
  }
  for (; j < C; ++j) {  // streamed rows have no tail (C % kWidth == 0); kept for safety
    float pg = 0.0f, pb = 0.0f;
    for (int i = 0; i < kRows; ++i) {
      const float xh = ((x[i][j] - st[i].mean_hi) - st[i].mean_lo) * st[i].rstd;
      const float d = kG ? dy[i][j] * g[j] : dy[i][j];
      if (i >= kDxFrom) dx[i][j] = st[i].rstd * (d - a[i] - xh * b[i]);
      pg += dy[i][j] * xh;
      pb += dy[i][j];
    }
    pdg[j] += pg;
    pdb[j] += pb;
  }
}

// kRows (1 or 2) consecutive rows of the backward that share gamma and the dgamma/dbeta
// partials (two rows per sweep halve the partials' loads and stores). Pass 1 per row:
// a = mean(dŷ), b = mean(dŷ x̂) in 16-float vectors; the rows' dy*x̂ / dy go into the
// partials, unless kPartialsInPass2. Pass 2: per row (dx_row), dx written, added or streamed;
// with kPartialsInPass2 (streamed rows of kPartialsInPass2MinC and more) both rows in one sweep
// that also adds the partials (dx_rows_with_partials). next_x / next_dy as in dx_row.
template <int kRows, OutStore kMode, bool kG, bool kParams, bool kPartialsInPass2>
void backward_rows(const float* const (&dy)[kRows], const float* const (&x)[kRows],
                   const RowStats (&st)[kRows], const float* g, int64_t C, float* pdg, float* pdb,
                   float* const (&dx)[kRows], const float* const (&next_x)[kRows],
                   const float* const (&next_dy)[kRows]) {
  Vf16 vmh[kRows], vml[kRows], vrs[kRows], sa[kRows], sb[kRows];
  float ta[kRows], tb[kRows];
  for (int i = 0; i < kRows; ++i) {
    vmh[i] = simd::splat(st[i].mean_hi);
    vml[i] = simd::splat(st[i].mean_lo);
    vrs[i] = simd::splat(st[i].rstd);
    sa[i] = sb[i] = Vf16{};
    ta[i] = tb[i] = 0.0f;
  }
  constexpr bool kPartialsHere = kParams && !kPartialsInPass2;
  int64_t j = 0;
  for (; j + kWidth <= C; j += kWidth) {
    Vf16 pg{}, pb{};
    for (int i = 0; i < kRows; ++i) {
      const Vf16 xh = ((simd::load(x[i] + j) - vmh[i]) - vml[i]) * vrs[i];
      const Vf16 dyv = simd::load(dy[i] + j);
      Vf16 d = dyv;
      if constexpr (kG) d *= simd::load(g + j);
      sa[i] += d;
      sb[i] += d * xh;
      if constexpr (kPartialsHere) {
        pg += dyv * xh;
        pb += dyv;
      }
    }
    if constexpr (kPartialsHere) {
      simd::store(pdg + j, simd::load(pdg + j) + pg);
      simd::store(pdb + j, simd::load(pdb + j) + pb);
    }
  }
  for (; j < C; ++j) {
    float pg = 0.0f, pb = 0.0f;
    for (int i = 0; i < kRows; ++i) {
      const float xh = ((x[i][j] - st[i].mean_hi) - st[i].mean_lo) * st[i].rstd;
      const float d = kG ? dy[i][j] * g[j] : dy[i][j];
      ta[i] += d;
      tb[i] += d * xh;
      pg += dy[i][j] * xh;
      pb += dy[i][j];
    }
    if constexpr (kPartialsHere) {
      pdg[j] += pg;
      pdb[j] += pb;
    }
  }
  if (!dx[0]) return;
  const float inv_c = 1.0f / static_cast<float>(C);
  float a[kRows], b[kRows];
  for (int i = 0; i < kRows; ++i) {
    a[i] = (simd::hsum(sa[i]) + ta[i]) * inv_c;
    b[i] = (simd::hsum(sb[i]) + tb[i]) * inv_c;
  }
  if constexpr (kPartialsInPass2) {
    dx_rows_with_partials<kRows, 0, kG>(x, dy, g, st, a, b, C, pdg, pdb, dx, next_x, next_dy);
  } else {
    for (int i = 0; i < kRows; ++i)
      dx_row<kG, kMode>(x[i], dy[i], g, st[i], a[i], b[i], C, dx[i], next_x[i], next_dy[i]);
  }
}

// A pair of streamed rows (from DRAM; dx streams) shorter than kPartialsInPass2MinC, one row
// after the other: each row's sums and dx (backward_rows<1>), then one sweep that adds both rows'
// dy*x̂ / dy to the partials in the order the ordinary path's pair adds them (the same bits).
// Both rows together (backward_rows<2>) keep two rows of x and dy, gamma and the partials in L1
// through pass 1 while the next rows' prefetched lines arrive; one row at a time L1 holds less.
// Measured in one process, alternated call by call (docs/performance-history.md, twenty-eighth
// round): fwd+bwd 16384×512 1.26x at 1 thread and 1.05x at 2, 8192×256 1.08-1.17x at 1 thread;
// the partials in row 1's dx sweep instead of a sweep of their own measured the same. Longer
// rows keep the pairs: one at a time, 8192×1024 gained 1.02x at 1 thread and lost 0.95x at 2,
// 4096×2048 0.98x and 0.93x.
template <bool kG>
void streamed_pair(const float* const (&dy)[2], const float* const (&x)[2],
                   const RowStats (&st)[2], const float* g, int64_t C, float* pdg, float* pdb,
                   float* const (&dx)[2], const float* const (&next_x)[2],
                   const float* const (&next_dy)[2]) {
  for (int i = 0; i < 2; ++i) {
    const float* const dyi[1] = {dy[i]};
    const float* const xi[1] = {x[i]};
    const RowStats sti[1] = {st[i]};
    float* const dxi[1] = {dx[i]};
    const float* const nxi[1] = {next_x[i]};
    const float* const ndyi[1] = {next_dy[i]};
    backward_rows<1, OutStore::kStream, kG, false, false>(dyi, xi, sti, g, C, nullptr, nullptr,
                                                         dxi, nxi, ndyi);
  }
  const float unused[2] = {0.0f, 0.0f};  // a, b: no row's dx is written here
  const float* const none[2] = {nullptr, nullptr};
  dx_rows_with_partials<2, 2, kG>(x, dy, g, st, unused, unused, C, pdg, pdb, dx, none, none);
}

// Rows this long or longer whose dx streams (from DRAM; dx never null then: stream_output) sum
// the dgamma/dbeta partials in pass 2 (dx_rows_with_partials). There a pair's two rows of x and
// dy (16 KiB at C = 1024), gamma and the partials (12 KiB) crowd the 32 KiB L1 in pass 1;
// shorter rows lose by it: fwd+bwd 8192×256 0.86x, 8192×1024 1.09x beside a 1.04 control
// (twenty-fourth round; the twenty-first round's host read 0.95 and 1.01-1.03). Shorter streamed
// rows go one at a time instead (streamed_pair). The next pair's rows are asked for into L2, not
// L1: at C = 1024 every row starts at the same L1 set, so the pair's 4 rows of x and dy and the
// next pair's 4 fill a set's 8 ways with gamma and the partials still to come. Measured in one
// process, alternated call by call (thirty-first round, 8192x1024): the backward 4.27 -> 3.42 ms
// at 1 thread, 2.26 -> 2.14 at 2. (Rows taken one at a time, C < 1024, measured mixed with L2:
// 8192x256 0.86x, 8192x512 1.13x at 1 thread; they keep L1.)
constexpr int64_t kPartialsInPass2MinC = 1024;

// Streamed rows taken one at a time (streamed_pair) ask for the rows this many bytes ahead of
// the row they work on, per array (x and dy), at least the next row. Measured one row at a time,
// 1 thread (twenty-eighth round): 8192×256 two rows ahead (2 KiB) 1.07x over one; 8192×512 two
// rows (4 KiB) 0.99x.
constexpr int64_t kBackwardAheadBytes = 2048;
int64_t stream_backward_ahead_rows(int64_t C) {
  return std::max<int64_t>(1, kBackwardAheadBytes / 4 / C);
}

// Dispatches on (gamma?, partials?, where the partials go) for kRows rows.
template <int kRows, OutStore kMode>
void backward_rows(const float* const (&dy)[kRows], const float* const (&x)[kRows],
                   const RowStats (&st)[kRows], const float* g, int64_t C, float* pdg, float* pdb,
                   float* const (&dx)[kRows], const float* const (&next_x)[kRows],
                   const float* const (&next_dy)[kRows]) {
  const bool pass2 = kMode == OutStore::kStream && C >= kPartialsInPass2MinC;
  if (g && pdg && pass2)
    backward_rows<kRows, kMode, true, true, true>(dy, x, st, g, C, pdg, pdb, dx, next_x, next_dy);
  else if (g && pdg)
    backward_rows<kRows, kMode, true, true, false>(dy, x, st, g, C, pdg, pdb, dx, next_x, next_dy);
  else if (g)
    backward_rows<kRows, kMode, true, false, false>(dy, x, st, g, C, pdg, pdb, dx, next_x,
                                                    next_dy);
  else if (pdg && pass2)
    backward_rows<kRows, kMode, false, true, true>(dy, x, st, g, C, pdg, pdb, dx, next_x, next_dy);
  else if (pdg)
    backward_rows<kRows, kMode, false, true, false>(dy, x, st, g, C, pdg, pdb, dx, next_x,
                                                    next_dy);
  else
    backward_rows<kRows, kMode, false, false, false>(dy, x, st, g, C, pdg, pdb, dx, next_x,
                                                     next_dy);
}

}  // namespace

void layernorm_forward(const float* x, const float* gamma, const float* beta, int64_t R,
                       int64_t C, int64_t groups, float eps, float* y, float* mean,
                       float* mean_lo, float* rstd) {
  if (C <= 0) return;
  // Rows [r0, r1), a block of rows at a time: the block's statistics, then its outputs. The
  // streamed and the ordinary loop are separate instantiations (a runtime test per row cost
  // the ordinary loop a few % at 2048x128). The ordinary loop takes its rows last block first
  // (blocks_last_first): the op before it wrote x's last rows last, and the backward reads x
  // from the first row on. Measured on the Ice Lake host (thirty-fifth round, the bench's
  // fwd+bwd call in one process, alternated call by call, 1 thread): 2048x128 1.06-1.10x,
  // 1024x128 / 4096x128 / 2048x256 / 2048x512 1.02-1.04x; 2 threads 1.02x; 512x64 (in L2) and
  // the streamed sizes unchanged.
  auto rows = [&](int64_t r0, int64_t r1, auto stream) {
    constexpr bool kStream = decltype(stream)::value;
    const int64_t block = kStream ? stream_stat_block_rows(C) : stat_block_rows(C);
    const int64_t ahead = kStream ? stream_ahead_rows(C, block) : 0;
    for (int64_t rb = r0; rb < r1; rb += block) {
      const int n = static_cast<int>(std::min<int64_t>(block, r1 - rb));
      block_stats(x + rb * C, C, n, eps, mean + rb, mean_lo + rb, rstd + rb);
      for (int64_t r = rb; r < rb + n; ++r) {
        const RowStats st{mean[r], mean_lo[r], rstd[r]};
        const float* xr = x + r * C;
        float* yr = y + r * C;
        const int64_t off = (r % groups) * C;
        const float* g = gamma ? gamma + off : nullptr;
        const float* b = beta ? beta + off : nullptr;
        // The row `ahead` rows on, for a later block's statistics (prefetched while y streams).
        const float* nx = kStream && r + ahead < r1 ? xr + ahead * C : nullptr;
        if (g && b) forward_row<true, true, kStream>(xr, g, b, st, C, yr, nx);
        else if (g) forward_row<true, false, kStream>(xr, g, b, st, C, yr, nx);
        else if (b) forward_row<false, true, kStream>(xr, g, b, st, C, yr, nx);
        else forward_row<false, false, kStream>(xr, g, b, st, C, yr, nx);
      }
    }
    if constexpr (kStream) simd::stream_fence();  // before the pool hands y on
  };
  const int64_t grain = norm_row_grain(C);
  if (stream_output(y, R, C))
    parallel_for(R, grain, [&](int64_t r0, int64_t r1) { rows(r0, r1, std::true_type{}); });
  else  // last block first: see blocks_last_first (norm_common.h) and the note above
    parallel_for(R, grain, [&](int64_t r0, int64_t r1) {
      blocks_last_first(r0, r1, C, stat_block_rows(C),
                        [&](int64_t b0, int64_t b1) { rows(b0, b1, std::false_type{}); });
    });
}

void layernorm_backward(const float* dy, const float* x, const float* gamma, const float* mean,
                        const float* mean_lo, const float* rstd, int64_t R, int64_t C,
                        int64_t groups, const NormGrads& grads) {
  if (C <= 0 || R <= 0) return;
  const int64_t P = groups * C;  // affine parameters
  const bool params = grads.dgamma || grads.dbeta;
  const int64_t grain = norm_row_grain(C);
  const int chunks = parallel_chunks(R, grain);
  // Per-chunk partials, partial[2c] dgamma and partial[2c + 1] dbeta, combined below in chunk
  // order; each on its own cache lines, all away from the rows of x (see Scratch).
  Scratch partial(params ? 2 * chunks : 0, P, x, C);
  // Rows [r0, r1) of chunk c, dx stored as kMode says (one instantiation per mode).
  auto rows = [&](int c, int64_t r0, int64_t r1, auto mode) {
    constexpr OutStore kMode = decltype(mode)::value;
    float* pdg = params ? partial[2 * c] : nullptr;
    float* pdb = params ? partial[2 * c + 1] : nullptr;
    auto row_stats = [&](int64_t r) { return RowStats{mean[r], mean_lo[r], rstd[r]}; };
    auto dx_of = [&](int64_t r) { return grads.dx ? grads.dx + r * C : nullptr; };
    // The rows pass 1 reads next, prefetched by pass 2 when dx streams (else null).
    auto ahead = [&](const float* base, int64_t r) {
      return kMode == OutStore::kStream && r < r1 ? base + r * C : nullptr;
    };
    int64_t r = r0;
    // Streamed rows shorter than kPartialsInPass2MinC go one at a time (streamed_pair), asking
    // for the rows stream_backward_ahead_rows() on; longer ones in pairs ask for the next pair.
    const bool one_by_one = kMode == OutStore::kStream && C < kPartialsInPass2MinC;
    const int64_t d = one_by_one ? stream_backward_ahead_rows(C) : 2;
    // Rows in pairs where they share the affine block (always, unless GroupNorm's groups > 1);
    // rows taken one at a time still pair up for the partials' order.
    if (groups == 1 && (!one_by_one || params))
      for (; r + 1 < r1; r += 2) {
        const float* const dyp[2] = {dy + r * C, dy + (r + 1) * C};
        const float* const xp[2] = {x + r * C, x + (r + 1) * C};
        const RowStats stp[2] = {row_stats(r), row_stats(r + 1)};
        float* const dxp[2] = {dx_of(r), dx_of(r + 1)};
        const float* const nx[2] = {ahead(x, r + d), ahead(x, r + 1 + d)};
        const float* const ndy[2] = {ahead(dy, r + d), ahead(dy, r + 1 + d)};
        if (one_by_one) {
          if (gamma) streamed_pair<true>(dyp, xp, stp, gamma, C, pdg, pdb, dxp, nx, ndy);
          else streamed_pair<false>(dyp, xp, stp, gamma, C, pdg, pdb, dxp, nx, ndy);
        } else {
          backward_rows<2, kMode>(dyp, xp, stp, gamma, C, pdg, pdb, dxp, nx, ndy);
        }
      }
    for (; r < r1; ++r) {
      const int64_t off = (r % groups) * C;
      const float* const dyp[1] = {dy + r * C};
      const float* const xp[1] = {x + r * C};
      const RowStats stp[1] = {row_stats(r)};
      float* const dxp[1] = {dx_of(r)};
      const float* const nx[1] = {ahead(x, r + (one_by_one ? d : 1))};
      const float* const ndy[1] = {ahead(dy, r + (one_by_one ? d : 1))};
      backward_rows<1, kMode>(dyp, xp, stp, gamma ? gamma + off : nullptr, C,
                              pdg ? pdg + off : nullptr, pdb ? pdb + off : nullptr, dxp, nx, ndy);
    }
    if constexpr (kMode == OutStore::kStream) simd::stream_fence();  // before the pool hands dx on
  };
  using Stream = std::integral_constant<OutStore, OutStore::kStream>;
  using Add = std::integral_constant<OutStore, OutStore::kAdd>;
  using Write = std::integral_constant<OutStore, OutStore::kWrite>;
  auto run = [&](auto mode) {
    parallel_for_chunks(R, grain, [&](int c, int64_t r0, int64_t r1) { rows(c, r0, r1, mode); });
  };
  if (grads.dx_add) run(Add{});
  else if (stream_output(grads.dx, R, C)) run(Stream{});
  else run(Write{});
  if (!params) return;
  for (int64_t j = 0; j < P; ++j) {
    float sg = 0.0f, sb = 0.0f;
    for (int c = 0; c < chunks; ++c) {  // fixed chunk order: deterministic
      sg += partial[2 * c][j];
      sb += partial[2 * c + 1][j];
    }
    if (grads.dgamma) store(grads.dgamma + j, sg, grads.dgamma_add);
    if (grads.dbeta) store(grads.dbeta + j, sb, grads.dbeta_add);
  }
}

NormReference layernorm_reference(const Tensor& x, int64_t C, const Tensor& gamma,
                                  const Tensor& beta, const Tensor& dy, double eps) {
  const int64_t R = x.numel() / C;
  const float* px = x.data();
  NormReference ref;
  ref.y.resize(R * C);
  ref.mean.resize(R);
  ref.var.resize(R);
  const bool back = dy.defined();
  if (back) {
    ref.dx.resize(R * C);
    ref.dgamma.assign(C, 0.0);
    ref.dbeta.assign(C, 0.0);
  }
  std::vector<double> xh(C), dyh(C);
  for (int64_t r = 0; r < R; ++r) {
    double m = 0.0, v = 0.0;
    for (int64_t j = 0; j < C; ++j) m += px[r * C + j];
    m /= C;
    for (int64_t j = 0; j < C; ++j) v += (px[r * C + j] - m) * (px[r * C + j] - m);
    v /= C;
    ref.mean[r] = m;
    ref.var[r] = v;
    const double rs = 1.0 / std::sqrt(v + eps);
    for (int64_t j = 0; j < C; ++j) {
      xh[j] = (px[r * C + j] - m) * rs;
      const double g = gamma.defined() ? gamma.data()[j] : 1.0;
      const double b = beta.defined() ? beta.data()[j] : 0.0;
      ref.y[r * C + j] = xh[j] * g + b;
    }
    if (!back) continue;
    double a = 0.0, bb = 0.0;
    for (int64_t j = 0; j < C; ++j) {
      const double d = dy.data()[r * C + j];
      dyh[j] = d * (gamma.defined() ? gamma.data()[j] : 1.0);
      a += dyh[j];
      bb += dyh[j] * xh[j];
      ref.dgamma[j] += d * xh[j];
      ref.dbeta[j] += d;
    }
    a /= C;
    bb /= C;
    for (int64_t j = 0; j < C; ++j) ref.dx[r * C + j] = rs * (dyh[j] - a - xh[j] * bb);
  }
  return ref;
}

}  // namespace kernels

Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight,
                  const Tensor& bias, float eps) {
  const auto fail = [&](const std::string& what, const Shape& other) {
    throw ShapeError("layer_norm: " + what + " " + shape_str(other) +
                     " does not match normalized_shape " + shape_str(normalized_shape) +
                     " (input shape " + shape_str(x.shape()) + ")");
  };
  if (!x.defined()) throw ShapeError("layer_norm: called with an undefined input");
  if (normalized_shape.empty()) throw ShapeError("layer_norm: normalized_shape must not be empty");
  const size_t k = normalized_shape.size();
  if (x.shape().size() < k ||
      !std::equal(normalized_shape.begin(), normalized_shape.end(), x.shape().end() - k))
    fail("the trailing dims of the input", x.shape());
  if (weight.defined() && weight.shape() != normalized_shape) fail("weight shape", weight.shape());
  if (bias.defined() && bias.shape() != normalized_shape) fail("bias shape", bias.shape());
  if (!(eps > 0.0f)) throw ValueError("layer_norm: eps must be > 0, got " + std::to_string(eps));

  const int64_t C = shape_numel(normalized_shape);
  const int64_t R = C ? x.numel() / C : 0;
  Tensor y = Tensor::empty(x.shape());
  Tensor mean = Tensor::empty({R}), mean_lo = Tensor::empty({R}), rstd = Tensor::empty({R});
  kernels::layernorm_forward(x.data(), weight.defined() ? weight.data() : nullptr,
                             bias.defined() ? bias.data() : nullptr, R, C, 1, eps, y.data(),
                             mean.data(), mean_lo.data(), rstd.data());
  if (needs_grad({&x, &weight, &bias})) {
    record(y, "layer_norm", {x, weight, bias},
           [x, weight, mean, mean_lo, rstd, R, C](const Tensor& dy, GradSink& sink) {
             const kernels::NormGrads g = kernels::norm_grad_targets(sink);
             kernels::layernorm_backward(dy.data(), x.data(),
                                         weight.defined() ? weight.data() : nullptr, mean.data(),
                                         mean_lo.data(), rstd.data(), R, C, 1, g);
           });
  }
  return y;
}

}  // namespace nl

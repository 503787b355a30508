// Fused scale + mask + softmax over attention score rows; see masked_softmax.h.
#include "layers/kernels/masked_softmax.h"

#include <limits>

#include "core/fast_math.h"
#include "core/lane_reduce.h"
#include "core/threading.h"

namespace nl::kernels {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
constexpr int64_t kGrain = kGrainHeavy;  // elements per thread

// One query row: keys [0, len) are candidates (len = t + 1 under the causal mask, S without);
// valid (or null) marks the padded keys among them. Keys from len on are masked.
// s == y is fine: pass 1 reads each s[j] only to write y[j].
void forward_row(const float* s, float* y, int64_t S, int64_t len, const float* valid,
                 float scale) {
  // 1: scaled scores, -inf on masked keys
  if (valid) {
    for (int64_t j = 0; j < len; ++j) y[j] = valid[j] != 0.0f ? scale * s[j] : kNegInf;
  } else {
    for (int64_t j = 0; j < len; ++j) y[j] = scale * s[j];
  }
  for (int64_t j = len; j < S; ++j) y[j] = 0.0f;
  const float m = lanes::max(y, len);
  if (m == kNegInf) {  // every key masked: all zeros
    for (int64_t j = 0; j < len; ++j) y[j] = 0.0f;
    return;
  }
  // 2: exp(x - m) (x - m <= 0), exactly 0 on masked keys
  for (int64_t j = 0; j < len; ++j) y[j] = y[j] == kNegInf ? 0.0f : fast_exp_nonpos(y[j] - m);
  // 3: normalise
  const float inv = 1.0f / lanes::sum(y, len);
  for (int64_t j = 0; j < len; ++j) y[j] *= inv;
}

}  // namespace

void masked_softmax_forward(const float* s, float* y, int64_t N, int64_t T, int64_t S,
                            float scale, const SoftmaxMask& mask) {
  const int64_t rows = N * T;
  parallel_for(rows, kGrain / (S + 1) + 1, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t n = r / T, t = r % T;
      const int64_t len = mask.causal ? (t + 1 < S ? t + 1 : S) : S;
      const float* valid = mask.key_valid ? mask.key_valid + (n / mask.heads) * S : nullptr;
      forward_row(s + r * S, y + r * S, S, len, valid, scale);
    }
  });
}

void masked_softmax_backward(const float* y, const float* dy, float* ds, int64_t N, int64_t T,
                             int64_t S, float scale, bool accumulate, bool causal) {
  const int64_t rows = N * T;
  parallel_for(rows, kGrain / (S + 1) + 1, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* yr = y + r * S;
      const float* dr = dy + r * S;
      float* gr = ds + r * S;
      const int64_t t = r % T, len = causal ? (t + 1 < S ? t + 1 : S) : S;
      const float dot = lanes::dot(dr, yr, len);
      if (accumulate) {
        for (int64_t j = 0; j < len; ++j) gr[j] += scale * yr[j] * (dr[j] - dot);
      } else {
        for (int64_t j = 0; j < len; ++j) gr[j] = scale * yr[j] * (dr[j] - dot);
        for (int64_t j = len; j < S; ++j) gr[j] = 0.0f;
      }
    }
  });
}

}  // namespace nl::kernels

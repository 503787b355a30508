// BatchNorm (Ioffe & Szegedy 2015, arXiv 1502.03167, Alg. 1-2) over the feature (last) axis:
// fused forward and backward kernels over a contiguous (R, C) view with an optional row mask,
// a naive double reference for tests, and the differentiable function batch_norm() that
// records an autograd node and updates running statistics.
#pragma once
#include "core/tensor.h"
#include "layers/kernels/norm_common.h"

namespace nl {

namespace kernels {

// Per-channel batch statistics over the valid rows (mask == null, or mask[r] != 0).
// x: (R, C); mask: (R) or null; n: number of valid rows (> 0).
// Outputs (C): mean = mean_hi + mean_lo (split_mean), var (biased; may be null), rstd.
// Float accumulation inside blocks of rows, blocks merged in double by Chan et al.'s pairwise
// update: x is streamed from memory once. A block sums deviations from a shift close to its
// mean in one pass: the mean of the chunk's rows before it, or, for a chunk's first block, the
// float mean of its first 32 rows; wherever that shift is more than a standard deviation off,
// from the block's own float mean (two passes, the second from cache). Rows are split across
// threads in a fixed partition with partials merged in a fixed order: results do not depend
// on the thread count.
void batchnorm_stats(const float* x, const float* mask, int64_t R, int64_t C, float eps,
                     float* mean, float* mean_lo, float* var, float* rstd);
// batchnorm_stats in two halves (SyncBatchNorm merges the first half's output over ranks):
// the valid-row count, and per channel the mean and the centred sum of squares M2 (double;
// zeros when no row is valid) ...
int64_t batchnorm_moments(const float* x, const float* mask, int64_t R, int64_t C, double* mean,
                          double* m2);
// ... and mean/mean_lo/var (biased, M2/n; var may be null)/rstd from (n, mean, M2).
void batchnorm_finish_stats(const double* mean, const double* m2, int64_t n, int64_t C, float eps,
                            float* mean_hi, float* mean_lo, float* var, float* rstd);
// Merges a group (nb rows, per-channel mean bmean and M2 bm2) into the running (n, M, M2)
// (Chan, Golub & LeVeque 1979): delta = bmean - M; M += delta*nb/(n+nb);
// M2 += bm2 + delta^2*n*nb/(n+nb). Stable for large means, unlike E[x^2] - E[x]^2.
void chan_merge(double* M, double* M2, int64_t n, const double* bmean, const double* bm2,
                int64_t nb, int64_t C);

// y = ((x - mean) * rstd) * gamma + beta on valid rows, 0 on masked rows.
// x, y: (R, C); gamma, beta: (C) or null; mean, mean_lo, rstd: (C).
void batchnorm_apply(const float* x, const float* mask, const float* gamma, const float* beta,
                     const float* mean, const float* mean_lo, const float* rstd, int64_t R,
                     int64_t C, float* y);

// Backward over the n valid rows. With batch statistics (training), x̂ = (x - mean) * rstd:
//   dx = gamma * rstd * (dy - mean(dy) - x̂ * mean(dy * x̂))   (means over the n valid rows)
// with fixed statistics (eval, or the running-stat fallback): dx = gamma * rstd * dy.
// Both: dgamma = Σ dy * x̂, dbeta = Σ dy over valid rows; masked rows get dx = 0.
// The per-channel sums split rows across threads in the same fixed partition (deterministic,
// independent of the thread count).
void batchnorm_backward(const float* dy, const float* x, const float* mask, const float* gamma,
                        const float* mean, const float* mean_lo, const float* rstd, int64_t R,
                        int64_t C, int64_t n, bool batch_stats, const NormGrads& grads);
// batchnorm_backward in two halves (SyncBatchNorm all-reduces the sums in between):
// sums (2C) = [Σ dy, Σ dy * (x - mean)] per channel over the valid rows ...
void batchnorm_grad_sums(const float* dy, const float* x, const float* mask, const float* mean,
                         const float* mean_lo, int64_t R, int64_t C, double* sums);
// ... then dgamma/dbeta from param_sums and dx from dx_sums over n rows (the same array in a
// single process; the rank-local and the all-reduced sums across ranks).
void batchnorm_backward_finish(const float* dy, const float* x, const float* mask,
                               const float* gamma, const float* mean, const float* mean_lo,
                               const float* rstd, int64_t R, int64_t C, const double* param_sums,
                               const double* dx_sums, int64_t n, bool batch_stats,
                               const NormGrads& grads);
// Whether batchnorm_backward_finish may take the mean into its per-channel constant (dx = p*dy
// + q - s*x, three arrays read per vector instead of four): only when every channel's
// |mean| <= its standard deviation (|mean| * rstd <= 1), where s*x and s*mean are no larger
// than the spread s*(x - mean) already carries, so the fold costs at most an ulp of that term.
// Far from 0 (means of 1e4 at std 1) s*x and q would cancel: there x - mean stays explicit.
bool dx_mean_folds(const float* mean, const float* mean_lo, const float* rstd, int64_t C);

// Naive double-precision BatchNorm of x viewed as (R, C) with optional mask (R, any shape),
// gamma/beta (C), dy. training: batch statistics (mean/var filled); otherwise the given
// running_mean/running_var (C) are used.
NormReference batchnorm_reference(const Tensor& x, const Tensor& mask, const Tensor& gamma,
                                  const Tensor& beta, const Tensor& dy, double eps, bool training,
                                  const Tensor& running_mean = Tensor(),
                                  const Tensor& running_var = Tensor());

}  // namespace kernels

// Number of nonzero entries of a mask (all rows when the mask is undefined).
int64_t count_valid(const Tensor& mask, int64_t rows);

// BatchNorm over the last axis of x ((N,C), (B,T,C), ...) (PyTorch's F.batch_norm).
// mask: shaped like x without its last axis (nonzero = valid) or undefined; masked positions
// neither enter the statistics nor receive gradient, and their output is 0.
// training = true: normalise with the batch's statistics (biased variance) and, when
// running_mean/running_var are defined, update them in place:
//   running = (1 - momentum) * running + momentum * batch, with the unbiased variance m/(m-1).
// Needs more than one valid row (ValueError otherwise).
// training = false: normalise with running_mean/running_var (both required).
// weight, bias: (C) or undefined. Differentiable in x, weight and bias.
Tensor batch_norm(const Tensor& x, const Tensor& mask, const Tensor& weight, const Tensor& bias,
                  const Tensor& running_mean, const Tensor& running_var, bool training,
                  float momentum = 0.1f, float eps = 1e-5f);

// The argument checks of batch_norm() (shapes of mask, weight, bias, running stats; eps > 0).
void check_batch_norm_inputs(const Tensor& x, const Tensor& mask, const Tensor& weight,
                             const Tensor& bias, const Tensor& running_mean,
                             const Tensor& running_var, float eps);

}  // namespace nl

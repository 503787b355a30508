// The statistics the lab's verdicts are computed from: per-cell mean, standard deviation and
// a Student-t confidence interval over seeds; for a claim, the Welch interval of the
// difference of two cells' means or the paired interval over the seeds both cells ran; and the
// verdict that follows from it. Quantiles come from
// Boost.Math (libboost-math-dev), not from hand-written tables.
#pragma once
#include <string>
#include <vector>

namespace nl::lab {

// Two-sided quantile: the t with P(T <= t) = p for Student's t with `df` degrees of freedom
// (df may be fractional, as Welch's is).
double student_t_quantile(double p, double df);

struct CellStats {
  int n = 0;
  double mean = 0, sd = 0;            // sd: sample standard deviation (n - 1); 0 when n < 2;
                                      // mean NaN when n == 0
  double ci_low = 0, ci_high = 0;     // mean -/+ t_{(1+level)/2, n-1} * sd / sqrt(n); NaN when n < 2
};
CellStats describe(const std::vector<double>& values, double level = 0.95);

struct Difference {
  int n_a = 0, n_b = 0;               // paired: both the number of pairs
  bool paired = false;                // from paired_difference (else welch_difference)
  double diff = 0;                    // mean(a) - mean(b)
  double se = 0;                      // sqrt(s_a^2/n_a + s_b^2/n_b), paired sd(a - b)/sqrt(n);
                                      // NaN when n < 2 (on a side)
  double df = 0;                      // Welch–Satterthwaite, paired n - 1; NaN when n < 2; Welch
                                      // with zero variance on both sides (0/0): n_a + n_b - 2
  double ci_low = 0, ci_high = 0;     // NaN when n < 2 (on a side)
};
Difference welch_difference(const std::vector<double>& a, const std::vector<double>& b, double level = 0.95);
// a[i] and b[i] measured under the same seed (same data order and initialisation): the Student-t
// interval of the mean of d_i = a_i - b_i, with n - 1 degrees of freedom. Seed-to-seed variation
// that both cells share cancels in d_i, so the interval is narrower than Welch's whenever the two
// cells' values move together over seeds. Throws ValueError when a and b differ in length.
Difference paired_difference(const std::vector<double>& a, const std::vector<double>& b, double level = 0.95);

enum class Verdict { holds, does_not_hold, inconclusive };
std::string to_string(Verdict v);  // "holds", "does not hold", "inconclusive"

struct ClaimVerdict {
  Verdict verdict = Verdict::inconclusive;
  Difference d;         // oriented: positive = the claimed-better side is better
  double threshold = 0; // 0 for "beats", -margin for "not worse"
  int seeds_needed = 0; // inconclusive: seeds per side for the CI to clear the threshold at the
                        // observed difference and spread (0 when not applicable / not estimable)
  std::string note;     // e.g. "n < 2 on one side", "difference is 0 at this precision"
};
// `better`/`worse` are the metric's values over seeds; `higher_is_better` orients them.
// holds: CI of the oriented difference lies above the threshold; does not hold: below it;
// inconclusive: the CI contains it (or n < 2 on a side). threshold: 0 for "beats", -margin for
// "not worse". Zero spread on both sides: the CI is the point difference, so the verdict is
// its side of the threshold (inconclusive only when equal), with a note.
// seeds_needed (inconclusive only): the smallest n in [2, 1000] per side with
// t_{(1+level)/2, df(n)} * sqrt((s_a^2 + s_b^2)/n) < diff - threshold at the observed sds and
// Welch df(n); 0 with a note when the observed difference is not above the threshold, when
// n < 2 on a side, or when more than 1000 would be needed.
// Pairing::by_seed: better[i] and worse[i] come from the same seed; the interval is
// paired_difference's, and seeds_needed the smallest n with t_{(1+level)/2, n-1} * s_d/sqrt(n) <
// diff - threshold (s_d: the sd of the differences).
enum class Pairing { independent, by_seed };
ClaimVerdict judge(const std::vector<double>& better, const std::vector<double>& worse, bool higher_is_better,
                   double threshold = 0.0, double level = 0.95, Pairing pairing = Pairing::independent);

}  // namespace nl::lab

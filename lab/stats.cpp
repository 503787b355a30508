// The lab's statistics (lab/stats.h): Student-t intervals per cell, Welch intervals for a
// difference of means, and the verdict of a claim. t quantiles come from Boost.Math.
// References: Student (1908) for the t interval; Welch (1947) and Satterthwaite (1946) for the
// unequal-variance interval and its degrees of freedom:
//   se = sqrt(s_a^2/n_a + s_b^2/n_b),
//   df = se^4 / ((s_a^2/n_a)^2/(n_a-1) + (s_b^2/n_b)^2/(n_b-1));
// the paired interval is Student's on the differences d_i = a_i - b_i: se = s_d/sqrt(n), df = n - 1.
#include "lab/stats.h"

#include <boost/math/distributions/normal.hpp>
#include <boost/math/distributions/students_t.hpp>
#include <cmath>
#include <limits>

#include "core/error.h"

namespace nl::lab {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr int kMaxSeeds = 1000;  // seeds_needed search limit

struct Moments {
  int n = 0;
  double mean = kNaN, var = 0;  // var: sample variance (n - 1), 0 when n < 2
};

// Two passes (mean, then squared deviations): no cancellation for large-mean values.
Moments moments(const std::vector<double>& v) {
  Moments m;
  m.n = static_cast<int>(v.size());
  if (m.n == 0) return m;
  double sum = 0;
  for (double x : v) sum += x;
  m.mean = sum / m.n;
  if (m.n < 2) return m;
  double ss = 0;
  for (double x : v) ss += (x - m.mean) * (x - m.mean);
  m.var = ss / (m.n - 1);
  return m;
}

void check_level(double level) {
  if (!(level > 0 && level < 1)) throw ValueError("confidence level must be in (0, 1), got " + std::to_string(level));
}

// Welch–Satterthwaite degrees of freedom; both variances 0 leaves it undefined (0/0): the
// interval has zero width then whatever df is, so we return the pooled n_a + n_b - 2.
double welch_df(double va, int na, double vb, int nb) {
  const double qa = va / na, qb = vb / nb;
  const double den = qa * qa / (na - 1) + qb * qb / (nb - 1);
  if (den == 0) return na + nb - 2;
  return (qa + qb) * (qa + qb) / den;
}

}  // namespace

double student_t_quantile(double p, double df) {
  if (!(p > 0 && p < 1)) throw ValueError("student_t_quantile: p must be in (0, 1), got " + std::to_string(p));
  if (!(df > 0)) throw ValueError("student_t_quantile: degrees of freedom must be > 0, got " + std::to_string(df));
  if (std::isinf(df)) return boost::math::quantile(boost::math::normal_distribution<double>(), p);
  return boost::math::quantile(boost::math::students_t_distribution<double>(df), p);
}

CellStats describe(const std::vector<double>& values, double level) {
  check_level(level);
  const Moments m = moments(values);
  CellStats s;
  s.n = m.n;
  s.mean = m.mean;
  s.sd = std::sqrt(m.var);
  if (m.n < 2) {
    s.ci_low = s.ci_high = kNaN;
    return s;
  }
  const double half = student_t_quantile((1 + level) / 2, m.n - 1) * s.sd / std::sqrt(static_cast<double>(m.n));
  s.ci_low = s.mean - half;
  s.ci_high = s.mean + half;
  return s;
}

Difference welch_difference(const std::vector<double>& a, const std::vector<double>& b, double level) {
  check_level(level);
  const Moments ma = moments(a), mb = moments(b);
  Difference d;
  d.n_a = ma.n;
  d.n_b = mb.n;
  d.diff = ma.mean - mb.mean;  // NaN when a side is empty
  if (ma.n < 2 || mb.n < 2) {
    d.se = d.df = d.ci_low = d.ci_high = kNaN;
    return d;
  }
  d.se = std::sqrt(ma.var / ma.n + mb.var / mb.n);
  d.df = welch_df(ma.var, ma.n, mb.var, mb.n);
  const double half = student_t_quantile((1 + level) / 2, d.df) * d.se;
  d.ci_low = d.diff - half;
  d.ci_high = d.diff + half;
  return d;
}

Difference paired_difference(const std::vector<double>& a, const std::vector<double>& b, double level) {
  check_level(level);
  if (a.size() != b.size())
    throw ValueError("paired_difference: " + std::to_string(a.size()) + " and " + std::to_string(b.size()) +
                     " values: pairs need one value on each side");
  std::vector<double> d(a.size());
  for (size_t i = 0; i < a.size(); ++i) d[i] = a[i] - b[i];
  const Moments md = moments(d);
  Difference out;
  out.paired = true;
  out.n_a = out.n_b = md.n;
  out.diff = md.mean;  // NaN when there is no pair
  if (md.n < 2) {
    out.se = out.df = out.ci_low = out.ci_high = kNaN;
    return out;
  }
  out.se = std::sqrt(md.var / md.n);
  out.df = md.n - 1;
  const double half = student_t_quantile((1 + level) / 2, out.df) * out.se;
  out.ci_low = out.diff - half;
  out.ci_high = out.diff + half;
  return out;
}

std::string to_string(Verdict v) {
  switch (v) {
    case Verdict::holds: return "holds";
    case Verdict::does_not_hold: return "does not hold";
    case Verdict::inconclusive: return "inconclusive";
  }
  return "?";
}

ClaimVerdict judge(const std::vector<double>& better, const std::vector<double>& worse, bool higher_is_better,
                   double threshold, double level, Pairing pairing) {
  ClaimVerdict out;
  out.threshold = threshold;
  const bool paired = pairing == Pairing::by_seed;
  // Orient so that a positive difference favours the claimed-better side. n_a stays "better".
  out.d = paired ? paired_difference(better, worse, level) : welch_difference(better, worse, level);
  if (!higher_is_better) {
    out.d.diff = -out.d.diff;
    const double lo = out.d.ci_low;
    out.d.ci_low = -out.d.ci_high;
    out.d.ci_high = -lo;
  }
  const Difference& d = out.d;
  if (d.n_a < 2 || d.n_b < 2) {
    out.note = paired ? "needs at least 2 seeds that both sides ran (has " + std::to_string(d.n_a) + ")"
                      : "needs at least 2 seeds per side (has " + std::to_string(d.n_a) + " and " +
                            std::to_string(d.n_b) + ")";
    return out;
  }
  const double gap = d.diff - threshold;
  if (d.se == 0) {
    // No spread on either side (paired: in the differences): the interval is the point itself,
    // so its side of the threshold decides (e.g. both norms diverging to the same fixed value).
    out.note = paired ? "the same difference under every seed: the interval is the difference itself"
                      : "no spread on either side: the interval is the difference itself";
    out.verdict = gap > 0 ? Verdict::holds : gap < 0 ? Verdict::does_not_hold : Verdict::inconclusive;
    if (gap == 0) out.note += ", which equals the threshold";
    return out;
  }
  if (d.ci_low > threshold) {
    out.verdict = Verdict::holds;
    return out;
  }
  if (d.ci_high < threshold) {
    out.verdict = Verdict::does_not_hold;
    return out;
  }
  out.verdict = Verdict::inconclusive;
  if (!(gap > 0)) {
    out.note = gap == 0 ? "the observed difference equals the threshold: no number of seeds is estimable"
                        : "the observed difference is on the other side of the threshold: more seeds would not make "
                          "the claim hold";
    return out;
  }
  // Seeds (per side, or pairs) for the interval to clear the threshold if the means and spreads
  // stayed as observed: t_{(1+level)/2, df(n)} * sqrt(v/n) < gap, with v = s_a^2 + s_b^2 and
  // Welch's df(n), or v = s_d^2 and n - 1 for pairs.
  const Moments ma = moments(better), mb = moments(worse);
  const double v = paired ? d.se * d.se * d.n_a : ma.var + mb.var;
  const double q = (1 + level) / 2;
  const std::string unit = paired ? " seeds (pairs)" : " seeds per side";
  for (int n = 2; n <= kMaxSeeds; ++n) {
    const double df = paired ? n - 1.0 : welch_df(ma.var, n, mb.var, n);
    if (student_t_quantile(q, df) * std::sqrt(v / n) < gap) {
      out.seeds_needed = n;
      out.note = "about " + std::to_string(n) + unit + " would be needed at the observed spread";
      return out;
    }
  }
  out.note = "more than " + std::to_string(kMaxSeeds) + unit + " would be needed at the observed spread";
  return out;
}

}  // namespace nl::lab

// The lab's statistics: t quantiles against printed table values, a Student-t interval, a
// Welch interval and a paired interval computed by hand, and the verdict logic on synthetic
// seeds (holds, does not hold, inconclusive with the seeds it would need, not-worse with a
// margin, n = 1, no spread), independent and paired by seed.
#include <cmath>

#include "helpers.h"
#include "lab/stats.h"

using namespace nl;
using namespace nl::lab;

namespace {

// n values with exactly the given mean and sample standard deviation (evenly spaced).
std::vector<double> sample_with(int n, double mean, double sd) {
  std::vector<double> c(n);
  double ss = 0;
  for (int i = 0; i < n; ++i) {
    c[i] = i - (n - 1) / 2.0;
    ss += c[i] * c[i];
  }
  const double scale = sd / std::sqrt(ss / (n - 1));
  for (double& x : c) x = mean + scale * x;
  return c;
}

}  // namespace

TEST_CASE("student t quantiles match table values", "[lab][stats]") {
  // Two-sided 95 % critical values from any t table (e.g. NIST/SEMATECH e-Handbook 1.3.6.7.2).
  CHECK(student_t_quantile(0.975, 1) == Approx(12.7062047).epsilon(1e-7));
  CHECK(student_t_quantile(0.975, 4) == Approx(2.776445).epsilon(1e-6));
  CHECK(student_t_quantile(0.975, 9) == Approx(2.262157).epsilon(1e-6));
  CHECK(student_t_quantile(0.975, 10) == Approx(2.228139).epsilon(1e-6));
  CHECK(student_t_quantile(0.95, 10) == Approx(1.812461).epsilon(1e-6));
  // Symmetry, and the normal limit for very large / infinite df (z_{0.975} = 1.959964).
  CHECK(student_t_quantile(0.025, 4) == Approx(-2.776445).epsilon(1e-6));
  CHECK(student_t_quantile(0.975, 1e7) == Approx(1.959964).epsilon(1e-6));
  CHECK(student_t_quantile(0.975, std::numeric_limits<double>::infinity()) == Approx(1.959964).epsilon(1e-6));
  // Fractional df (Welch) lies between its integer neighbours: t(3) = 3.182446, t(4) = 2.776445.
  const double t35 = student_t_quantile(0.975, 3.5);
  CHECK(t35 < 3.182446);
  CHECK(t35 > 2.776445);
  CHECK_THROWS_AS(student_t_quantile(1.0, 4), ValueError);
  CHECK_THROWS_AS(student_t_quantile(0.975, 0), ValueError);
}

TEST_CASE("describe gives mean, sd and the Student t interval", "[lab][stats]") {
  // {1,2,3,4,5}: mean 3, sample variance (4+1+0+1+4)/4 = 2.5, sd = 1.5811388,
  // se = sd/sqrt(5) = 0.7071068, half-width = t_{0.975,4} * se = 2.776445 * 0.7071068 = 1.963243
  // -> CI [1.036757, 4.963243].
  const CellStats s = describe({1, 2, 3, 4, 5});
  CHECK(s.n == 5);
  CHECK(s.mean == Approx(3.0));
  CHECK(s.sd == Approx(1.5811388).epsilon(1e-7));
  CHECK(s.ci_low == Approx(1.036757).epsilon(1e-6));
  CHECK(s.ci_high == Approx(4.963243).epsilon(1e-6));
  // A 90 % interval is narrower: t_{0.95,4} = 2.131847 -> half-width 1.507443.
  const CellStats s90 = describe({1, 2, 3, 4, 5}, 0.90);
  CHECK(s90.ci_high - s90.mean == Approx(1.507443).epsilon(1e-6));

  // Large mean, small spread: two passes keep the variance exact (no E[x^2]-E[x]^2 cancellation).
  const CellStats big = describe({1e8 + 1, 1e8 + 2, 1e8 + 3});
  CHECK(big.sd == Approx(1.0).epsilon(1e-9));

  const CellStats one = describe({0.7});
  CHECK(one.n == 1);
  CHECK(one.mean == 0.7);
  CHECK(one.sd == 0);
  CHECK(std::isnan(one.ci_low));
  CHECK(std::isnan(one.ci_high));
  const CellStats none = describe({});
  CHECK(none.n == 0);
  CHECK(std::isnan(none.mean));
}

TEST_CASE("welch difference matches a hand-computed interval", "[lab][stats]") {
  // a = {1,2,3,4,5}: mean 3, s_a^2 = 2.5, n_a = 5 -> s_a^2/n_a = 0.5
  // b = {2,4,6}:     mean 4, s_b^2 = 4,   n_b = 3 -> s_b^2/n_b = 1.333333
  // diff = 3 - 4 = -1; se = sqrt(0.5 + 1.333333) = sqrt(1.833333) = 1.354006
  // df = 1.833333^2 / (0.5^2/4 + 1.333333^2/2) = 3.361111 / (0.0625 + 0.888889) = 3.532847
  // t_{0.975, 3.532847} = 2.927405 (from the t CDF via the regularised incomplete beta)
  // CI = -1 -/+ 2.927405 * 1.354006 = [-4.963726, 2.963726]
  const Difference d = welch_difference({1, 2, 3, 4, 5}, {2, 4, 6});
  CHECK(d.n_a == 5);
  CHECK(d.n_b == 3);
  CHECK(d.diff == Approx(-1.0));
  CHECK(d.se == Approx(1.354006).epsilon(1e-6));
  CHECK(d.df == Approx(3.532847).epsilon(1e-6));
  CHECK(student_t_quantile(0.975, d.df) == Approx(2.927405).epsilon(1e-6));
  CHECK(d.ci_low == Approx(-4.963726).epsilon(1e-6));
  CHECK(d.ci_high == Approx(2.963726).epsilon(1e-6));

  // Equal variances and sizes: Welch's df is the pooled n_a + n_b - 2.
  const Difference eq = welch_difference({1, 2, 3}, {4, 5, 6});
  CHECK(eq.df == Approx(4.0));
  CHECK(eq.diff == Approx(-3.0));

  const Difference small = welch_difference({1.0}, {1, 2, 3});
  CHECK(std::isnan(small.ci_low));
  CHECK(std::isnan(small.ci_high));
}

TEST_CASE("judge says holds when the interval clears zero in the claimed direction", "[lab][stats]") {
  const std::vector<double> ln = {0.84, 0.85, 0.83, 0.86, 0.84};
  const std::vector<double> bn = {0.60, 0.62, 0.58, 0.61, 0.59};
  const ClaimVerdict v = judge(ln, bn, true);
  CHECK(v.verdict == Verdict::holds);
  CHECK(to_string(v.verdict) == "holds");
  CHECK(v.d.diff == Approx(0.244));
  CHECK(v.d.ci_low > 0);
  CHECK(v.seeds_needed == 0);

  const ClaimVerdict rev = judge(bn, ln, true);
  CHECK(rev.verdict == Verdict::does_not_hold);
  CHECK(to_string(rev.verdict) == "does not hold");
  CHECK(rev.d.ci_high < 0);
  CHECK(rev.d.diff == Approx(-0.244));
}

TEST_CASE("judge orients lower-is-better metrics", "[lab][stats]") {
  const std::vector<double> low_loss = {0.30, 0.32, 0.31};
  const std::vector<double> high_loss = {0.50, 0.52, 0.49};
  const ClaimVerdict v = judge(low_loss, high_loss, false);
  CHECK(v.verdict == Verdict::holds);
  CHECK(v.d.diff == Approx(0.1933333).epsilon(1e-6));  // positive: the claimed side is better
  CHECK(v.d.ci_low > 0);
  CHECK(v.d.n_a == 3);
  // The same numbers with higher-is-better: the claim fails.
  CHECK(judge(low_loss, high_loss, true).verdict == Verdict::does_not_hold);
}

TEST_CASE("judge reports inconclusive with the seeds per side it would need", "[lab][stats]") {
  // Means 0.55 vs 0.53, sds 0.05 and 0.04, 3 seeds each: the CI straddles 0.
  const std::vector<double> a = sample_with(3, 0.55, 0.05), b = sample_with(3, 0.53, 0.04);
  const ClaimVerdict v = judge(a, b, true);
  REQUIRE(v.verdict == Verdict::inconclusive);
  CHECK(v.d.ci_low < 0);
  CHECK(v.d.ci_high > 0);
  REQUIRE(v.seeds_needed > 3);
  CHECK(v.note.find(std::to_string(v.seeds_needed)) != std::string::npos);
  // The estimate is right by construction: with that many seeds at the same means and spreads
  // the claim holds, with one fewer it is still inconclusive.
  const int n = v.seeds_needed;
  CHECK(judge(sample_with(n, 0.55, 0.05), sample_with(n, 0.53, 0.04), true).verdict == Verdict::holds);
  CHECK(judge(sample_with(n - 1, 0.55, 0.05), sample_with(n - 1, 0.53, 0.04), true).verdict ==
        Verdict::inconclusive);

  // Observed difference on the wrong side of the threshold: no estimate, a note says why.
  const ClaimVerdict wrong = judge(b, a, true);
  CHECK(wrong.verdict == Verdict::inconclusive);
  CHECK(wrong.seeds_needed == 0);
  CHECK_FALSE(wrong.note.empty());

  // A gap too small for 1000 seeds: capped, not estimated.
  const ClaimVerdict tiny = judge(sample_with(3, 0.5001, 0.05), sample_with(3, 0.5, 0.05), true);
  CHECK(tiny.verdict == Verdict::inconclusive);
  CHECK(tiny.seeds_needed == 0);
  CHECK(tiny.note.find("1000") != std::string::npos);
}

TEST_CASE("judge applies the not-worse margin as a threshold", "[lab][stats]") {
  // LN slightly below BN (by 0.01) with a tight spread.
  const std::vector<double> ln = {0.80, 0.81, 0.79, 0.80, 0.80};
  const std::vector<double> bn = {0.81, 0.82, 0.80, 0.81, 0.81};
  // "LN is not worse than BN by more than 0.03": threshold -0.03; sds 0.00707, se 0.00447, df 8,
  // CI = -0.01 -/+ 2.306 * 0.00447 = [-0.0203, 0.0003], above the threshold.
  const ClaimVerdict ok = judge(ln, bn, true, -0.03);
  CHECK(ok.verdict == Verdict::holds);
  CHECK(ok.threshold == -0.03);
  CHECK(ok.d.ci_low > -0.03);
  CHECK(ok.d.ci_low < 0);
  // With a margin of 0.001 the CI contains -0.001: inconclusive (and the observed -0.01 is on
  // the wrong side, so no seed estimate).
  const ClaimVerdict strict = judge(ln, bn, true, -0.001);
  CHECK(strict.verdict == Verdict::inconclusive);
  CHECK(strict.seeds_needed == 0);
  // BN clearly worse than the margin allows -> does not hold.
  const std::vector<double> far = {0.70, 0.71, 0.69, 0.70, 0.70};
  CHECK(judge(far, bn, true, -0.03).verdict == Verdict::does_not_hold);
}

TEST_CASE("judge needs two seeds per side", "[lab][stats]") {
  const ClaimVerdict v = judge({0.9}, {0.1, 0.2, 0.15}, true);
  CHECK(v.verdict == Verdict::inconclusive);
  CHECK(v.seeds_needed == 0);
  CHECK(v.note.find("at least 2 seeds") != std::string::npos);
  CHECK(judge({}, {}, true).verdict == Verdict::inconclusive);
}

TEST_CASE("judge with no spread on either side uses the point difference", "[lab][stats]") {
  // E.g. both runs of each side diverged and count with the same fixed value.
  const ClaimVerdict up = judge({0.5, 0.5, 0.5}, {0.1, 0.1}, true);
  CHECK(up.verdict == Verdict::holds);
  CHECK(up.d.ci_low == Approx(0.4));
  CHECK(up.d.ci_high == Approx(0.4));
  CHECK_FALSE(up.note.empty());
  CHECK(judge({0.1, 0.1}, {0.5, 0.5, 0.5}, true).verdict == Verdict::does_not_hold);
  CHECK(judge({0.3, 0.3}, {0.3, 0.3}, true).verdict == Verdict::inconclusive);
  // Equal values and a not-worse margin: holds.
  CHECK(judge({0.3, 0.3}, {0.3, 0.3}, true, -0.01).verdict == Verdict::holds);
}

TEST_CASE("paired difference matches a hand-computed interval", "[lab][stats]") {
  // d = a - b = {0.01, -0.02, 0.02}: mean 0.0033333, s_d^2 = 8.6667e-4 / 2 = 4.3333e-4,
  // se = sqrt(4.3333e-4 / 3) = 0.0120185; df 2, t_{0.975, 2} = 4.302653;
  // CI = 0.0033333 -/+ 4.302653 * 0.0120185 = [-0.0483781, 0.0550448]
  const Difference d = paired_difference({0.84, 0.85, 0.86}, {0.83, 0.87, 0.84});
  CHECK(d.paired);
  CHECK(d.n_a == 3);
  CHECK(d.n_b == 3);
  CHECK(d.diff == Approx(0.0033333).epsilon(1e-4));
  CHECK(d.se == Approx(0.0120185).epsilon(1e-5));
  CHECK(d.df == 2.0);
  CHECK(d.ci_low == Approx(-0.0483781).epsilon(1e-5));
  CHECK(d.ci_high == Approx(0.0550448).epsilon(1e-5));
  // Welch on the same numbers does not know the pairs: the same difference, another interval.
  CHECK_FALSE(welch_difference({0.84, 0.85, 0.86}, {0.83, 0.87, 0.84}).paired);

  const Difference one = paired_difference({0.9}, {0.1});
  CHECK(one.diff == Approx(0.8));
  CHECK(std::isnan(one.se));
  CHECK(std::isnan(one.ci_low));
  CHECK(std::isnan(paired_difference({}, {}).diff));
  REQUIRE_THROWS_MENTIONING(paired_difference({1, 2, 3}, {1, 2}), "3 and 2 values");
}

TEST_CASE("judge by seed decides where the seeds move both sides together", "[lab][stats]") {
  // b = a - {0.02, 0.03, 0.025, 0.02}: a spread of 0.035 across seeds that both sides share.
  const std::vector<double> a = {0.80, 0.84, 0.88, 0.82}, b = {0.78, 0.81, 0.855, 0.80};
  const ClaimVerdict welch = judge(a, b, true);
  CHECK(welch.verdict == Verdict::inconclusive);
  CHECK_FALSE(welch.d.paired);
  const ClaimVerdict paired = judge(a, b, true, 0.0, 0.95, Pairing::by_seed);
  CHECK(paired.verdict == Verdict::holds);
  CHECK(paired.d.paired);
  // mean 0.02375, s_d 0.0047871, se 0.0023936, t_{0.975, 3} = 3.182446: [0.0161326, 0.0313674]
  CHECK(paired.d.diff == Approx(0.02375));
  CHECK(paired.d.ci_low == Approx(0.0161326).epsilon(1e-5));
  CHECK(paired.d.ci_high == Approx(0.0313674).epsilon(1e-5));
  // Lower is better: the same pairs judged the other way round.
  CHECK(judge(a, b, false, 0.0, 0.95, Pairing::by_seed).verdict == Verdict::does_not_hold);
  // Not worse by 0.04 (threshold -0.04): the reversed claim holds.
  CHECK(judge(b, a, true, -0.04, 0.95, Pairing::by_seed).verdict == Verdict::holds);
}

TEST_CASE("judge by seed: the pairs it would need, one pair, equal differences", "[lab][stats]") {
  // d = {0.01, -0.02, 0.02}: inconclusive; the smallest n with t_{0.975, n-1} s_d / sqrt(n) < 0.00333.
  const ClaimVerdict v = judge({0.84, 0.85, 0.86}, {0.83, 0.87, 0.84}, true, 0.0, 0.95, Pairing::by_seed);
  CHECK(v.verdict == Verdict::inconclusive);
  const double s_d = v.d.se * std::sqrt(3.0), gap = v.d.diff;
  auto clears = [&](int n) { return student_t_quantile(0.975, n - 1) * s_d / std::sqrt(double(n)) < gap; };
  REQUIRE(v.seeds_needed > 3);
  CHECK(clears(v.seeds_needed));
  CHECK_FALSE(clears(v.seeds_needed - 1));
  CHECK(v.note.find("seeds (pairs)") != std::string::npos);

  const ClaimVerdict one = judge({0.9}, {0.1}, true, 0.0, 0.95, Pairing::by_seed);
  CHECK(one.verdict == Verdict::inconclusive);
  CHECK(one.note.find("at least 2 seeds that both sides ran") != std::string::npos);
  // The same difference under every seed: the interval is the point.
  const ClaimVerdict same = judge({0.5, 0.75, 1.0}, {0.25, 0.5, 0.75}, true, 0.0, 0.95, Pairing::by_seed);
  CHECK(same.verdict == Verdict::holds);
  CHECK(same.d.ci_low == 0.25);
  CHECK(same.note.find("every seed") != std::string::npos);
}

// The process group (core/distributed.h): a plain process is a world of one whose collectives
// leave data unchanged; under mpirun, 2 and 3 ranks agree bit for bit on every reduction.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "core/distributed.h"
#include "mpi_run.h"

using namespace nl;

TEST_CASE("distributed: a plain process is a world of one", "[core][distributed]") {
  CHECK(dist::rank() == 0);
  CHECK(dist::size() == 1);
  CHECK_FALSE(dist::active());
  CHECK_FALSE(dist::collectives_enabled());
  std::vector<float> f{1.5f, -2.0f};
  dist::allreduce_sum(f.data(), 2);
  CHECK(f == std::vector<float>{1.5f, -2.0f});
  std::vector<double> d{3.0}, all(1);
  dist::allgather(d.data(), 1, all.data());
  CHECK(all[0] == 3.0);
  CHECK(dist::comm_stats().calls == 0);
}

// Run as each rank by the test below: sums of rank-dependent values with awkward rounding must
// equal the closed form and be the same bits on every rank (checked by a second reduction).
TEST_CASE("distributed worker: collectives", "[.mpi_worker_collectives]") {
  const int r = dist::rank(), n = dist::size();
  REQUIRE(n > 1);
  std::vector<float> v(1001);
  for (size_t i = 0; i < v.size(); ++i) v[i] = 0.1f * static_cast<float>(i) + static_cast<float>(r) / 3.0f;
  dist::allreduce_sum(v.data(), static_cast<int64_t>(v.size()));
  for (size_t i = 0; i < v.size(); ++i) {
    double expect = 0;
    for (int k = 0; k < n; ++k) expect += 0.1f * static_cast<float>(i) + static_cast<float>(k) / 3.0f;
    CHECK(std::abs(v[i] - expect) <= 1e-4 * (1 + std::abs(expect)));
  }
  // Identical on every rank: rank 0's copy minus each rank's copy sums to exactly 0.
  std::vector<float> r0 = v;
  dist::broadcast(r0.data(), static_cast<int64_t>(r0.size()), 0);
  CHECK(r0 == v);
  std::vector<double> mine{static_cast<double>(r)}, all(n);
  dist::allgather(mine.data(), 1, all.data());
  for (int k = 0; k < n; ++k) CHECK(all[k] == k);
  int64_t flag = r == n - 1 ? 7 : 0;
  dist::allreduce_max(&flag, 1);
  CHECK(flag == 7);
  {
    dist::LocalScope local;
    CHECK_FALSE(dist::collectives_enabled());
  }
  CHECK(dist::collectives_enabled());
}

TEST_CASE("distributed: 2 and 3 ranks agree on every collective", "[core][distributed][mpi]") {
  SKIP_WITHOUT_MPI();
  test::check_worker_tests_pass("[.mpi_worker_collectives]", {2, 3});
}

// Tensor basics: factories, seeded random factories, views sharing storage, element access
// with bounds errors, printing, and the Rng (determinism, state save/restore).
#include <cmath>
#include <set>
#include <sstream>

#include "helpers.h"

using namespace nl;

namespace {
// Mean and (population) standard deviation of a tensor's values, in double.
std::pair<double, double> moments(const Tensor& t) {
  double s = 0.0, s2 = 0.0;
  for (float v : t.to_vector()) s += v;
  const double m = s / t.numel();
  for (float v : t.to_vector()) s2 += (v - m) * (v - m);
  return {m, std::sqrt(s2 / t.numel())};
}
}  // namespace

TEST_CASE("tensor factories fill shapes with the right values", "[tensor]") {
  Tensor z = Tensor::zeros({2, 3});
  REQUIRE(z.shape() == Shape{2, 3});
  REQUIRE(z.numel() == 6);
  REQUIRE(z.dim() == 2);
  REQUIRE(z.to_vector() == std::vector<float>(6, 0.0f));
  REQUIRE(Tensor::ones({4}).to_vector() == std::vector<float>(4, 1.0f));
  REQUIRE(Tensor::full({2, 2}, 2.5f).to_vector() == std::vector<float>(4, 2.5f));
  Tensor s = Tensor::scalar(3.0f);
  REQUIRE(s.dim() == 0);
  REQUIRE(s.numel() == 1);
  REQUIRE(s.item() == 3.0f);
  REQUIRE(Tensor::arange(0, 5).to_vector() == std::vector<float>{0, 1, 2, 3, 4});
  REQUIRE(Tensor::arange(1, 2, 0.25f).to_vector() == std::vector<float>{1, 1.25f, 1.5f, 1.75f});
  REQUIRE(Tensor::arange(5, 0, -2).to_vector() == std::vector<float>{5, 3, 1});
  REQUIRE(Tensor::arange(3, 3).numel() == 0);
  REQUIRE_THROWS_AS(Tensor::arange(0, 1, 0), ValueError);
  Tensor v = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {3, 2});
  REQUIRE(v.at({2, 1}) == 6.0f);
  REQUIRE(v.size(0) == 3);
  REQUIRE(v.size(-1) == 2);
  REQUIRE_THROWS_MENTIONING(Tensor::from_vector({1, 2, 3}, {2, 2}), "from_vector", "(2, 2)");
  REQUIRE_THROWS_AS(Tensor::zeros({2, -1}), ShapeError);
  REQUIRE(Tensor::zeros({0, 3}).numel() == 0);
  // clone is a deep copy
  Tensor c = v.clone();
  c.set({0, 0}, 100);
  REQUIRE(v.at({0, 0}) == 1.0f);
  // fill_ and copy_
  c.fill_(7);
  REQUIRE(c.to_vector() == std::vector<float>(6, 7.0f));
  c.copy_(v);
  REQUIRE(c.to_vector() == v.to_vector());
  REQUIRE_THROWS_MENTIONING(c.copy_(Tensor::zeros({5})), "copy_", "(5,)", "(3, 2)");
}

TEST_CASE("uniform and normal factories are seeded and have the right moments", "[tensor]") {
  Rng a(123), b(123), c(124);
  Tensor u1 = Tensor::uniform({20000}, -2.0f, 4.0f, a);
  Tensor u2 = Tensor::uniform({20000}, -2.0f, 4.0f, b);
  Tensor u3 = Tensor::uniform({20000}, -2.0f, 4.0f, c);
  REQUIRE(u1.to_vector() == u2.to_vector());  // same seed, same numbers
  REQUIRE(u1.to_vector() != u3.to_vector());
  for (float v : u1.to_vector()) REQUIRE((v >= -2.0f && v < 4.0f));
  auto [um, us] = moments(u1);
  // U(-2,4): mean 1, std 6/sqrt(12) = 1.732; with 2e4 samples the mean's std is ~0.012
  REQUIRE(um == Approx(1.0).margin(0.06));
  REQUIRE(us == Approx(1.7320508).margin(0.03));
  Rng d(5), e(5);
  Tensor n1 = Tensor::normal({20000}, 3.0f, 0.5f, d);
  REQUIRE(n1.to_vector() == Tensor::normal({20000}, 3.0f, 0.5f, e).to_vector());
  auto [nm, ns] = moments(n1);
  REQUIRE(nm == Approx(3.0).margin(0.02));  // std of the mean: 0.5/sqrt(2e4) = 0.0035
  REQUIRE(ns == Approx(0.5).margin(0.01));
}

TEST_CASE("reshape and view share storage, and a slice of the outer axis is a view", "[tensor]") {
  Tensor a = Tensor::arange(0, 12);
  Tensor v = a.view({3, 4});
  Tensor r = a.reshape({2, -1, 2});
  REQUIRE(r.shape() == Shape{2, 3, 2});
  v.set({2, 3}, -1.0f);
  REQUIRE(a.at({11}) == -1.0f);
  REQUIRE(r.at({1, 2, 1}) == -1.0f);
  REQUIRE(v.impl()->storage == a.impl()->storage);
  Tensor s = v.slice(0, 1, 3);  // rows 1..2: contiguous, a view at an offset
  REQUIRE(s.shape() == Shape{2, 4});
  REQUIRE(s.impl()->storage == a.impl()->storage);
  REQUIRE(s.at({0, 0}) == 4.0f);
  s.set({0, 1}, 50.0f);
  REQUIRE(a.at({5}) == 50.0f);
  // a slice of an inner axis materialises (its own storage)
  Tensor inner = v.slice(1, 1, 2);
  REQUIRE(inner.impl()->storage != a.impl()->storage);
  REQUIRE(inner.to_vector() == std::vector<float>{1, 50, 9});
}

TEST_CASE("at and set check bounds and rank", "[tensor][errors]") {
  Tensor a = Tensor::zeros({2, 3});
  a.set({1, 2}, 5.0f);
  REQUIRE(a.at({1, 2}) == 5.0f);
  REQUIRE_THROWS_MENTIONING(a.at({2, 0}), "index 2", "axis 0", "(2, 3)");
  REQUIRE_THROWS_MENTIONING(a.at({0, -1}), "index -1", "(2, 3)");
  REQUIRE_THROWS_MENTIONING(a.set({0, 3}, 1.0f), "index 3", "axis 1");
  REQUIRE_THROWS_MENTIONING(a.at({0}), "1 indices", "(2, 3)");
  REQUIRE_THROWS_MENTIONING(a.item(), "item", "(2, 3)");
}

TEST_CASE("tensors print their values, shape and grad flag", "[tensor]") {
  Tensor a = Tensor::from_vector({1, 2.5f, -3, 4}, {2, 2});
  const std::string s = a.str();
  REQUIRE(s.find("[[1, 2.5],") != std::string::npos);
  REQUIRE(s.find("[-3, 4]]") != std::string::npos);
  REQUIRE(s.find("shape=(2, 2)") != std::string::npos);
  REQUIRE(s.find("requires_grad") == std::string::npos);
  a.requires_grad_();
  std::ostringstream os;
  os << a;
  REQUIRE(os.str() == a.str());
  REQUIRE(os.str().find("requires_grad") != std::string::npos);
  // long axes are elided, scalars print as a number
  const std::string longs = Tensor::arange(0, 100).str();
  REQUIRE(longs.find("...") != std::string::npos);
  REQUIRE(longs.find("99") != std::string::npos);
  REQUIRE(longs.find("50") == std::string::npos);
  REQUIRE(Tensor::scalar(2.0f).str() == "Tensor(2, shape=())");
  REQUIRE(Tensor().str() == "Tensor(undefined)");
}

TEST_CASE("Rng is deterministic, saves and restores its state", "[tensor][rng]") {
  Rng a(42), b(42);
  for (int i = 0; i < 100; ++i) REQUIRE(a.next_u64() == b.next_u64());
  const Rng::State saved = a.state();
  std::vector<float> first;
  for (int i = 0; i < 10; ++i) first.push_back(a.normal());
  a.set_state(saved);
  for (int i = 0; i < 10; ++i) REQUIRE(a.normal() == first[i]);  // bit-identical replay
  // reseed restarts the stream
  Rng c(7);
  const uint64_t x = c.next_u64();
  c.reseed(7);
  REQUIRE(c.next_u64() == x);
  // randint covers [0, n) without leaving it
  std::set<uint64_t> seen;
  for (int i = 0; i < 1000; ++i) {
    const uint64_t r = c.randint(5);
    REQUIRE(r < 5);
    seen.insert(r);
  }
  REQUIRE(seen.size() == 5);
  // uniform is in [0, 1); fork_seed gives distinct child streams
  for (int i = 0; i < 1000; ++i) {
    const float u = c.uniform();
    REQUIRE((u >= 0.0f && u < 1.0f));
  }
  Rng parent(1);
  REQUIRE(Rng(parent.fork_seed()).next_u64() != Rng(parent.fork_seed()).next_u64());
}

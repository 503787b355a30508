// The autograd engine: accumulation, zero_grad, no_grad, detach, explicit upstream
// gradients, misuse errors, freed graphs, shared nodes over repeated passes, a backward nested
// in a backward function, deep chains, and no growth over 10,000 steps.
#include <cmath>
#include <pthread.h>

#include <functional>

#include "helpers.h"

using namespace nl;
using nl::test::rand_tensor;

TEST_CASE("a tensor used several times gets the sum of all contributions", "[autograd]") {
  Tensor x = Tensor::from_vector({1, 2, 3}, {3}).requires_grad_();
  // y = x*x + 3x + x  ->  dy/dx = 2x + 4
  Tensor y = sum(add(add(mul(x, x), mul_scalar(x, 3.0f)), x));
  y.backward();
  REQUIRE(x.grad().to_vector() == std::vector<float>{6, 8, 10});
  // a diamond: both branches from one intermediate
  Tensor w = Tensor::from_vector({0.5f}, {1}).requires_grad_();
  Tensor h = exp(w);
  sum(add(mul(h, h), h)).backward();  // d/dw (e^{2w} + e^w) = 2e^{2w} + e^w
  REQUIRE(w.grad().item() == Approx(2 * std::exp(1.0f) + std::exp(0.5f)));
}

TEST_CASE("leaf gradients accumulate across backward calls until zero_grad", "[autograd]") {
  Tensor x = Tensor::from_vector({1, -1}, {2}).requires_grad_();
  sum(mul_scalar(x, 2.0f)).backward();
  REQUIRE(x.grad().to_vector() == std::vector<float>{2, 2});
  sum(mul_scalar(x, 3.0f)).backward();
  REQUIRE(x.grad().to_vector() == std::vector<float>{5, 5});
  x.zero_grad();
  REQUIRE(!x.grad().defined());
  sum(x).backward();
  REQUIRE(x.grad().to_vector() == std::vector<float>{1, 1});
}

TEST_CASE("no_grad scope records nothing and restores the previous mode", "[autograd]") {
  Tensor x = rand_tensor({3}, 1);
  REQUIRE(grad_enabled());
  {
    NoGradGuard g;
    REQUIRE(!grad_enabled());
    Tensor y = mul(x, x);
    REQUIRE(!y.requires_grad());
    REQUIRE(!y.grad_fn());
    {
      NoGradGuard nested;
      REQUIRE(!grad_enabled());
    }
    REQUIRE(!grad_enabled());  // the inner guard restores "off", not "on"
    REQUIRE_THROWS_AS(sum(y).backward(), AutogradError);
  }
  REQUIRE(grad_enabled());
  REQUIRE(mul(x, x).requires_grad());
}

TEST_CASE("detach shares data and cuts the graph", "[autograd]") {
  Tensor x = Tensor::from_vector({1, 2}, {2}).requires_grad_();
  Tensor y = mul_scalar(x, 3.0f);
  Tensor d = y.detach();
  REQUIRE(!d.requires_grad());
  REQUIRE(!d.grad_fn());
  REQUIRE(d.data() == y.data());  // same storage
  // d acts as a constant: only the direct path contributes
  sum(add(mul(d, x), x)).backward();  // d/dx (c*x + x) = c + 1 with c = 3x (constant)
  REQUIRE(x.grad().to_vector() == std::vector<float>{4, 7});
}

TEST_CASE("backward with an explicit upstream gradient", "[autograd]") {
  Tensor x = Tensor::from_vector({1, 2, 3}, {3}).requires_grad_();
  Tensor y = mul(x, x);  // non-scalar
  y.backward(Tensor::from_vector({1, 10, 100}, {3}));
  REQUIRE(x.grad().to_vector() == std::vector<float>{2, 40, 600});
  // on a leaf, the upstream gradient is added to .grad
  Tensor leaf = Tensor::zeros({2}).requires_grad_();
  leaf.backward(Tensor::from_vector({3, 4}, {2}));
  REQUIRE(leaf.grad().to_vector() == std::vector<float>{3, 4});
  // a wrongly shaped upstream gradient is a ShapeError naming both shapes
  Tensor z = mul(x, x);
  REQUIRE_THROWS_MENTIONING(z.backward(Tensor::zeros({2})), "backward", "(2,)", "(3,)");
}

TEST_CASE("backward reads the upstream gradient without copying it and never writes it", "[autograd]") {
  // Pass-through backwards (reshape, add, a scale by 1) hand the upstream gradient straight to
  // the leaves: the leaves' .grad must be their own buffers, so accumulating into them later
  // leaves the caller's tensor untouched.
  Tensor x = Tensor::from_vector({1, 2, 3, 4}, {4}).requires_grad_();
  const Tensor dy = Tensor::from_vector({1, 10, 100, 1000}, {2, 2});
  for (int pass = 1; pass <= 3; ++pass) {
    Tensor y = add(mul_scalar(x.reshape({2, 2}), 1.0f), Tensor::zeros({2, 2}));
    y.backward(dy);
    REQUIRE(x.grad().to_vector() == std::vector<float>{1.0f * pass, 10.0f * pass, 100.0f * pass, 1000.0f * pass});
    REQUIRE(dy.to_vector() == std::vector<float>{1, 10, 100, 1000});
  }
}

TEST_CASE("an add hands its gradient to its inputs' producers without a copy, copy-on-write",
          "[autograd]") {
  // Residual patterns: the add's incoming gradient becomes both producers' accumulator (shared),
  // and a later contribution to one of them must not leak into the other (copied first).
  Tensor x = Tensor::from_vector({1, 2, 3}, {3}).requires_grad_();
  const Tensor w = Tensor::from_vector({0.5f, -2.0f, 4.0f}, {3});
  SECTION("y = a + a with a an intermediate: 2 da") {
    Tensor a = mul_scalar(x, 3.0f);
    sum(mul(add(a, a), w)).backward();
    REQUIRE(x.grad().to_vector() == std::vector<float>{3.0f, -12.0f, 24.0f});  // 6 w
  }
  SECTION("a residual block: z = h + f(h), h and f(h) intermediates") {
    Tensor h = mul_scalar(x, 2.0f);
    Tensor f = mul(h, h);                 // f(h) = h^2
    sum(mul(add(h, f), w)).backward();    // dz/dx = 2 (1 + 2h) w
    const std::vector<float> want{0.5f * 2 * (1 + 4), -2.0f * 2 * (1 + 8), 4.0f * 2 * (1 + 12)};
    REQUIRE(x.grad().to_vector() == want);
  }
  SECTION("two adds share one buffer; each producer later gets a different extra term") {
    Tensor a = mul_scalar(x, 2.0f), b = mul_scalar(x, 5.0f);
    Tensor s = add(a, b);                     // ds -> a and b, shared
    Tensor z = add(add(s, mul(a, a)), mul_scalar(b, 7.0f));  // a and b accumulate more, apart
    sum(mul(z, w)).backward();                // dz/dx = (2 + 5) + 2a*2 + 35 = 42 + 8x
    const std::vector<float> want{0.5f * 50, -2.0f * 58, 4.0f * 66};
    REQUIRE(x.grad().to_vector() == want);
  }
  SECTION("finite differences on a deeper mix of shared and accumulated gradients") {
    auto fn = [](const std::vector<Tensor>& in) {
      Tensor h = tanh(in[0]);
      Tensor r1 = add(h, mul(h, in[1]));
      Tensor r2 = add(r1, exp(mul_scalar(r1, 0.3f)));
      return sum(mul(add(r2, r1), add(h, r2)));
    };
    const auto result = gradcheck(fn, {rand_tensor({2, 5}, 7), rand_tensor({2, 5}, 8)});
    INFO(result.message);
    REQUIRE(result.ok);
  }
}

TEST_CASE("an elementwise backward writes its input's gradient over its incoming one when "
          "nothing else holds it", "[autograd]") {
  // x -> h = 3x -> probe(h) (an identity that notes where its incoming gradient lives) ->
  // y = gelu(.) -> top (writes dy into the buffer it is given and notes it). The gelu's
  // incoming gradient is held by its node alone, so its backward writes dx over it and hands
  // that buffer on: the probe must receive the very buffer top wrote.
  // (Away from z = 3x near -0.75, where gelu' crosses zero and float's cancellation would
  // dominate any relative tolerance.)
  Tensor x = Tensor::from_vector({-1.5f, -0.6f, 0.5f, 2.0f}, {4}).requires_grad_();
  const std::vector<float> dy{1.0f, -2.0f, 0.5f, 3.0f};
  const float* top_buffer = nullptr;
  const float* probe_buffer = nullptr;
  Tensor h = mul_scalar(x, 3.0f);
  Tensor probed = h.detach().clone();
  record(probed, "probe", {h}, [&](const Tensor& d, GradSink& g) {
    probe_buffer = d.data();
    g.add(0, d);
  });
  Tensor y = gelu(probed);
  Tensor top = y.detach().clone();
  record(top, "top", {y}, [&](const Tensor&, GradSink& g) {
    bool fresh = false;
    Tensor& t = g.target(0, &fresh);
    REQUIRE(fresh);
    for (int k = 0; k < 4; ++k) t.data()[k] = dy[k];
    top_buffer = t.data();
  });
  top.backward(Tensor::ones({4}));
  REQUIRE(top_buffer != nullptr);
  REQUIRE(probe_buffer == top_buffer);
  for (int k = 0; k < 4; ++k) {  // dx = dy * gelu'(3x) * 3, against a double reference
    const double z = 3.0 * x.at({k});
    const double slope = 0.5 * std::erfc(-z / std::sqrt(2.0)) +
                         z * std::exp(-0.5 * z * z) / std::sqrt(2.0 * M_PI);
    REQUIRE(x.grad().at({k}) == Approx(dy[k] * slope * 3.0).epsilon(1e-5));
  }
}

TEST_CASE("an elementwise backward never writes a gradient someone else holds", "[autograd]") {
  Tensor x = Tensor::from_vector({-1.0f, 0.5f, 2.0f}, {3}).requires_grad_();
  SECTION("the caller's upstream gradient") {
    const Tensor dy = Tensor::from_vector({1.0f, 2.0f, 3.0f}, {3});
    tanh(gelu(mul_scalar(x, 2.0f))).backward(dy);
    REQUIRE(dy.to_vector() == std::vector<float>{1.0f, 2.0f, 3.0f});
  }
  SECTION("a buffer an add handed to both its inputs") {
    // s = gelu(a) + relu(b): both producers share s's gradient; each writes its own.
    Tensor a = mul_scalar(x, 2.0f), b = mul_scalar(x, -1.0f);
    sum(mul(add(gelu(a), relu(b)), Tensor::from_vector({1.0f, 1.0f, 1.0f}, {3}))).backward();
    for (int k = 0; k < 3; ++k) {
      const double za = 2.0 * x.at({k}), zb = -1.0 * x.at({k});
      const double gelu_slope = 0.5 * std::erfc(-za / std::sqrt(2.0)) +
                                za * std::exp(-0.5 * za * za) / std::sqrt(2.0 * M_PI);
      const double want = 2.0 * gelu_slope + (zb > 0 ? -1.0 : 0.0);
      REQUIRE(x.grad().at({k}) == Approx(want).epsilon(1e-5));
    }
  }
}

TEST_CASE("backward misuse raises AutogradError", "[autograd][errors]") {
  Tensor x = rand_tensor({2, 3}, 2);
  // a non-scalar without a gradient
  REQUIRE_THROWS_AS(mul(x, x).backward(), AutogradError);
  REQUIRE_THROWS_MENTIONING(mul(x, x).backward(), "backward", "(2, 3)");
  // a tensor that does not require grad
  REQUIRE_THROWS_AS(sum(rand_tensor({2}, 3, false)).backward(), AutogradError);
  // requires_grad_(false) on a non-leaf
  Tensor y = mul(x, x);
  REQUIRE_THROWS_AS(y.requires_grad_(false), AutogradError);
}

TEST_CASE("a second backward through a freed graph fails, retain_graph keeps it", "[autograd]") {
  Tensor x = Tensor::from_vector({1, 2}, {2}).requires_grad_();
  Tensor loss = sum(mul(exp(x), x));
  loss.backward();
  REQUIRE_THROWS_AS(loss.backward(), AutogradError);
  REQUIRE_THROWS_MENTIONING(loss.backward(), "retain_graph");

  Tensor w = Tensor::from_vector({1, 2}, {2}).requires_grad_();
  Tensor l2 = sum(mul(w, w));
  l2.backward(true);
  REQUIRE(w.grad().to_vector() == std::vector<float>{2, 4});
  l2.backward(true);
  REQUIRE(w.grad().to_vector() == std::vector<float>{4, 8});  // accumulated twice
  l2.backward();
  REQUIRE(w.grad().to_vector() == std::vector<float>{6, 12});
  REQUIRE_THROWS_AS(l2.backward(), AutogradError);
}

TEST_CASE("backward through intermediates that only the graph holds", "[autograd]") {
  // The intermediates below have no handle outside the graph: freeing each node's inputs
  // during the walk must not free nodes that are still to run.
  Tensor x = Tensor::from_vector({0.5f, -0.25f}, {2}).requires_grad_();
  Tensor loss = sum(tanh(exp(mul_scalar(add_scalar(x, 1.0f), 2.0f))));
  loss.backward();
  for (int i = 0; i < 2; ++i) {
    const float v = x.at({i});
    const float e = std::exp(2 * (v + 1));
    const float t = std::tanh(e);
    REQUIRE(x.grad().at({i}) == Approx((1 - t * t) * e * 2));
  }
}

TEST_CASE("a node reached by several paths runs once per pass, pass after pass", "[autograd]") {
  // The walk marks a node with the number of the pass that reached it: a shared node (here
  // exp(x), read by three ops) must run once in each of several passes over one graph.
  Tensor x = Tensor::from_vector({0.5f, -1.0f}, {2}).requires_grad_();
  Tensor e = exp(x);
  Tensor loss = sum(add(mul(e, e), add(e, tanh(e))));
  for (int pass = 1; pass <= 3; ++pass) {
    loss.backward(/*retain_graph=*/pass < 3);
    for (int i = 0; i < 2; ++i) {
      const float ev = std::exp(x.at({i})), t = std::tanh(ev);
      const float once = (2 * ev + 1 + (1 - t * t)) * ev;
      REQUIRE(x.grad().at({i}) == Approx(pass * once).epsilon(1e-5));
    }
  }
}

TEST_CASE("a backward started inside a backward function runs on its own lists", "[autograd]") {
  // The walk reuses its lists from pass to pass on a thread; a pass begun while another is
  // walking (from inside a backward function) must not disturb the outer pass's order.
  Tensor inner_w = Tensor::from_vector({3.0f}, {1}).requires_grad_();
  Tensor x = Tensor::from_vector({2.0f}, {1}).requires_grad_();
  Tensor y = mul_scalar(x, 1.0f);  // the custom op's input, on x's graph
  Tensor inner_loss = sum(mul(inner_w, inner_w));  // recorded now: backward records nothing
  Tensor out = Tensor::empty({1});
  out.data()[0] = y.data()[0] * 5.0f;
  record(out, "times_five_with_inner_backward", {y}, [&](const Tensor& d, GradSink& g) {
    inner_loss.backward();  // a whole second pass, nested in this one
    g.add(0, mul_scalar(d, 5.0f));
  });
  sum(mul(out, add_scalar(x, 1.0f))).backward();
  // d/dx [5x (x + 1)] = 10x + 5 at x = 2; the inner pass gave d(w^2)/dw = 6.
  REQUIRE(x.grad().at({0}) == Approx(25.0f));
  REQUIRE(inner_w.grad().at({0}) == Approx(6.0f));
}

namespace {
// Runs fn on a new thread whose stack is 256 KiB (the default is 8 MiB) and waits for it.
void run_on_small_stack(const std::function<void()>& fn) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  pthread_t thread;
  auto body = [](void* arg) -> void* {
    (*static_cast<const std::function<void()>*>(arg))();
    return nullptr;
  };
  REQUIRE(pthread_create(&thread, &attr, body, const_cast<std::function<void()>*>(&fn)) == 0);
  pthread_join(thread, nullptr);
  pthread_attr_destroy(&attr);
}
}  // namespace

TEST_CASE("a 20,000-op chain runs backward and is destroyed without deep recursion",
          "[autograd]") {
  const int64_t base = live_nodes();
  constexpr int kDepth = 20000;
  {
    Tensor x = Tensor::from_vector({1.0f, 2.0f}, {2}).requires_grad_();
    Tensor y = x;
    for (int i = 0; i < kDepth; ++i) y = add_scalar(y, 0.001f);
    REQUIRE(live_nodes() - base == kDepth);
    sum(y).backward();
    REQUIRE(x.grad().to_vector() == std::vector<float>{1, 1});
  }
  REQUIRE(live_nodes() == base);
  {  // destroyed without a backward: the destructor unlinks the chain iteratively
    Tensor x = Tensor::ones({2}).requires_grad_();
    Tensor y = x;
    for (int i = 0; i < kDepth; ++i) y = mul(y, y);  // each node takes its input twice
    REQUIRE(live_nodes() - base == kDepth);
    // Dropped on a thread with a 256 KiB stack: a destructor recursing once per node would need
    // several MiB and crash here, in every build (not only where frames are large).
    run_on_small_stack([&y] { y = Tensor(); });
    REQUIRE(live_nodes() == base);
  }
  REQUIRE(live_nodes() == base);
}

TEST_CASE("a node keeps an input's values only when its backward saved them", "[autograd][memory]") {
  Tensor x = Tensor::from_vector({1.0f, 2.0f, 3.0f}, {3}).requires_grad_();
  Tensor w = Tensor::from_vector({4.0f, 5.0f, 6.0f}, {3}).requires_grad_();
  Tensor y = mul_scalar(x, 2.0f);  // an intermediate
  std::weak_ptr<Storage> y_alive = y.impl()->storage;
  Tensor through_add = add_scalar(y, 1.0f);  // its backward needs no values
  y = Tensor();
  REQUIRE(y_alive.expired());  // the graph still reaches x, but y's storage is free

  Tensor v = mul_scalar(x, 3.0f);
  std::weak_ptr<Storage> v_alive = v.impl()->storage;
  Tensor through_mul = mul(v, w);  // d/dw = v: the backward saved v
  v = Tensor();
  REQUIRE_FALSE(v_alive.expired());

  // The edges still carry the gradients: d/dx sum(2x + 1 + 3x * w) = 2 + 3w.
  sum(add(through_add, through_mul)).backward();
  REQUIRE(x.grad().to_vector() == std::vector<float>{14.0f, 17.0f, 20.0f});
  REQUIRE(w.grad().to_vector() == std::vector<float>{3.0f, 6.0f, 9.0f});
  REQUIRE(v_alive.expired());  // the backward freed the graph and the values it saved
}

TEST_CASE("gradients keep their input's shape through edges of any rank", "[autograd]") {
  for (const Shape& shape : {Shape{}, Shape{3}, Shape{2, 1, 3, 2}, Shape{1, 2, 1, 3, 2}}) {
    Tensor x = Tensor::ones(shape).requires_grad_();
    Tensor y = mul_scalar(x, 2.0f);  // an intermediate of that shape, then a leaf's edge
    sum(mul(add_scalar(y, 1.0f), x)).backward();
    // d/dx sum((2x + 1) x) = 4x + 1 = 5 at x = 1
    REQUIRE(x.grad().shape() == shape);
    for (float g : x.grad().to_vector()) REQUIRE(g == 5.0f);
  }
}

TEST_CASE("10,000 training steps leave no nodes or storages behind and stop allocating",
          "[autograd][memory]") {
  Rng rng(1);
  Tensor x = Tensor::normal({8, 16}, 0.0f, 1.0f, rng);
  Tensor t = Tensor::from_vector({0, 1, 2, 3, 0, 1, 2, 3}, {8});
  Tensor w1 = Tensor::normal({16, 32}, 0.0f, 0.2f, rng).requires_grad_();
  Tensor b1 = Tensor::zeros({32}).requires_grad_();
  Tensor w2 = Tensor::normal({32, 4}, 0.0f, 0.2f, rng).requires_grad_();
  std::vector<Tensor> params{w1, b1, w2};
  auto step = [&]() {
    Tensor h = gelu(add(matmul(x, w1), b1));
    Tensor loss = add(cross_entropy(matmul(h, w2), t), mul_scalar(mean(mul(w1, w1)), 1e-3f));
    loss.backward();
    NoGradGuard no_grad;
    for (Tensor& p : params) {
      const float* g = p.grad().data();
      float* d = p.data();
      for (int64_t i = 0; i < p.numel(); ++i) d[i] -= 0.05f * g[i];
      p.zero_grad();
    }
    return loss.item();
  };
  const int64_t nodes0 = live_nodes();
  const int64_t storages0 = allocator_stats().live_storages;
  const float first = step();
  for (int i = 0; i < 100; ++i) step();  // warm-up fills the allocator's free lists
  const int64_t allocs_warm = allocator_stats().system_allocs;
  float last = 0.0f;
  for (int i = 0; i < 10000; ++i) last = step();
  REQUIRE(live_nodes() == nodes0);
  REQUIRE(allocator_stats().live_storages == storages0);
  REQUIRE(allocator_stats().system_allocs == allocs_warm);
  REQUIRE(last < first);  // and it did train
}

#include <cmath>

#include "engine/device.hpp"
#include "engine/error.hpp"
#include "engine/memory.hpp"
#include "engine/random.hpp"
#include "engine/random_fill.hpp"
#include "engine/tensor.hpp"
#include "tests/support.hpp"

namespace latf {
namespace {

TEST(Shape, RankNumelAndText) {
  Shape s{2, 3, 4};
  EXPECT_EQ(s.rank(), 3);
  EXPECT_EQ(s.numel(), 24);
  EXPECT_EQ(s.str(), "[2, 3, 4]");
  EXPECT_EQ(Shape{}.numel(), 1);
  EXPECT_THROW((Shape{1, 2, 3, 4, 5}), InvalidArgument);
  EXPECT_THROW((Shape{-1}), InvalidArgument);
}

TEST(Tensor, ViewsShareStorage) {
  Tensor t = Tensor::from_vector(std::vector<float>{0, 1, 2, 3, 4, 5}, {2, 3});
  Tensor row = t.view(3, {3});
  row.fill(7.0);
  EXPECT_EQ(t.to_vector(), (std::vector<float>{0, 1, 2, 7, 7, 7}));
  EXPECT_THROW(t.view(4, {3}), InvalidArgument);
  EXPECT_EQ(t.reshape({3, 2}).dim(0), 3);
}

TEST(Tensor, CloneAndConversion) {
  Tensor t = Tensor::from_vector(std::vector<float>{1.5f, -2.f}, {2});
  Tensor c = t.clone();
  c.fill(0.0);
  EXPECT_EQ(t.to_vector()[0], 1.5f);
  Tensor d = t.to(DType::Float64);
  EXPECT_EQ(d.dtype(), DType::Float64);
  EXPECT_EQ(d.data<double>()[1], -2.0);
  EXPECT_THROW(d.data<float>(), InvalidArgument);
  EXPECT_THROW(Tensor::from_vector(std::vector<float>{1, 2, 3}, {2}), InvalidArgument);
  EXPECT_FLOAT_EQ(Tensor::full({1}, 3.0).item(), 3.0f);
}

TEST(Tensor, CopyRejectsShapeMismatchNamingBoth) {
  Tensor a = Tensor::zeros({2, 2});
  Tensor b = Tensor::zeros({4});
  try {
    a.copy_from(b);
    FAIL() << "expected an exception";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("[4]"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("[2, 2]"), std::string::npos) << e.what();
  }
}

TEST(MemoryPool, SizeClassesBoundWaste) {
  EXPECT_EQ(pool_size_class(1), 256u);
  EXPECT_EQ(pool_size_class(1024), 1024u);
  EXPECT_EQ(pool_size_class(1025), 1280u);
  for (std::size_t bytes : {300u, 5000u, 123457u}) {
    EXPECT_GE(pool_size_class(bytes), bytes);
    EXPECT_LE(pool_size_class(bytes), bytes * 5 / 4 + 256);
  }
}

TEST(MemoryPool, SteadyStateReusesBlocks) {
  auto step = [] {
    Tensor a = Tensor::zeros({512, 16});
    Tensor b = Tensor::zeros({512, 16});
    Tensor c = Tensor::zeros({1000});
  };
  step();
  const PoolStats before = pool_stats(Device::cpu());
  for (int i = 0; i < 10; ++i) step();
  const PoolStats after = pool_stats(Device::cpu());
  EXPECT_EQ(after.raw_allocations, before.raw_allocations);
  EXPECT_EQ(after.requests, before.requests + 30);
  EXPECT_EQ(after.bytes_in_use, before.bytes_in_use);
}

TEST(Device, ParsesNames) {
  EXPECT_TRUE(parse_device("cpu").is_cpu());
  EXPECT_EQ(parse_device("cuda:3").index, 3);
  EXPECT_EQ(parse_device("cuda").index, 0);
  EXPECT_EQ(parse_device("auto").is_cuda(), cuda_device_count() > 0);
  EXPECT_THROW(parse_device("gpu"), InvalidArgument);
  EXPECT_THROW(parse_device("cuda:x"), InvalidArgument);
  EXPECT_THROW(parse_device("cuda:"), InvalidArgument);
  if (cuda_device_count() == 0) {
    EXPECT_THROW(require_usable(Device::cuda(0)), InvalidArgument);
  }
}

// Known-answer vectors of Philox4x32-10 published with Random123 (kat_vectors).
TEST(Random, PhiloxKnownAnswers) {
  struct Case {
    rng::Philox4 counter;
    std::uint32_t k0, k1;
    rng::Philox4 expected;
  };
  const Case cases[] = {
      {{{0, 0, 0, 0}}, 0, 0, {{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}}},
      {{{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}}, 0xffffffff, 0xffffffff,
       {{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}}},
      {{{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}}, 0xa4093822, 0x299f31d0,
       {{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}}},
  };
  for (const Case& c : cases) {
    const rng::Philox4 out = rng::philox4x32_10(c.counter, c.k0, c.k1);
    for (int j = 0; j < 4; ++j) EXPECT_EQ(out.v[j], c.expected.v[j]);
  }
}

TEST(Random, NormalFillIsReproducibleWithRightMoments) {
  Tensor a = Tensor::empty({100001});
  Tensor b = Tensor::empty({100001});
  fill_normal(a, 42, 3);
  fill_normal(b, 42, 3);
  EXPECT_EQ(a.to_vector(), b.to_vector());
  fill_normal(b, 42, 4);
  EXPECT_NE(a.to_vector(), b.to_vector());
  double sum = 0, sum_sq = 0;
  for (float v : a.to_vector()) {
    sum += v;
    sum_sq += double(v) * v;
  }
  const double mean = sum / a.numel(), var = sum_sq / a.numel() - mean * mean;
  EXPECT_NEAR(mean, 0.0, 0.02);  // 6 standard errors
  EXPECT_NEAR(var, 1.0, 0.03);
}

TEST(Random, UniformFillStaysInRange) {
  Tensor u = Tensor::empty({10000}, Device::cpu(), DType::Float64);
  fill_uniform(u, 1, 0, -2.0, 3.0);
  double lo = 1e9, hi = -1e9;
  for (double v : u.to_double_vector()) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  EXPECT_GT(lo, -2.0);
  EXPECT_LT(hi, 3.0);
  EXPECT_LT(lo, -1.99);
  EXPECT_GT(hi, 2.99);
  EXPECT_THROW(fill_uniform(u, 1, 0, 1.0, 1.0), InvalidArgument);
}

}  // namespace
}  // namespace latf

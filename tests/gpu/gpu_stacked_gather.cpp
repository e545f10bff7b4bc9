// CPU vs CUDA for the stacked (one-launch) batch gather and noise fill, and their device-side
// counters: the values a captured step graph would read from device memory.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "engine/random_fill.hpp"
#include "kernels/gather.hpp"
#include "kernels/permutation.hpp"
#include "tests/support.hpp"

namespace latf {
namespace {

using kernels::Indices;
using kernels::PairBatch;
using kernels::PairSource;
using kernels::StackedPairSource;

constexpr std::int64_t kFrames = 301, kDescriptors = 3, kLag = 4, kPairs = 257;
constexpr int kStates = 6, kModels = 3;

StackedPairSource make_source(const Device& device, bool shuffled) {
  StackedPairSource s;
  s.split.frames = testing::random_tensor({kFrames, kDescriptors}, 11, -2, 2, DType::Float32, device);
  s.split.weights = testing::random_tensor({kFrames}, 12, 0.1, 3, DType::Float32, device);
  s.split.inverse_temperature = testing::random_tensor({kFrames}, 13, 0.5, 2, DType::Float32, device);
  std::vector<std::int64_t> present, labels;
  for (std::int64_t p = 0; p < kPairs; ++p) present.push_back((p * 37 + 5) % (kFrames - kLag));
  for (int m = 0; m < kModels; ++m)
    for (std::int64_t t = 0; t < kFrames; ++t) labels.push_back((t * (m + 1) + 2 * m) % kStates);
  s.split.present = Indices::from_vector(present, device);
  s.split.lag = kLag;
  s.split.states = kStates;
  s.labels = Indices::from_vector(labels, device);
  if (shuffled) {
    s.orders = Indices::empty(kModels * kPairs, device);
    for (int m = 0; m < kModels; ++m) {
      if (m == 1) {
        kernels::stack_identity(s.orders, m, kPairs);
        continue;
      }
      Indices order = Indices::empty(kPairs, device);
      kernels::permutation(order, 50 + m, 10'000 + m);
      kernels::stack_indices(s.orders, m, order);
    }
  }
  return s;
}

PairBatch make_batch(const Device& device, std::int64_t rows) {
  return {Tensor::full({kModels, rows, kDescriptors}, -9, device), Tensor::full({kModels, rows, kStates}, -9, device),
          Tensor::full({kModels, rows}, -9, device), Tensor::full({kModels, rows}, -9, device)};
}

void expect_same_bits(const PairBatch& gpu, const PairBatch& cpu) {
  EXPECT_EQ(testing::float_bits(gpu.inputs), testing::float_bits(cpu.inputs));
  EXPECT_EQ(testing::float_bits(gpu.targets), testing::float_bits(cpu.targets));
  EXPECT_EQ(testing::float_bits(gpu.weights), testing::float_bits(cpu.weights));
  EXPECT_EQ(testing::float_bits(gpu.inverse_temperature), testing::float_bits(cpu.inverse_temperature));
}

// A gather copies values, so the two backends agree exactly; the GPU walks the epoch from its
// device counter alone (the host never writes the start between batches).
TEST(GpuStackedGather, EpochFromTheDeviceCounterMatchesCpu) {
  LATF_SKIP_WITHOUT_GPU();
  for (bool shuffled : {false, true}) {
    const StackedPairSource cpu = make_source(Device::cpu(), shuffled), gpu = make_source(Device::cuda(0), shuffled);
    constexpr std::int64_t kBatch = 64;
    Indices gpu_start = Indices::from_vector({0}, Device::cuda(0));
    for (std::int64_t start = 0; start < kPairs; start += kBatch) {
      const std::int64_t rows = std::min(kBatch, kPairs - start);
      PairBatch on_cpu = make_batch(Device::cpu(), rows), on_gpu = make_batch(Device::cuda(0), rows);
      kernels::gather_pairs_stacked(cpu, Indices::from_vector({start}), on_cpu);
      kernels::gather_pairs_stacked(gpu, gpu_start, on_gpu);
      SCOPED_TRACE(::testing::Message() << "shuffled " << shuffled << ", start " << start);
      expect_same_bits(on_gpu, on_cpu);
      kernels::advance_position(gpu_start, kBatch, kPairs);
    }
    EXPECT_EQ(gpu_start.to_vector(), std::vector<std::int64_t>{0});
  }
}

TEST(GpuStackedGather, RowsOutsideTheSplitAreZeroWithWeightZero) {
  LATF_SKIP_WITHOUT_GPU();
  const StackedPairSource gpu = make_source(Device::cuda(0), true), cpu = make_source(Device::cpu(), true);
  PairBatch on_gpu = make_batch(Device::cuda(0), 8), on_cpu = make_batch(Device::cpu(), 5);
  kernels::gather_pairs_stacked(gpu, Indices::from_vector({kPairs - 5}, Device::cuda(0)), on_gpu);
  kernels::gather_pairs_stacked(cpu, Indices::from_vector({kPairs - 5}), on_cpu);
  const auto w = on_gpu.weights.to_vector(), expected = on_cpu.weights.to_vector();
  const auto x = on_gpu.inputs.to_vector();
  for (int m = 0; m < kModels; ++m) {
    for (int r = 0; r < 5; ++r) EXPECT_EQ(w[m * 8 + r], expected[m * 5 + r]) << m << ", " << r;
    for (int r = 5; r < 8; ++r) {
      EXPECT_EQ(w[m * 8 + r], 0.f) << m << ", " << r;
      for (int j = 0; j < kDescriptors; ++j) EXPECT_EQ(x[(m * 8 + r) * kDescriptors + j], 0.f);
    }
  }
}

TEST(GpuStackedGather, RejectsOperandsOnAnotherDevice) {
  LATF_SKIP_WITHOUT_GPU();
  const StackedPairSource gpu = make_source(Device::cuda(0), true);
  PairBatch batch = make_batch(Device::cuda(0), 8);
  testing::expect_invalid_argument([&] { kernels::gather_pairs_stacked(gpu, Indices::from_vector({0}), batch); },
                                   "gather_pairs_stacked step_start");
  StackedPairSource bad = gpu;
  bad.labels = bad.labels.to(Device::cpu());
  testing::expect_invalid_argument(
      [&] { kernels::gather_pairs_stacked(bad, Indices::from_vector({0}, Device::cuda(0)), batch); },
      "gather_pairs_stacked labels");
  bad = gpu;
  bad.orders = bad.orders.to(Device::cpu());
  testing::expect_invalid_argument(
      [&] { kernels::gather_pairs_stacked(bad, Indices::from_vector({0}, Device::cuda(0)), batch); },
      "gather_pairs_stacked orders");
  PairBatch on_cpu = make_batch(Device::cpu(), 8);
  testing::expect_invalid_argument(
      [&] { kernels::gather_pairs_stacked(gpu, Indices::from_vector({0}, Device::cuda(0)), on_cpu); },
      "gather_pairs_stacked batch inputs");
  Indices flat = Indices::empty(6, Device::cuda(0));
  testing::expect_invalid_argument([&] { kernels::stack_indices(flat, 0, Indices::from_vector({1, 2, 3})); },
                                   "stack_indices part");
  Tensor out = Tensor::empty({2, 4}, Device::cuda(0));
  testing::expect_invalid_argument(
      [&] { fill_normal_stacked(out, Indices::from_vector({1, 2}), Indices::from_vector({1, 2}, Device::cuda(0))); },
      "fill_normal_stacked seeds");
}

// The fill runs the same formula on both devices (Box–Muller in double, rounded to float), so the
// CUDA fill matches the CPU to float rounding; on one device, a stacked fill equals the single
// fills of its slices bit for bit.
TEST(GpuStackedFill, MatchesCpuAndSingleFills) {
  LATF_SKIP_WITHOUT_GPU();
  const std::vector<std::int64_t> seeds = {5, 5, 1ll << 40}, streams = {0, 9, (1ll << 41) + 2};
  const Indices gpu_seeds = Indices::from_vector(seeds, Device::cuda(0));
  Indices gpu_streams = Indices::from_vector(streams, Device::cuda(0));
  for (int step = 0; step < 2; ++step) {
    Tensor gpu = Tensor::empty({3, 37, 3}, Device::cuda(0)), cpu = Tensor::empty({3, 37, 3});
    std::vector<std::int64_t> host_streams = streams;
    for (auto& s : host_streams) s += step;
    fill_normal_stacked(gpu, gpu_seeds, gpu_streams);
    fill_normal_stacked(cpu, Indices::from_vector(seeds), Indices::from_vector(host_streams));
    EXPECT_LT(testing::max_relative_error(gpu, cpu), 1e-6) << "step " << step;
    for (int m = 0; m < 3; ++m) {
      Tensor single = Tensor::empty({37 * 3}, Device::cuda(0));
      fill_normal(single, static_cast<std::uint64_t>(seeds[m]), static_cast<std::uint64_t>(host_streams[m]));
      EXPECT_EQ(testing::float_bits(gpu.view(m * 111, {111})), testing::float_bits(single)) << m << ", " << step;
    }
    advance_streams(gpu_streams);
  }
  EXPECT_EQ(gpu_streams.to_vector(), (std::vector<std::int64_t>{2, 11, (1ll << 41) + 4}));
}

}  // namespace
}  // namespace latf

#include "kernels/gather.hpp"

#include <utility>

#include "kernels/gather_math.hpp"

namespace latf::kernels {

#if LATF_WITH_CUDA
void gather_pairs_cuda(const PairGatherArgs& args, std::int64_t rows, int device_index);
#endif

namespace {

void require_float32(const Tensor& t, const char* operand) {
  LATF_REQUIRE(t.dtype() == DType::Float32, operand, ": expected float32, got ", dtype_name(t.dtype()));
}

void require_indices_on(const Indices& list, const Device& device, const char* operand) {
  LATF_REQUIRE(list.defined(), operand, ": not allocated");
  LATF_REQUIRE(list.device() == device, operand, ": expected on ", device.str(), " (where the frames are), got ",
               list.device().str());
}

void check_source(const PairSource& s) {
  require_defined(s.frames, "gather frames");
  LATF_REQUIRE(s.frames.rank() == 2, "gather frames: expected rank 2 [F, D], got shape ", s.frames.shape().str());
  require_float32(s.frames, "gather frames");
  const std::int64_t f = s.frames.dim(0);
  require_shape(s.weights, {f}, "gather weights");
  require_shape(s.inverse_temperature, {f}, "gather inverse_temperature");
  require_float32(s.weights, "gather weights");
  require_float32(s.inverse_temperature, "gather inverse_temperature");
  require_same_device(s.frames, s.weights, "gather frames", "gather weights");
  require_same_device(s.frames, s.inverse_temperature, "gather frames", "gather inverse_temperature");
  require_indices_on(s.labels, s.frames.device(), "gather labels");
  require_indices_on(s.present, s.frames.device(), "gather present");
  LATF_REQUIRE(s.labels.size() == f, "gather labels: expected ", f, " entries (one per frame), got ", s.labels.size());
  LATF_REQUIRE(s.lag >= 0 && s.lag < f, "gather lag: expected in [0, ", f, "), got ", s.lag);
  LATF_REQUIRE(s.states >= 1, "gather states: expected ≥ 1, got ", s.states);
}

// The rows are already gathered one lookup per row; what costs is that each row's present frame is
// a random place in the data set (the order is shuffled), so the loads of present[pair] and then
// of x_t, label(t + lag), w_t and b_t miss the cache, each row waiting on its own misses. Prefetching
// the pair list kPairAhead rows ahead and, once that has arrived, the frame's data kFrameAhead rows
// ahead overlaps those misses (epoch bench, D = 2, K = 10: 1.6x at 0.2M frames, 1.2-1.4x at 1M); the values
// written are those of pair_gather_row, unchanged.
void gather_pairs_cpu(const PairGatherArgs& a, std::int64_t rows) {
  constexpr std::int64_t kPairAhead = 32, kFrameAhead = 16;
  for (std::int64_t r = 0; r < rows; ++r) {
    if (r + kPairAhead < rows) __builtin_prefetch(a.present + pair_gather_pair(a, a.start + r + kPairAhead));
    if (r + kFrameAhead < rows) {
      const std::int64_t t = a.present[pair_gather_pair(a, a.start + r + kFrameAhead)];
      __builtin_prefetch(a.frames + t * a.descriptors);
      __builtin_prefetch(a.labels + t + a.lag);
      __builtin_prefetch(a.weights + t);
      __builtin_prefetch(a.inverse_temperature + t);
    }
    pair_gather_row(a, r);
  }
}

}  // namespace

void resize_pair_batch(const PairSource& source, std::int64_t rows, PairBatch& batch) {
  check_source(source);
  LATF_REQUIRE(rows >= 0, "gather batch rows: expected ≥ 0, got ", rows);
  const Device& device = source.frames.device();
  const std::int64_t d = source.frames.dim(1), k = source.states;
  if (batch.inputs.defined() && batch.targets.defined() && batch.inputs.device() == device &&
      batch.inputs.shape() == Shape{rows, d} && batch.targets.shape() == Shape{rows, k})
    return;
  batch.inputs = Tensor::empty({rows, d}, device);
  batch.targets = Tensor::empty({rows, k}, device);
  batch.weights = Tensor::empty({rows}, device);
  batch.inverse_temperature = Tensor::empty({rows}, device);
}

void gather_pairs(const PairSource& source, const Indices& order, std::int64_t start, PairBatch& batch) {
  check_source(source);
  require_defined(batch.inputs, "gather batch inputs");
  const std::int64_t rows = batch.inputs.dim(0), d = source.frames.dim(1), k = source.states;
  require_shape(batch.inputs, {rows, d}, "gather batch inputs");
  require_shape(batch.targets, {rows, k}, "gather batch targets");
  require_shape(batch.weights, {rows}, "gather batch weights");
  require_shape(batch.inverse_temperature, {rows}, "gather batch inverse_temperature");
  const std::pair<const Tensor*, const char*> outputs[] = {
      {&batch.inputs, "gather batch inputs"}, {&batch.targets, "gather batch targets"},
      {&batch.weights, "gather batch weights"}, {&batch.inverse_temperature, "gather batch inverse_temperature"}};
  for (const auto& [t, name] : outputs) {
    require_float32(*t, name);
    require_same_device(source.frames, *t, "gather frames", name);
  }
  const std::int64_t positions = order.defined() ? order.size() : source.present.size();
  if (order.defined()) require_indices_on(order, source.frames.device(), "gather order");
  LATF_REQUIRE(start >= 0 && start + rows <= positions, "gather slice: rows [", start, ", ", start + rows,
               ") outside the ", positions, " positions of ", order.defined() ? "the order" : "the pair list");

  PairGatherArgs args;
  args.frames = source.frames.data<float>();
  args.labels = source.labels.data();
  args.weights = source.weights.data<float>();
  args.inverse_temperature = source.inverse_temperature.data<float>();
  args.present = source.present.data();
  args.order = order.defined() ? order.data() : nullptr;
  args.start = start;
  args.lag = source.lag;
  args.descriptors = d;
  args.states = k;
  args.out_inputs = batch.inputs.data<float>();
  args.out_targets = batch.targets.data<float>();
  args.out_weights = batch.weights.data<float>();
  args.out_inverse_temperature = batch.inverse_temperature.data<float>();
  if (rows == 0) return;
  if (source.frames.device().is_cuda()) {
#if LATF_WITH_CUDA
    gather_pairs_cuda(args, rows, source.frames.device().index);
#else
    no_cuda_backend("gather_pairs");
#endif
    return;
  }
  gather_pairs_cpu(args, rows);
}

}  // namespace latf::kernels

#include "kernels/gather.hpp"

#include <cstring>
#include <utility>

#include "engine/cuda_runtime.hpp"
#include "kernels/gather_math.hpp"

namespace latf::kernels {

#if LATF_WITH_CUDA
void gather_pairs_cuda(const PairGatherArgs& args, std::int64_t rows, int device_index);
void gather_pairs_stacked_cuda(const StackedPairGatherArgs& args, std::int64_t models, int device_index);
void advance_position_cuda(std::int64_t* position, std::int64_t by, std::int64_t wrap, int device_index);
void stack_identity_cuda(std::int64_t* out, std::int64_t n, int device_index);
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

// Everything of a split but its labels (the stacked gather takes per-model labels apart).
void check_shared(const PairSource& s) {
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
  require_indices_on(s.present, s.frames.device(), "gather present");
  LATF_REQUIRE(s.lag >= 0 && s.lag < f, "gather lag: expected in [0, ", f, "), got ", s.lag);
  LATF_REQUIRE(s.states >= 1, "gather states: expected ≥ 1, got ", s.states);
}

void check_source(const PairSource& s) {
  check_shared(s);
  const std::int64_t f = s.frames.dim(0);
  require_indices_on(s.labels, s.frames.device(), "gather labels");
  LATF_REQUIRE(s.labels.size() == f, "gather labels: expected ", f, " entries (one per frame), got ", s.labels.size());
}

// The batch tensors: inputs `in` ([…, D]), targets `out_targets` ([…, K]), weights and factors
// `rows_shape` ([…]); float32 on the frames' device.
void check_batch(const PairSource& source, const PairBatch& batch, const Shape& in, const Shape& out_targets,
                 const Shape& rows_shape, const char* inputs, const char* targets, const char* weights,
                 const char* factors) {
  require_shape(batch.inputs, in, inputs);
  require_shape(batch.targets, out_targets, targets);
  require_shape(batch.weights, rows_shape, weights);
  require_shape(batch.inverse_temperature, rows_shape, factors);
  const std::pair<const Tensor*, const char*> outputs[] = {
      {&batch.inputs, inputs}, {&batch.targets, targets}, {&batch.weights, weights}, {&batch.inverse_temperature, factors}};
  for (const auto& [t, name] : outputs) {
    require_float32(*t, name);
    require_same_device(source.frames, *t, "gather frames", name);
  }
}

PairGatherArgs gather_args(const PairSource& source, const Indices& labels, const Indices& order,
                           const PairBatch& batch) {
  PairGatherArgs args;
  args.frames = source.frames.data<float>();
  args.labels = labels.data();
  args.weights = source.weights.data<float>();
  args.inverse_temperature = source.inverse_temperature.data<float>();
  args.present = source.present.data();
  args.order = order.defined() ? order.data() : nullptr;
  args.lag = source.lag;
  args.descriptors = source.frames.dim(1);
  args.states = source.states;
  args.out_inputs = batch.inputs.data<float>();
  args.out_targets = batch.targets.data<float>();
  args.out_weights = batch.weights.data<float>();
  args.out_inverse_temperature = batch.inverse_temperature.data<float>();
  return args;
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
  const std::int64_t rows = batch.inputs.dim(0);
  const std::int64_t d = source.frames.dim(1), k = source.states;
  check_batch(source, batch, {rows, d}, {rows, k}, {rows}, "gather batch inputs", "gather batch targets", "gather batch weights",
              "gather batch inverse_temperature");
  const std::int64_t positions = order.defined() ? order.size() : source.present.size();
  if (order.defined()) require_indices_on(order, source.frames.device(), "gather order");
  LATF_REQUIRE(start >= 0 && start + rows <= positions, "gather slice: rows [", start, ", ", start + rows,
               ") outside the ", positions, " positions of ", order.defined() ? "the order" : "the pair list");

  PairGatherArgs args = gather_args(source, source.labels, order, batch);
  args.start = start;
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

void gather_pairs_stacked(const StackedPairSource& source, const Indices& step_start, PairBatch& batch) {
  const PairSource& split = source.split;
  check_shared(split);
  require_defined(batch.inputs, "gather_pairs_stacked batch inputs");
  LATF_REQUIRE(batch.inputs.rank() == 3, "gather_pairs_stacked batch inputs: expected stacked rank 3 [M, B, D], got shape ",
               batch.inputs.shape().str());
  const std::int64_t models = batch.inputs.dim(0), rows = batch.inputs.dim(1);
  const std::int64_t frames = split.frames.dim(0), positions = split.present.size();
  const std::int64_t d = split.frames.dim(1), k = split.states;
  check_batch(split, batch, {models, rows, d}, {models, rows, k}, {models, rows}, "gather_pairs_stacked batch inputs",
              "gather_pairs_stacked batch targets", "gather_pairs_stacked batch weights",
              "gather_pairs_stacked batch inverse_temperature");
  const Device& device = split.frames.device();
  require_indices_on(source.labels, device, "gather_pairs_stacked labels");
  LATF_REQUIRE(source.labels.size() == models * frames, "gather_pairs_stacked labels: expected ", models * frames,
               " entries (", models, " models × ", frames, " frames, model m from m·F), got ", source.labels.size());
  if (source.orders.defined()) {
    require_indices_on(source.orders, device, "gather_pairs_stacked orders");
    LATF_REQUIRE(source.orders.size() == models * positions, "gather_pairs_stacked orders: expected ",
                 models * positions, " entries (", models, " models × ", positions, " pairs, model m from m·P), got ",
                 source.orders.size());
  }
  require_indices_on(step_start, device, "gather_pairs_stacked step_start");
  LATF_REQUIRE(step_start.size() == 1, "gather_pairs_stacked step_start: expected 1 entry, got ", step_start.size());

  StackedPairGatherArgs args;
  args.model0 = gather_args(split, source.labels, source.orders, batch);
  args.start = step_start.data();
  args.rows = rows;
  args.positions = positions;
  args.label_stride = frames;
  args.order_stride = source.orders.defined() ? positions : 0;
  if (device.is_cuda()) {
    if (models == 0 || rows == 0) return;
#if LATF_WITH_CUDA
    gather_pairs_stacked_cuda(args, models, device.index);
#else
    no_cuda_backend("gather_pairs_stacked");
#endif
    return;
  }
  const std::int64_t start = *args.start;
  LATF_REQUIRE(start >= 0 && start + rows <= positions, "gather_pairs_stacked step_start: rows [", start, ", ",
               start + rows, ") outside the ", positions, " positions of the split");
  // Model by model through the single gather's own loop: equal to M gather_pairs calls by construction.
  for (std::int64_t m = 0; m < models; ++m) gather_pairs_cpu(stacked_pair_gather_model(args, m, start), rows);
}

void advance_position(Indices& position, std::int64_t by, std::int64_t wrap) {
  LATF_REQUIRE(position.defined(), "advance_position position: not allocated");
  LATF_REQUIRE(position.size() == 1, "advance_position position: expected 1 entry, got ", position.size());
  LATF_REQUIRE(by >= 0, "advance_position by: expected ≥ 0, got ", by);
  LATF_REQUIRE(wrap >= 1, "advance_position wrap: expected ≥ 1, got ", wrap);
  if (position.device().is_cuda()) {
#if LATF_WITH_CUDA
    advance_position_cuda(position.data(), by, wrap, position.device().index);
#else
    no_cuda_backend("advance_position");
#endif
    return;
  }
  position.data()[0] = advanced_position(position.data()[0], by, wrap);
}

namespace {
// Checks that [model·n, (model + 1)·n) is a block of `flat` (n entries, a multiple of them in all).
void check_block(const Indices& flat, std::int64_t model, std::int64_t n, const char* op) {
  LATF_REQUIRE(flat.defined(), op, " flat: not allocated");
  LATF_REQUIRE(n >= 0, op, " part: expected ≥ 0 entries, got ", n);
  LATF_REQUIRE(model >= 0, op, " model: expected ≥ 0, got ", model);
  if (n == 0) return;
  LATF_REQUIRE(flat.size() % n == 0, op, " flat: expected a multiple of ", n, " entries (one block per model), got ",
               flat.size());
  LATF_REQUIRE(model < flat.size() / n, op, " model: expected in [0, ", flat.size() / n, "), got ", model);
}
}  // namespace

void stack_indices(Indices& flat, std::int64_t model, const Indices& part) {
  LATF_REQUIRE(part.defined(), "stack_indices part: not allocated");
  check_block(flat, model, part.size(), "stack_indices");
  LATF_REQUIRE(part.device() == flat.device(), "stack_indices part: expected on ", flat.device().str(),
               " (where flat is), got ", part.device().str());
  const std::int64_t n = part.size();
  if (n == 0) return;
  const std::size_t bytes = static_cast<std::size_t>(n) * sizeof(std::int64_t);
  if (flat.device().is_cuda()) {
    cuda::copy(flat.data() + model * n, part.data(), bytes, cuda::CopyKind::DeviceToDevice, flat.device().index);
  } else {
    std::memcpy(flat.data() + model * n, part.data(), bytes);
  }
}

void stack_identity(Indices& flat, std::int64_t model, std::int64_t n) {
  check_block(flat, model, n, "stack_identity");
  if (n == 0) return;
  std::int64_t* out = flat.data() + model * n;
  if (flat.device().is_cuda()) {
#if LATF_WITH_CUDA
    stack_identity_cuda(out, n, flat.device().index);
#else
    no_cuda_backend("stack_identity");
#endif
    return;
  }
  for (std::int64_t i = 0; i < n; ++i) out[i] = i;
}

}  // namespace latf::kernels

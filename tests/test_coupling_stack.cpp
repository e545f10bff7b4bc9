// The fused RealNVP coupling stack (kernels/coupling_stack.hpp): forward and every gradient
// against its oracle, the chain of L `coupling` ops over views of the same flat parameter buffer
// (single and model-stacked forms); finite differences; the flow-layer contract (round trip,
// log-dets cancel, log-det = log|det J| of a numeric Jacobian); stacked = per-model single calls
// bit for bit; bad input named.
#include <Eigen/Dense>
#include <cmath>

#include "autodiff/gradcheck.hpp"
#include "autodiff/ops.hpp"
#include "kernels/coupling_stack.hpp"
#include "tests/support.hpp"

namespace latf {
namespace {

using autodiff::CouplingOutputs;
using autodiff::Tape;
using autodiff::Var;
using kernels::CouplingDirection;
using kernels::CouplingSpec;

const char* direction_name(CouplingDirection dir) {
  return dir == CouplingDirection::Generative ? "generative" : "normalizing";
}

// Masks [L, d] that vary over the layers: first half, second half, even entries; all 0 for d = 1.
Tensor make_masks(int dim, int layers, DType dtype) {
  std::vector<double> values(std::size_t(layers) * dim, 0.0);
  if (dim > 1)
    for (int l = 0; l < layers; ++l)
      for (int j = 0; j < dim; ++j) {
        const bool first_half = j < dim / 2;
        const int pattern = l % 3;
        values[l * dim + j] = (pattern == 0 ? first_half : pattern == 1 ? !first_half : j % 2 == 0) ? 1.0 : 0.0;
      }
  return Tensor::from_vector(values, {layers, dim}).to(dtype);
}

CouplingSpec make_spec(int dim, int hidden, float clamp, CouplingDirection dir = CouplingDirection::Generative) {
  CouplingSpec spec;
  spec.dim = dim;
  spec.hidden = hidden;
  spec.scale_clamp = clamp;
  spec.direction = dir;
  return spec;
}

// Flow parameters for `models` models (0: single form), each model's a nonzero so that the scale
// path is live.
Tensor make_params(const CouplingSpec& spec, int layers, std::int64_t models, std::uint64_t seed, DType dtype) {
  return testing::random_tensor({kernels::coupling_stack_params_size(spec, layers, std::max<std::int64_t>(models, 1))},
                                seed, -0.5, 0.5, dtype);
}

// Layer l's blocks inside a flow buffer of `m` models (m = 1: single form).
struct Blocks {
  std::int64_t size, dim, m;
  bool stacked;
  std::int64_t layer(int l) const { return l * m * (2 * size + dim); }
  Shape shape(std::int64_t width) const { return stacked ? Shape{m, width} : Shape{width}; }
};

// The oracle: the chain of L coupling ops, each on views of the flat buffer (params, grads).
CouplingOutputs chain(Tape& tape, Var x, const Tensor& masks, const Tensor& params, const Tensor& grads,
                      const CouplingSpec& spec, int layers, std::int64_t models) {
  const Blocks b{spec.net().size(), spec.dim, std::max<std::int64_t>(models, 1), models > 0};
  const bool generative = spec.direction == CouplingDirection::Generative;
  CouplingOutputs result{x, Var{}};
  for (int k = 0; k < layers; ++k) {
    const int l = generative ? k : layers - 1 - k;
    const std::int64_t s = b.layer(l), t = s + b.m * b.size, a = t + b.m * b.size;
    auto bind = [&](std::int64_t offset, std::int64_t width) {
      return tape.parameter(params.view(offset, b.shape(width)), grads.view(offset, b.shape(width)));
    };
    const auto out = autodiff::coupling(tape, result.y, tape.constant(masks.view(l * spec.dim, {spec.dim})),
                                        bind(s, b.size), bind(t, b.size), bind(a, b.dim), spec);
    result.y = out.y;
    result.log_det = result.log_det.valid() ? autodiff::axpby(tape, 1.0, result.log_det, 1.0, out.log_det) : out.log_det;
  }
  return result;
}

struct RunResult {
  Tensor y, log_det, dx, dparams;
};

// Forward, then backward of L = Σ ry ⊙ y + Σ rl ⊙ log_det, through the fused op or the oracle.
RunResult run(bool fused, const Tensor& x, const Tensor& masks, const Tensor& params, const CouplingSpec& spec, int layers,
        std::int64_t models, const Tensor& ry, const Tensor& rl) {
  RunResult r;
  r.dx = Tensor::zeros(x.shape(), x.device(), x.dtype());
  r.dparams = Tensor::zeros(params.shape(), params.device(), params.dtype());
  Tape tape;
  Var xv = tape.parameter(x, r.dx);
  const CouplingOutputs out =
      fused ? autodiff::coupling_stack(tape, xv, tape.constant(masks), tape.parameter(params, r.dparams), spec, layers)
            : chain(tape, xv, masks, params, r.dparams, spec, layers, models);
  r.y = tape.value(out.y).clone();
  r.log_det = tape.value(out.log_det).clone();
  Var loss = autodiff::axpby(tape, 1.0, autodiff::weighted_sum(tape, out.y, tape.constant(ry)), 1.0,
                             autodiff::weighted_sum(tape, out.log_det, tape.constant(rl)));
  tape.backward(loss);
  return r;
}

// ---------------------------------------------------------------- against the chain of coupling ops

struct Case {
  int dim, hidden, layers;
  std::int64_t n;
  float clamp;
  std::int64_t models;  // 0: single form
};

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  const Case& c = info.param;
  std::string name = "d" + std::to_string(c.dim) + "_h" + std::to_string(c.hidden) + "_L" + std::to_string(c.layers) +
                     "_n" + std::to_string(c.n) + (c.clamp > 0 ? "_clamped" : "");
  return c.models > 0 ? name + "_stacked" + std::to_string(c.models) : name;
}

class CouplingStackOracle : public ::testing::TestWithParam<Case> {
 protected:
  void compare(DType dtype, double tolerance) {
    const Case c = GetParam();
    const Shape xs = c.models > 0 ? Shape{c.models, c.n, c.dim} : Shape{c.n, c.dim};
    const Shape ls = c.models > 0 ? Shape{c.models, c.n} : Shape{c.n};
    const Tensor masks = make_masks(c.dim, c.layers, dtype);
    const Tensor x = testing::random_tensor(xs, 3, -2, 2, dtype), ry = testing::random_tensor(xs, 4, -1, 1, dtype),
                 rl = testing::random_tensor(ls, 5, -1, 1, dtype);
    for (CouplingDirection dir : {CouplingDirection::Generative, CouplingDirection::Normalizing}) {
      const CouplingSpec spec = make_spec(c.dim, c.hidden, c.clamp, dir);
      const Tensor params = make_params(spec, c.layers, c.models, 6, dtype);
      const RunResult fused = run(true, x, masks, params, spec, c.layers, c.models, ry, rl);
      const RunResult oracle = run(false, x, masks, params, spec, c.layers, c.models, ry, rl);
      ASSERT_EQ(fused.y.shape(), xs);
      ASSERT_EQ(fused.log_det.shape(), ls);
      EXPECT_LT(testing::max_relative_error(fused.y, oracle.y), tolerance) << direction_name(dir) << " y";
      EXPECT_LT(testing::max_relative_error(fused.log_det, oracle.log_det), tolerance) << direction_name(dir) << " log_det";
      EXPECT_LT(testing::max_relative_error(fused.dx, oracle.dx), tolerance) << direction_name(dir) << " dx";
      EXPECT_LT(testing::max_relative_error(fused.dparams, oracle.dparams), tolerance) << direction_name(dir) << " dparams";
      // Every layer's parameters receive a gradient (none of the blocks is skipped).
      double norm = 0;
      for (double v : fused.dparams.to_double_vector()) norm += v * v;
      EXPECT_GT(norm, 0.0);
    }
  }
};

TEST_P(CouplingStackOracle, Float32MatchesChainOfCouplingOps) { compare(DType::Float32, 1e-5); }
TEST_P(CouplingStackOracle, Float64MatchesChainOfCouplingOps) { compare(DType::Float64, 1e-12); }

INSTANTIATE_TEST_SUITE_P(
    Shapes, CouplingStackOracle,
    ::testing::Values(Case{1, 16, 1, 1, 0.f, 0}, Case{1, 20, 10, 37, 2.f, 0}, Case{2, 16, 1, 37, 0.f, 0},
                      Case{2, 16, 2, 37, 2.f, 0}, Case{2, 20, 10, 1, 0.f, 0}, Case{2, 16, 10, 37, 0.f, 0},
                      Case{3, 20, 2, 37, 0.f, 0}, Case{3, 16, 10, 37, 2.f, 0}, Case{3, 16, 1, 1, 2.f, 0},
                      Case{2, 16, 2, 37, 0.f, 3}, Case{3, 20, 10, 1, 2.f, 1}, Case{1, 16, 2, 37, 2.f, 2}),
    case_name);

// ---------------------------------------------------------------- finite differences (float64)

struct FdCase {
  int dim, hidden, layers;
  float clamp;
  std::int64_t models;
};

class CouplingStackGradients : public ::testing::TestWithParam<FdCase> {};

TEST_P(CouplingStackGradients, MatchFiniteDifferences) {
  const FdCase c = GetParam();
  const Shape xs = c.models > 0 ? Shape{c.models, 3, c.dim} : Shape{3, c.dim};
  for (CouplingDirection dir : {CouplingDirection::Generative, CouplingDirection::Normalizing}) {
    const CouplingSpec spec = make_spec(c.dim, c.hidden, c.clamp, dir);
    auto fn = [&](Tape& tape, const std::vector<Var>& in) {
      const auto out = autodiff::coupling_stack(tape, in[0], in[1], in[2], spec, c.layers);
      return std::vector<Var>{out.y, out.log_det};
    };
    autodiff::GradientCheckOptions options;
    options.differentiable = {true, false, true};
    const auto result = autodiff::check_gradients(
        fn,
        {testing::random_tensor(xs, 71, -2, 2, DType::Float64), make_masks(c.dim, c.layers, DType::Float64),
         make_params(spec, c.layers, c.models, 72, DType::Float64)},
        options);
    EXPECT_TRUE(result.passed) << direction_name(dir) << ": " << result.report;
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, CouplingStackGradients,
                         ::testing::Values(FdCase{2, 5, 3, 0.f, 0}, FdCase{3, 4, 2, 2.f, 0}, FdCase{1, 3, 2, 0.f, 0},
                                           FdCase{2, 3, 2, 1.5f, 2}),
                         [](const auto& info) {
                           const FdCase& c = info.param;
                           return "d" + std::to_string(c.dim) + "_h" + std::to_string(c.hidden) + "_L" +
                                  std::to_string(c.layers) + (c.clamp > 0 ? "_clamped" : "") +
                                  (c.models > 0 ? "_stacked" + std::to_string(c.models) : "");
                         });

// ---------------------------------------------------------------- the flow-layer contract

std::pair<Tensor, Tensor> apply(const Tensor& x, const Tensor& masks, const Tensor& params, CouplingSpec spec,
                                int layers, CouplingDirection dir) {
  spec.direction = dir;
  Tensor y = Tensor::empty(x.shape(), x.device(), x.dtype()), ld = Tensor::empty({x.dim(0)}, x.device(), x.dtype());
  kernels::coupling_stack_forward(x, masks, params, spec, layers, y, ld);
  return {y, ld};
}

class CouplingStackContract : public ::testing::TestWithParam<int> {};

TEST_P(CouplingStackContract, RoundTripAndLogDetsCancel) {
  const int d = GetParam(), layers = 4;
  for (float clamp : {0.f, 2.f}) {
    const CouplingSpec spec = make_spec(d, 16, clamp);
    const Tensor masks = make_masks(d, layers, DType::Float32), params = make_params(spec, layers, 0, 81, DType::Float32);
    const Tensor x = testing::random_tensor({513, d}, 82, -3, 3);
    const auto [u, ld_forward] = apply(x, masks, params, spec, layers, CouplingDirection::Generative);
    const auto [back, ld_inverse] = apply(u, masks, params, spec, layers, CouplingDirection::Normalizing);
    EXPECT_LT(testing::max_relative_error(back, x), 1e-5) << "clamp " << clamp;
    EXPECT_GT(testing::max_relative_error(u, x), 1e-2) << "the stack should not be the identity";
    const auto a = ld_forward.to_double_vector(), b = ld_inverse.to_double_vector();
    for (std::size_t i = 0; i < a.size(); ++i) {
      ASSERT_TRUE(std::isfinite(a[i]));
      EXPECT_NEAR(a[i] + b[i], 0.0, 1e-5 * (1 + std::abs(a[i]))) << "row " << i;
    }
  }
}

// log|det J| from a central-difference Jacobian of the whole stack, in float64.
TEST_P(CouplingStackContract, LogDetEqualsNumericJacobian) {
  const int d = GetParam(), layers = 3;
  const CouplingSpec spec = make_spec(d, 16, 1.5f);
  const Tensor masks = make_masks(d, layers, DType::Float64), params = make_params(spec, layers, 0, 91, DType::Float64);
  const Tensor x = testing::random_tensor({4, d}, 92, -2, 2, DType::Float64);
  const double h = 1e-6;
  for (CouplingDirection dir : {CouplingDirection::Generative, CouplingDirection::Normalizing}) {
    const auto ld = apply(x, masks, params, spec, layers, dir).second.to_double_vector();
    for (std::int64_t r = 0; r < x.dim(0); ++r) {
      Eigen::MatrixXd J(d, d);
      for (int j = 0; j < d; ++j) {
        Tensor plus = x.clone(), minus = x.clone();
        plus.data<double>()[r * d + j] += h;
        minus.data<double>()[r * d + j] -= h;
        const auto yp = apply(plus, masks, params, spec, layers, dir).first.to_double_vector();
        const auto ym = apply(minus, masks, params, spec, layers, dir).first.to_double_vector();
        for (int i = 0; i < d; ++i) J(i, j) = (yp[r * d + i] - ym[r * d + i]) / (2 * h);
      }
      EXPECT_NEAR(std::log(std::abs(J.determinant())), ld[r], 1e-6) << direction_name(dir) << " row " << r;
      EXPECT_GT(std::abs(ld[r]), 1e-3) << "a trivial log-det would not test anything";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Dims, CouplingStackContract, ::testing::Values(2, 3),
                         [](const auto& info) { return "d" + std::to_string(info.param); });

// ---------------------------------------------------------------- stacked = per-model single calls

// Model m's own single-form buffer out of a stacked one.
Tensor model_params(const Tensor& stacked, const CouplingSpec& spec, int layers, std::int64_t models, std::int64_t m) {
  const std::int64_t size = spec.net().size(), d = spec.dim;
  Tensor out = Tensor::empty({kernels::coupling_stack_params_size(spec, layers)}, Device::cpu(), stacked.dtype());
  for (int l = 0; l < layers; ++l) {
    const std::int64_t from = l * models * (2 * size + d), to = l * (2 * size + d);
    out.view(to, {size}).copy_from(stacked.view(from + m * size, {size}));
    out.view(to + size, {size}).copy_from(stacked.view(from + models * size + m * size, {size}));
    out.view(to + 2 * size, {d}).copy_from(stacked.view(from + 2 * models * size + m * d, {d}));
  }
  return out;
}

TEST(CouplingStackStacked, EqualsPerModelSingleCallsBitForBit) {
  for (std::int64_t models : {1, 3}) {
    const int d = 3, layers = 5;
    const std::int64_t n = 37;
    for (CouplingDirection dir : {CouplingDirection::Generative, CouplingDirection::Normalizing}) {
      const CouplingSpec spec = make_spec(d, 16, 2.f, dir);
      const Tensor masks = make_masks(d, layers, DType::Float32), params = make_params(spec, layers, models, 101,
                                                                                       DType::Float32);
      const Tensor x = testing::random_tensor({models, n, d}, 102, -2, 2),
                   dy = testing::random_tensor({models, n, d}, 103), dld = testing::random_tensor({models, n}, 104);
      Tensor y = Tensor::empty(x.shape()), ld = Tensor::empty({models, n});
      Tensor dx = testing::random_tensor(x.shape(), 105), dp = testing::random_tensor(params.shape(), 106);
      const Tensor dx0 = dx.clone(), dp0 = dp.clone();
      kernels::coupling_stack_forward(x, masks, params, spec, layers, y, ld);
      kernels::coupling_stack_backward(x, masks, params, spec, layers, dy, dld, dx, dp);
      for (std::int64_t m = 0; m < models; ++m) {
        const Shape rows{n, d};
        const Tensor pm = model_params(params, spec, layers, models, m);
        Tensor ym = Tensor::empty(rows), ldm = Tensor::empty({n});
        Tensor dxm = dx0.view(m * n * d, rows).clone(), dpm = model_params(dp0, spec, layers, models, m);
        kernels::coupling_stack_forward(x.view(m * n * d, rows), masks, pm, spec, layers, ym, ldm);
        kernels::coupling_stack_backward(x.view(m * n * d, rows), masks, pm, spec, layers, dy.view(m * n * d, rows),
                                         dld.view(m * n, {n}), dxm, dpm);
        const std::string what = std::string(direction_name(dir)) + ", M = " + std::to_string(models) + ", model " +
                                 std::to_string(m);
        EXPECT_EQ(testing::float_bits(y.view(m * n * d, rows)), testing::float_bits(ym)) << what << " y";
        EXPECT_EQ(testing::float_bits(ld.view(m * n, {n})), testing::float_bits(ldm)) << what << " log_det";
        EXPECT_EQ(testing::float_bits(dx.view(m * n * d, rows)), testing::float_bits(dxm)) << what << " dx";
        EXPECT_EQ(testing::float_bits(model_params(dp, spec, layers, models, m)), testing::float_bits(dpm))
            << what << " dparams";
      }
    }
  }
}

// ---------------------------------------------------------------- undefined gradients

TEST(CouplingStack, UndefinedGradientsMeanZeroAndAreSkipped) {
  const int d = 2, layers = 3;
  const CouplingSpec spec = make_spec(d, 16, 0.f, CouplingDirection::Normalizing);
  const Tensor masks = make_masks(d, layers, DType::Float32), params = make_params(spec, layers, 0, 111, DType::Float32);
  const Tensor x = testing::random_tensor({9, d}, 112, -2, 2), dy = testing::random_tensor({9, d}, 113);
  Tensor dx1 = Tensor::zeros(x.shape()), dp1 = Tensor::zeros(params.shape());
  Tensor dx2 = Tensor::zeros(x.shape()), dp2 = Tensor::zeros(params.shape());
  kernels::coupling_stack_backward(x, masks, params, spec, layers, dy, Tensor(), dx1, dp1);
  kernels::coupling_stack_backward(x, masks, params, spec, layers, dy, Tensor::zeros({9}), dx2, dp2);
  EXPECT_EQ(dx1.to_vector(), dx2.to_vector());
  EXPECT_EQ(dp1.to_vector(), dp2.to_vector());
  // Only the parameter gradient, then only dx: each equals its part of the full call.
  Tensor none, dp3 = Tensor::zeros(params.shape()), dx3 = Tensor::zeros(x.shape());
  kernels::coupling_stack_backward(x, masks, params, spec, layers, dy, Tensor(), none, dp3);
  kernels::coupling_stack_backward(x, masks, params, spec, layers, dy, Tensor(), dx3, none);
  EXPECT_EQ(dp3.to_vector(), dp1.to_vector());
  EXPECT_EQ(dx3.to_vector(), dx1.to_vector());
}

// ---------------------------------------------------------------- bad input

TEST(CouplingStack, RejectsBadInputNamingTheOperand) {
  const int d = 2, layers = 3;
  const CouplingSpec spec = make_spec(d, 16, 0.f);
  const Tensor masks = make_masks(d, layers, DType::Float32), params = make_params(spec, layers, 0, 121, DType::Float32);
  const Tensor x = testing::random_tensor({5, d}, 122);
  Tensor y = Tensor::empty({5, d}), ld = Tensor::empty({5});
  auto forward = [&](const Tensor& xx, const Tensor& mm, const Tensor& pp, const CouplingSpec& ss, int ll, Tensor& yy,
                     Tensor& dd) { return [&, ll] { kernels::coupling_stack_forward(xx, mm, pp, ss, ll, yy, dd); }; };
  const std::int64_t per_layer = 2 * spec.net().size() + d;
  testing::expect_invalid_argument_all(forward(x, masks, Tensor::zeros({3 * per_layer - 1}), spec, layers, y, ld),
                                       {"coupling_stack flow parameters", std::to_string(3 * per_layer)});
  testing::expect_invalid_argument(forward(x, make_masks(d, layers - 1, DType::Float32), params, spec, layers, y, ld),
                                   "coupling_stack masks");
  const Tensor x3 = testing::random_tensor({5, 3}, 123);
  testing::expect_invalid_argument(forward(x3, masks, params, spec, layers, y, ld), "coupling_stack input x");
  testing::expect_invalid_argument(forward(x, masks, params, spec, 0, y, ld), "coupling_stack layers");
  testing::expect_invalid_argument(forward(x, masks, params, spec, kernels::kCouplingStackMaxLayers + 1, y, ld),
                                   "coupling_stack layers");
  const Tensor params64 = params.to(DType::Float64);
  testing::expect_invalid_argument(forward(x, masks, params64, spec, layers, y, ld), "coupling_stack flow parameters");
  Tensor short_ld = Tensor::empty({4});
  testing::expect_invalid_argument(forward(x, masks, params, spec, layers, y, short_ld), "coupling_stack output log_det");
  CouplingSpec wide = spec;
  wide.dim = kernels::kCouplingMaxDim + 1;
  testing::expect_invalid_argument(forward(x, masks, params, wide, layers, y, ld), "coupling_stack dimension d");
  CouplingSpec huge = spec;
  huge.hidden = kernels::kCouplingStackMaxHidden + 1;
  testing::expect_invalid_argument(forward(x, masks, params, huge, layers, y, ld), "coupling_stack hidden width");

  // Stacked: x [2, 5, d] needs parameters of 2 models; single-model ones are named as such.
  const Tensor xs = testing::random_tensor({2, 5, d}, 124);
  Tensor ys = Tensor::empty({2, 5, d}), lds = Tensor::empty({2, 5});
  testing::expect_invalid_argument_all(forward(xs, masks, params, spec, layers, ys, lds),
                                       {"coupling_stack flow parameters", "M = 2", "stacked"});
  const Tensor params2 = make_params(spec, layers, 2, 125, DType::Float32);
  testing::expect_invalid_argument(forward(xs, masks, params2, spec, layers, ys, ld), "coupling_stack output log_det");
  Tensor masks2 = Tensor::zeros({2, layers, d});
  testing::expect_invalid_argument_all(forward(xs, masks2, params2, spec, layers, ys, lds),
                                       {"coupling_stack masks", "shared"});

  // Backward: gradient shapes.
  Tensor dx = Tensor::zeros({5, d}), dp = Tensor::zeros(params.shape()), bad_dx = Tensor::zeros({4, d}),
         bad_dp = Tensor::zeros({7});
  testing::expect_invalid_argument(
      [&] { kernels::coupling_stack_backward(x, masks, params, spec, layers, Tensor::zeros({5, 3}), Tensor(), dx, dp); },
      "coupling_stack output gradient dy");
  testing::expect_invalid_argument(
      [&] { kernels::coupling_stack_backward(x, masks, params, spec, layers, Tensor(), Tensor::zeros({6}), dx, dp); },
      "coupling_stack log_det gradient");
  testing::expect_invalid_argument(
      [&] { kernels::coupling_stack_backward(x, masks, params, spec, layers, Tensor(), Tensor(), bad_dx, dp); },
      "coupling_stack input gradient dx");
  testing::expect_invalid_argument(
      [&] { kernels::coupling_stack_backward(x, masks, params, spec, layers, Tensor(), Tensor(), dx, bad_dp); },
      "coupling_stack flow parameter gradient");

  // The tape op reports the kernel's message.
  Tape tape;
  testing::expect_invalid_argument(
      [&] {
        autodiff::coupling_stack(tape, tape.variable(x), tape.constant(masks), tape.variable(Tensor::zeros({9})), spec,
                                 layers);
      },
      "coupling_stack flow parameters");
}

}  // namespace
}  // namespace latf

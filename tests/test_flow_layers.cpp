// The fused conditioner MLP and the affine coupling layer: forward against independent
// references, finite-difference gradients, and the flow-layer contract.
#include <Eigen/Dense>
#include <functional>

#include "autodiff/gradcheck.hpp"
#include "autodiff/ops.hpp"
#include "kernels/coupling.hpp"
#include "kernels/mlp.hpp"
#include "tests/flow_reference.hpp"
#include "tests/support.hpp"

namespace latf {
namespace {

using autodiff::Tape;
using autodiff::Var;
using kernels::CouplingDirection;
using kernels::CouplingSpec;
using kernels::MlpShape;

// ---------------------------------------------------------------- MLP

struct MlpCase {
  std::int64_t n;
  MlpShape shape;
};

class MlpTest : public ::testing::TestWithParam<MlpCase> {};

TEST_P(MlpTest, ForwardMatchesReference) {
  const MlpCase c = GetParam();
  Tensor x = testing::random_tensor({c.n, c.shape.in}, 11, -2, 2);
  Tensor params = testing::random_tensor({c.shape.size()}, 12, -0.5, 0.5);
  Tensor y = Tensor::empty({c.n, c.shape.out});
  kernels::mlp_forward(x, params, c.shape, 0.01f, y);
  testing::ReferenceMlp ref{c.shape.in, c.shape.hidden, c.shape.out, params.to_double_vector()};
  const auto xs = x.to_double_vector(), ys = y.to_double_vector();
  for (std::int64_t r = 0; r < c.n; ++r) {
    const auto expected = ref.apply(std::vector<double>(xs.begin() + r * c.shape.in, xs.begin() + (r + 1) * c.shape.in));
    for (int k = 0; k < c.shape.out; ++k) EXPECT_NEAR(ys[r * c.shape.out + k], expected[k], 2e-5) << "row " << r;
  }
}

TEST_P(MlpTest, GradientsMatchFiniteDifferences) {
  const MlpCase c = GetParam();
  const std::int64_t rows = std::min<std::int64_t>(c.n, 4);  // finite differences cost O(inputs²)
  auto f = [&](Tape& tape, const std::vector<Var>& in) {
    return std::vector<Var>{autodiff::mlp(tape, in[0], in[1], c.shape, 0.01f)};
  };
  const auto result = autodiff::check_gradients(
      f, {testing::random_tensor({rows, c.shape.in}, 13, -2, 2, DType::Float64),
          testing::random_tensor({c.shape.size()}, 14, -0.5, 0.5, DType::Float64)});
  EXPECT_TRUE(result.passed) << result.report;
}

INSTANTIATE_TEST_SUITE_P(Shapes, MlpTest,
                         ::testing::Values(MlpCase{1, {2, 16, 2}}, MlpCase{7, {3, 16, 5}}, MlpCase{5, {1, 32, 1}},
                                           MlpCase{300, {2, 64, 2}}, MlpCase{33, {16, 16, 16}}),
                         [](const auto& info) {
                           const MlpCase& c = info.param;
                           return "n" + std::to_string(c.n) + "_in" + std::to_string(c.shape.in) + "_h" +
                                  std::to_string(c.shape.hidden) + "_out" + std::to_string(c.shape.out);
                         });

TEST(Mlp, RejectsWrongParameterCount) {
  const MlpShape shape{2, 16, 2};
  Tensor x = Tensor::zeros({4, 2}), y = Tensor::zeros({4, 2});
  try {
    kernels::mlp_forward(x, Tensor::zeros({shape.size() - 1}), shape, 0.01f, y);
    FAIL() << "expected an exception";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("mlp parameters"), std::string::npos) << e.what();
  }
  EXPECT_THROW(kernels::mlp_forward(Tensor::zeros({4, 3}), Tensor::zeros({shape.size()}), shape, 0.01f, y),
               InvalidArgument);
}

// ---------------------------------------------------------------- coupling

struct CouplingCase {
  std::string name;
  int dim, hidden;
  std::vector<float> mask;
  float clamp;
};

struct CouplingFixture {
  CouplingSpec spec;
  Tensor mask, scale_params, shift_params, a;
  CouplingFixture(const CouplingCase& c, DType dtype, std::uint64_t seed) {
    spec.dim = c.dim;
    spec.hidden = c.hidden;
    spec.scale_clamp = c.clamp;
    mask = Tensor::from_vector(c.mask, {c.dim}).to(dtype);
    scale_params = testing::random_tensor({spec.net().size()}, seed, -0.4, 0.4, dtype);
    shift_params = testing::random_tensor({spec.net().size()}, seed + 1, -0.4, 0.4, dtype);
    a = testing::random_tensor({c.dim}, seed + 2, -1.5, 1.5, dtype);  // a ≠ 0 so that the scale path is live
  }
  // (y, log_det) of x in the given direction.
  std::pair<Tensor, Tensor> apply(const Tensor& x, CouplingDirection direction) const {
    CouplingSpec s = spec;
    s.direction = direction;
    Tensor y = Tensor::empty(x.shape(), x.device(), x.dtype()), ld = Tensor::empty({x.dim(0)}, x.device(), x.dtype());
    kernels::coupling_forward(x, mask, scale_params, shift_params, a, s, y, ld);
    return {y, ld};
  }
};

class CouplingTest : public ::testing::TestWithParam<CouplingCase> {};

TEST_P(CouplingTest, ForwardMatchesReferenceBothDirections) {
  const CouplingCase& c = GetParam();
  CouplingFixture f(c, DType::Float32, 21);
  const std::int64_t n = 37;
  Tensor x = testing::random_tensor({n, c.dim}, 22, -2, 2);
  testing::ReferenceMlp scale{c.dim, c.hidden, c.dim, f.scale_params.to_double_vector()};
  testing::ReferenceMlp shift{c.dim, c.hidden, c.dim, f.shift_params.to_double_vector()};
  const auto xs = x.to_double_vector();
  for (CouplingDirection dir : {CouplingDirection::Generative, CouplingDirection::Normalizing}) {
    const auto [y, ld] = f.apply(x, dir);
    const auto ys = y.to_double_vector(), lds = ld.to_double_vector();
    for (std::int64_t r = 0; r < n; ++r) {
      double expected_ld = 0;
      const auto expected =
          testing::reference_coupling(std::vector<double>(xs.begin() + r * c.dim, xs.begin() + (r + 1) * c.dim),
                                      f.mask.to_double_vector(), scale, shift, f.a.to_double_vector(), c.clamp,
                                      dir == CouplingDirection::Generative, &expected_ld);
      for (int j = 0; j < c.dim; ++j) EXPECT_NEAR(ys[r * c.dim + j], expected[j], 1e-4 * (1 + std::abs(expected[j])));
      EXPECT_NEAR(lds[r], expected_ld, 1e-5 * (1 + std::abs(expected_ld)));
    }
  }
}

TEST_P(CouplingTest, GradientsMatchFiniteDifferences) {
  const CouplingCase& c = GetParam();
  CouplingFixture f(c, DType::Float64, 31);
  for (CouplingDirection dir : {CouplingDirection::Generative, CouplingDirection::Normalizing}) {
    CouplingSpec spec = f.spec;
    spec.direction = dir;
    auto fn = [&](Tape& tape, const std::vector<Var>& in) {
      const auto out = autodiff::coupling(tape, in[0], in[1], in[2], in[3], in[4], spec);
      return std::vector<Var>{out.y, out.log_det};
    };
    autodiff::GradientCheckOptions options;
    options.differentiable = {true, false, true, true, true};
    const auto result = autodiff::check_gradients(
        fn, {testing::random_tensor({5, c.dim}, 32, -2, 2, DType::Float64), f.mask, f.scale_params, f.shift_params, f.a},
        options);
    EXPECT_TRUE(result.passed) << (dir == CouplingDirection::Generative ? "generative: " : "normalizing: ")
                               << result.report;
  }
}

// The flow-layer contract, in float32 as used in training.
TEST_P(CouplingTest, RoundTripAndLogDetsCancel) {
  const CouplingCase& c = GetParam();
  CouplingFixture f(c, DType::Float32, 41);
  Tensor x = testing::random_tensor({513, c.dim}, 42, -3, 3);
  const auto [u, ld_forward] = f.apply(x, CouplingDirection::Generative);
  const auto [back, ld_inverse] = f.apply(u, CouplingDirection::Normalizing);
  EXPECT_LT(testing::max_relative_error(back, x), 1e-5);
  const auto a = ld_forward.to_double_vector(), b = ld_inverse.to_double_vector();
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_NEAR(a[i] + b[i], 0.0, 1e-6 * (1 + std::abs(a[i])));
    EXPECT_TRUE(std::isfinite(a[i]));
  }
}

// log|det J| from a central-difference Jacobian of the map, in float64.
TEST_P(CouplingTest, LogDetEqualsNumericJacobian) {
  const CouplingCase& c = GetParam();
  CouplingFixture f(c, DType::Float64, 51);
  Tensor x = testing::random_tensor({4, c.dim}, 52, -2, 2, DType::Float64);
  const double h = 1e-6;
  for (CouplingDirection dir : {CouplingDirection::Generative, CouplingDirection::Normalizing}) {
    const auto [y, ld] = f.apply(x, dir);
    for (std::int64_t r = 0; r < x.dim(0); ++r) {
      Eigen::MatrixXd J(c.dim, c.dim);
      for (int j = 0; j < c.dim; ++j) {
        Tensor plus = x.clone(), minus = x.clone();
        plus.data<double>()[r * c.dim + j] += h;
        minus.data<double>()[r * c.dim + j] -= h;
        const auto yp = f.apply(plus, dir).first.to_double_vector(), ym = f.apply(minus, dir).first.to_double_vector();
        for (int i = 0; i < c.dim; ++i) J(i, j) = (yp[r * c.dim + i] - ym[r * c.dim + i]) / (2 * h);
      }
      EXPECT_NEAR(std::log(std::abs(J.determinant())), ld.to_double_vector()[r], 1e-6);
    }
  }
}

TEST_P(CouplingTest, EveryParameterReceivesAGradient) {
  const CouplingCase& c = GetParam();
  CouplingFixture f(c, DType::Float32, 61);
  Tape tape;
  Tensor ds = Tensor::zeros(f.scale_params.shape()), dt = Tensor::zeros(f.shift_params.shape()),
         da = Tensor::zeros(f.a.shape());
  Var x = tape.variable(testing::random_tensor({64, c.dim}, 62, -2, 2));
  const auto out = autodiff::coupling(tape, x, tape.constant(f.mask), tape.parameter(f.scale_params, ds),
                                      tape.parameter(f.shift_params, dt), tape.parameter(f.a, da), f.spec);
  tape.backward(out.y, testing::random_tensor({64, c.dim}, 63));
  for (const Tensor* g : {&ds, &dt, &da}) {
    double norm = 0;
    for (double v : g->to_double_vector()) {
      EXPECT_TRUE(std::isfinite(v));
      norm += v * v;
    }
    EXPECT_GT(norm, 0.0);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Layers, CouplingTest,
    ::testing::Values(CouplingCase{"d2_mask10", 2, 16, {1, 0}, 0.f}, CouplingCase{"d2_mask01", 2, 16, {0, 1}, 0.f},
                      CouplingCase{"d2_clamped", 2, 16, {1, 0}, 2.f}, CouplingCase{"d3_h32", 3, 32, {1, 0, 1}, 0.f},
                      CouplingCase{"d5_h16_clamped", 5, 16, {0, 0, 1, 1, 0}, 1.5f},
                      CouplingCase{"d1_h16", 1, 16, {0}, 0.f}),
    [](const auto& info) { return info.param.name; });

TEST(Coupling, BackwardFromForwardWorkspaceEqualsRecomputation) {
  CouplingCase c{"d3", 3, 16, {1, 0, 1}, 1.5f};
  CouplingFixture f(c, DType::Float32, 81);
  Tensor x = testing::random_tensor({37, 3}, 82, -2, 2), dy = testing::random_tensor({37, 3}, 83),
         dld = testing::random_tensor({37}, 84);
  for (CouplingDirection dir : {CouplingDirection::Generative, CouplingDirection::Normalizing}) {
    CouplingSpec spec = f.spec;
    spec.direction = dir;
    Tensor workspace = Tensor::empty({kernels::coupling_workspace_size(37, spec)});
    Tensor y = Tensor::empty(x.shape()), ld = Tensor::empty({37});
    kernels::coupling_forward(x, f.mask, f.scale_params, f.shift_params, f.a, spec, y, ld, &workspace);
    std::vector<Tensor> with(4), without(4);
    for (auto* set : {&with, &without})
      *set = {Tensor::zeros(x.shape()), Tensor::zeros(f.scale_params.shape()), Tensor::zeros(f.shift_params.shape()),
              Tensor::zeros(f.a.shape())};
    kernels::coupling_backward(x, f.mask, f.scale_params, f.shift_params, f.a, spec, dy, dld, with[0], with[1], with[2],
                               with[3], &workspace);
    kernels::coupling_backward(x, f.mask, f.scale_params, f.shift_params, f.a, spec, dy, dld, without[0], without[1],
                               without[2], without[3]);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(with[i].to_vector(), without[i].to_vector()) << "gradient " << i;
  }
  Tensor small = Tensor::empty({5});
  Tensor y = Tensor::empty(x.shape()), ld = Tensor::empty({37});
  testing::expect_invalid_argument(
      [&] { kernels::coupling_forward(x, f.mask, f.scale_params, f.shift_params, f.a, f.spec, y, ld, &small); },
      "coupling workspace");
}

TEST(Coupling, IdentityWhenScaleVectorAndShiftAreZero) {
  // A new flow starts near the identity: a = 0 and a zero last shift layer give y = x, log det 0.
  CouplingSpec spec;
  spec.dim = 2;
  Tensor x = testing::random_tensor({10, 2}, 71);
  Tensor mask = Tensor::from_vector(std::vector<float>{1, 0}, {2});
  Tensor shift = testing::random_tensor({spec.net().size()}, 72);
  const MlpShape net = spec.net();
  shift.view(net.weight3(), {net.size() - net.weight3()}).zero();
  Tensor y = Tensor::empty({10, 2}), ld = Tensor::empty({10});
  kernels::coupling_forward(x, mask, testing::random_tensor({net.size()}, 73), shift, Tensor::zeros({2}), spec, y, ld);
  EXPECT_EQ(y.to_vector(), x.to_vector());
  for (float v : ld.to_vector()) EXPECT_EQ(v, 0.f);
}

TEST(Coupling, RejectsBadOperandsByName) {
  CouplingSpec spec;
  spec.dim = 2;
  Tensor x = Tensor::zeros({3, 2}), y = Tensor::zeros({3, 2}), ld = Tensor::zeros({3});
  Tensor p = Tensor::zeros({spec.net().size()}), a = Tensor::zeros({2});

  testing::expect_invalid_argument([&] { kernels::coupling_forward(x, Tensor::zeros({3}), p, p, a, spec, y, ld); }, "coupling mask");
  testing::expect_invalid_argument([&] { kernels::coupling_forward(x, Tensor::zeros({2}), p, p, Tensor::zeros({1}), spec, y, ld); },
                 "scale vector a");
  testing::expect_invalid_argument([&] { kernels::coupling_forward(Tensor::zeros({3, 3}), Tensor::zeros({2}), p, p, a, spec, y, ld); },
                 "coupling input x");
  CouplingSpec bad = spec;
  bad.scale_clamp = -1;
  testing::expect_invalid_argument([&] { kernels::coupling_forward(x, Tensor::zeros({2}), p, p, a, bad, y, ld); }, "scale_clamp");
}

}  // namespace
}  // namespace latf

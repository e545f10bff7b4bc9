// The model-stacked form of the fused conditioner MLP and the affine coupling layer
// (autodiff/ops.hpp): a stacked call equals M single calls on the slices bit for bit on the CPU,
// forward and every gradient, in both directions, with and without the workspace; finite
// differences of the stacked ops; bad stacked operands are rejected by name.
#include "autodiff/gradcheck.hpp"
#include "autodiff/ops.hpp"
#include "kernels/coupling.hpp"
#include "kernels/mlp.hpp"
#include "tests/support.hpp"

namespace latf {
namespace {

using autodiff::Tape;
using autodiff::Var;
using kernels::CouplingDirection;
using kernels::CouplingSpec;
using kernels::MlpShape;

using testing::random_slices;
Tensor stack(const std::vector<Tensor>& slices) { return testing::stack_slices(slices); }
// Model m's slice of a stacked tensor, viewed as shape s (which may flatten it).
Tensor slice_of(const Tensor& stacked, std::int64_t m, const Shape& s) { return stacked.view(m * s.numel(), s); }

void expect_bits_equal(const Tensor& stacked, std::int64_t m, const Tensor& single, const std::string& what) {
  testing::expect_same_bits(slice_of(stacked, m, single.shape()), single, what + ", model " + std::to_string(m));
}

// ---------------------------------------------------------------- MLP

struct MlpCase {
  std::int64_t models, n;
  MlpShape shape;
};

std::string mlp_case_name(const ::testing::TestParamInfo<MlpCase>& info) {
  const MlpCase& c = info.param;
  return "m" + std::to_string(c.models) + "_n" + std::to_string(c.n) + "_in" + std::to_string(c.shape.in) + "_h" +
         std::to_string(c.shape.hidden) + "_out" + std::to_string(c.shape.out);
}

class StackedMlp : public ::testing::TestWithParam<MlpCase> {};

TEST_P(StackedMlp, KernelsAndTapeOpEqualPerModelSingleCallsBitForBit) {
  const MlpCase c = GetParam();
  const MlpShape& s = c.shape;
  const auto xs = random_slices(c.models, {c.n, s.in}, 10, -2, 2), ps = random_slices(c.models, {s.size()}, 20, -0.5, 0.5),
             dys = random_slices(c.models, {c.n, s.out}, 30), dx0 = random_slices(c.models, {c.n, s.in}, 40),
             dp0 = random_slices(c.models, {s.size()}, 50);
  const Tensor x = stack(xs), p = stack(ps), dy = stack(dys);
  Tensor y = Tensor::empty({c.models, c.n, s.out}), dx = stack(dx0), dp = stack(dp0);
  kernels::mlp_forward(x, p, s, 0.01f, y);
  kernels::mlp_backward(x, p, s, 0.01f, dy, dx, dp);
  // The tape op, from zero gradients.
  Tensor tdx = Tensor::zeros(x.shape()), tdp = Tensor::zeros(p.shape());
  Tape tape;
  Var out = autodiff::mlp(tape, tape.parameter(x, tdx), tape.parameter(p, tdp), s, 0.01f);
  ASSERT_EQ(tape.value(out).shape(), (Shape{c.models, c.n, s.out}));
  tape.backward(out, dy);
  for (std::int64_t m = 0; m < c.models; ++m) {
    Tensor ym = Tensor::empty({c.n, s.out}), dxm = dx0[m].clone(), dpm = dp0[m].clone();
    kernels::mlp_forward(xs[m], ps[m], s, 0.01f, ym);
    kernels::mlp_backward(xs[m], ps[m], s, 0.01f, dys[m], dxm, dpm);
    expect_bits_equal(y, m, ym, "kernel y");
    expect_bits_equal(dx, m, dxm, "kernel dx");
    expect_bits_equal(dp, m, dpm, "kernel dparams");
    Tensor sdx = Tensor::zeros({c.n, s.in}), sdp = Tensor::zeros({s.size()});
    Tape single;
    Var o = autodiff::mlp(single, single.parameter(xs[m], sdx), single.parameter(ps[m], sdp), s, 0.01f);
    single.backward(o, dys[m]);
    expect_bits_equal(tape.value(out), m, single.value(o), "op y");
    expect_bits_equal(tdx, m, sdx, "op dx");
    expect_bits_equal(tdp, m, sdp, "op dparams");
  }
}

TEST_P(StackedMlp, GradientsMatchFiniteDifferences) {
  const MlpCase c = GetParam();
  const std::int64_t rows = std::min<std::int64_t>(c.n, 3);
  auto f = [&](Tape& tape, const std::vector<Var>& v) {
    return std::vector<Var>{autodiff::mlp(tape, v[0], v[1], c.shape, 0.01f)};
  };
  const auto result = autodiff::check_gradients(
      f, {stack(random_slices(c.models, {rows, c.shape.in}, 60, -2, 2, DType::Float64)),
          stack(random_slices(c.models, {c.shape.size()}, 70, -0.5, 0.5, DType::Float64))});
  EXPECT_TRUE(result.passed) << result.report;
}

INSTANTIATE_TEST_SUITE_P(Shapes, StackedMlp,
                         ::testing::Values(MlpCase{1, 7, {3, 16, 5}}, MlpCase{3, 7, {3, 16, 5}},
                                           MlpCase{3, 1, {2, 16, 2}}, MlpCase{2, 41, {1, 32, 3}}),
                         mlp_case_name);

TEST(StackedMlp, RejectsModelCountMismatchAndMixedFormsByName) {
  const MlpShape s{2, 16, 2};
  Tensor x = Tensor::zeros({2, 4, 2}), p = Tensor::zeros({2, s.size()}), y = Tensor::zeros({2, 4, 2});
  testing::expect_invalid_argument_all([&] { kernels::mlp_forward(x, Tensor::zeros({3, s.size()}), s, 0.01f, y); },
                                       {"mlp parameters", "[2, " + std::to_string(s.size()) + "]"});
  testing::expect_invalid_argument_all([&] { kernels::mlp_forward(x, Tensor::zeros({s.size()}), s, 0.01f, y); },
                                       {"mlp parameters", "stacked"});
  testing::expect_invalid_argument([&] { kernels::mlp_forward(Tensor::zeros({4, 2}), p, s, 0.01f, y); },
                                   "mlp parameters");
  testing::expect_invalid_argument([&] { kernels::mlp_forward(Tensor::zeros({2, 4, 3}), p, s, 0.01f, y); },
                                   "mlp input x");
  Tensor y_single = Tensor::zeros({4, 2});
  testing::expect_invalid_argument([&] { kernels::mlp_forward(x, p, s, 0.01f, y_single); }, "mlp output y");
  Tensor dx = Tensor::zeros({2, 4, 2}), dp_bad = Tensor::zeros({s.size()});
  testing::expect_invalid_argument([&] { kernels::mlp_backward(x, p, s, 0.01f, y, dx, dp_bad); },
                                   "mlp parameter gradient");
  Tensor dp = Tensor::zeros(p.shape());
  testing::expect_invalid_argument([&] { kernels::mlp_backward(x, p, s, 0.01f, y_single, dx, dp); },
                                   "mlp output gradient dy");
}

// ---------------------------------------------------------------- coupling

struct CouplingCase {
  std::string name;
  std::int64_t models, n;
  int dim, hidden;
  std::vector<float> mask;
};

// Per-model parameters (differing between models) and the shared mask.
struct StackedFixture {
  CouplingSpec spec;
  std::int64_t models, n;
  Tensor mask;
  std::vector<Tensor> xs, sps, tps, as, dys, dlds;
  StackedFixture(const CouplingCase& c, DType dtype, std::uint64_t seed) : models(c.models), n(c.n) {
    spec.dim = c.dim;
    spec.hidden = c.hidden;
    mask = Tensor::from_vector(c.mask, {c.dim}).to(dtype);
    xs = random_slices(models, {n, c.dim}, seed, -2, 2, dtype);
    sps = random_slices(models, {spec.net().size()}, seed + 1, -0.4, 0.4, dtype);
    tps = random_slices(models, {spec.net().size()}, seed + 2, -0.4, 0.4, dtype);
    as = random_slices(models, {c.dim}, seed + 3, -1.5, 1.5, dtype);  // a ≠ 0: the scale path is live
    dys = random_slices(models, {n, c.dim}, seed + 4, -1, 1, dtype);
    dlds = random_slices(models, {n}, seed + 5, -1, 1, dtype);
  }
};

class StackedCoupling : public ::testing::TestWithParam<CouplingCase> {};

TEST_P(StackedCoupling, KernelsEqualPerModelSingleCallsBitForBit) {
  const CouplingCase& c = GetParam();
  StackedFixture f(c, DType::Float32, 100);
  const Tensor x = stack(f.xs), sp = stack(f.sps), tp = stack(f.tps), a = stack(f.as), dy = stack(f.dys),
               dld = stack(f.dlds);
  const std::int64_t per_model = kernels::coupling_workspace_size(f.n, f.spec);
  for (float clamp : {0.f, 1.5f})
    for (CouplingDirection dir : {CouplingDirection::Generative, CouplingDirection::Normalizing})
      for (bool use_workspace : {false, true}) {
        SCOPED_TRACE(std::string(dir == CouplingDirection::Generative ? "generative" : "normalizing") + " clamp " +
                     std::to_string(clamp) + (use_workspace ? " with workspace" : " without workspace"));
        CouplingSpec spec = f.spec;
        spec.direction = dir;
        spec.scale_clamp = clamp;
        Tensor workspace = Tensor::empty({kernels::coupling_workspace_size(f.models, f.n, spec)});
        ASSERT_EQ(workspace.numel(), f.models * per_model);
        Tensor* ws = use_workspace ? &workspace : nullptr;
        Tensor y = Tensor::empty(x.shape()), ld = Tensor::empty({f.models, f.n});
        kernels::coupling_forward(x, f.mask, sp, tp, a, spec, y, ld, ws);
        Tensor dx = Tensor::zeros(x.shape()), dsp = Tensor::zeros(sp.shape()), dtp = Tensor::zeros(tp.shape()),
               da = Tensor::zeros(a.shape());
        kernels::coupling_backward(x, f.mask, sp, tp, a, spec, dy, dld, dx, dsp, dtp, da, ws);
        for (std::int64_t m = 0; m < f.models; ++m) {
          Tensor single_ws = Tensor::empty({per_model});
          Tensor* sws = use_workspace ? &single_ws : nullptr;
          Tensor ym = Tensor::empty({f.n, c.dim}), ldm = Tensor::empty({f.n});
          kernels::coupling_forward(f.xs[m], f.mask, f.sps[m], f.tps[m], f.as[m], spec, ym, ldm, sws);
          Tensor dxm = Tensor::zeros({f.n, c.dim}), dspm = Tensor::zeros(f.sps[m].shape()),
                 dtpm = Tensor::zeros(f.tps[m].shape()), dam = Tensor::zeros({c.dim});
          kernels::coupling_backward(f.xs[m], f.mask, f.sps[m], f.tps[m], f.as[m], spec, f.dys[m], f.dlds[m], dxm,
                                     dspm, dtpm, dam, sws);
          expect_bits_equal(y, m, ym, "y");
          expect_bits_equal(ld, m, ldm, "log_det");
          expect_bits_equal(dx, m, dxm, "dx");
          expect_bits_equal(dsp, m, dspm, "dscale_params");
          expect_bits_equal(dtp, m, dtpm, "dshift_params");
          expect_bits_equal(da, m, dam, "da");
          if (use_workspace) expect_bits_equal(workspace, m, single_ws, "workspace slice");
        }
      }
}

TEST_P(StackedCoupling, TapeOpEqualsPerModelSingleOpsBitForBit) {
  const CouplingCase& c = GetParam();
  StackedFixture f(c, DType::Float32, 200);
  const Tensor x = stack(f.xs), sp = stack(f.sps), tp = stack(f.tps), a = stack(f.as);
  for (CouplingDirection dir : {CouplingDirection::Generative, CouplingDirection::Normalizing})
    for (int seeded_output : {0, 1}) {  // one backward per recording: seed y, then log_det
      SCOPED_TRACE(std::string(dir == CouplingDirection::Generative ? "generative" : "normalizing") +
                   (seeded_output == 0 ? " seeded y" : " seeded log_det"));
      CouplingSpec spec = f.spec;
      spec.direction = dir;
      spec.scale_clamp = 1.5f;
      Tensor dx = Tensor::zeros(x.shape()), dsp = Tensor::zeros(sp.shape()), dtp = Tensor::zeros(tp.shape()),
             da = Tensor::zeros(a.shape());
      Tape tape;
      const auto out = autodiff::coupling(tape, tape.parameter(x, dx), tape.constant(f.mask), tape.parameter(sp, dsp),
                                          tape.parameter(tp, dtp), tape.parameter(a, da), spec);
      ASSERT_EQ(tape.value(out.y).shape(), (Shape{f.models, f.n, c.dim}));
      ASSERT_EQ(tape.value(out.log_det).shape(), (Shape{f.models, f.n}));
      if (seeded_output == 0) tape.backward(out.y, stack(f.dys));
      else tape.backward(out.log_det, stack(f.dlds));
      for (std::int64_t m = 0; m < f.models; ++m) {
        Tensor dxm = Tensor::zeros({f.n, c.dim}), dspm = Tensor::zeros(f.sps[m].shape()),
               dtpm = Tensor::zeros(f.tps[m].shape()), dam = Tensor::zeros({c.dim});
        Tape single;
        const auto o = autodiff::coupling(single, single.parameter(f.xs[m], dxm), single.constant(f.mask),
                                          single.parameter(f.sps[m], dspm), single.parameter(f.tps[m], dtpm),
                                          single.parameter(f.as[m], dam), spec);
        if (seeded_output == 0) single.backward(o.y, f.dys[m]);
        else single.backward(o.log_det, f.dlds[m]);
        expect_bits_equal(tape.value(out.y), m, single.value(o.y), "y");
        expect_bits_equal(tape.value(out.log_det), m, single.value(o.log_det), "log_det");
        expect_bits_equal(dx, m, dxm, "dx");
        expect_bits_equal(dsp, m, dspm, "dscale_params");
        expect_bits_equal(dtp, m, dtpm, "dshift_params");
        expect_bits_equal(da, m, dam, "da");
      }
    }
}

TEST_P(StackedCoupling, GradientsMatchFiniteDifferences) {
  const CouplingCase& c = GetParam();
  CouplingCase small = c;
  small.n = std::min<std::int64_t>(c.n, 3);
  StackedFixture f(small, DType::Float64, 300);
  for (float clamp : {0.f, 1.5f})
    for (CouplingDirection dir : {CouplingDirection::Generative, CouplingDirection::Normalizing}) {
      CouplingSpec spec = f.spec;
      spec.direction = dir;
      spec.scale_clamp = clamp;
      auto fn = [&](Tape& tape, const std::vector<Var>& v) {
        const auto out = autodiff::coupling(tape, v[0], v[1], v[2], v[3], v[4], spec);
        return std::vector<Var>{out.y, out.log_det};
      };
      autodiff::GradientCheckOptions options;
      options.differentiable = {true, false, true, true, true};  // the mask is a constant
      const auto result = autodiff::check_gradients(
          fn, {stack(f.xs), f.mask, stack(f.sps), stack(f.tps), stack(f.as)}, options);
      EXPECT_TRUE(result.passed) << (dir == CouplingDirection::Generative ? "generative" : "normalizing")
                                 << " clamp " << clamp << ": " << result.report;
    }
}

INSTANTIATE_TEST_SUITE_P(Layers, StackedCoupling,
                         ::testing::Values(CouplingCase{"m1_d2_mask10", 1, 9, 2, 16, {1, 0}},
                                           CouplingCase{"m3_d2_mask01", 3, 9, 2, 16, {0, 1}},
                                           CouplingCase{"m3_d3_h32_n1", 3, 1, 3, 32, {1, 0, 1}},
                                           CouplingCase{"m2_d5_n37", 2, 37, 5, 16, {0, 0, 1, 1, 0}}),
                         [](const auto& info) { return info.param.name; });

TEST(StackedCoupling, RoundTripPerModel) {
  // Normalizing undoes Generative model by model, and the log-dets cancel.
  StackedFixture f(CouplingCase{"", 3, 11, 3, 16, {1, 0, 1}}, DType::Float32, 400);
  const Tensor x = stack(f.xs), sp = stack(f.sps), tp = stack(f.tps), a = stack(f.as);
  CouplingSpec spec = f.spec;
  Tensor u = Tensor::empty(x.shape()), ld_g = Tensor::empty({3, 11}), z = Tensor::empty(x.shape()),
         ld_n = Tensor::empty({3, 11});
  kernels::coupling_forward(x, f.mask, sp, tp, a, spec, u, ld_g);
  spec.direction = CouplingDirection::Normalizing;
  kernels::coupling_forward(u, f.mask, sp, tp, a, spec, z, ld_n);
  EXPECT_LT(testing::max_relative_error(z, x), 1e-5);
  const auto g = ld_g.to_double_vector(), n = ld_n.to_double_vector();
  for (std::size_t i = 0; i < g.size(); ++i) EXPECT_NEAR(g[i] + n[i], 0.0, 1e-5) << i;
}

TEST(StackedCoupling, RejectsModelCountMismatchAndMixedFormsByName) {
  CouplingSpec spec;
  spec.dim = 2;
  const std::int64_t size = spec.net().size();
  Tensor x = Tensor::zeros({2, 3, 2}), mask = Tensor::zeros({2}), p = Tensor::zeros({2, size}), a = Tensor::zeros({2, 2});
  Tensor y = Tensor::zeros({2, 3, 2}), ld = Tensor::zeros({2, 3});
  auto forward = [&](const Tensor& xx, const Tensor& mm, const Tensor& sp, const Tensor& tp, const Tensor& aa) {
    kernels::coupling_forward(xx, mm, sp, tp, aa, spec, y, ld);
  };
  const Tensor p3 = Tensor::zeros({3, size});
  // Wrong model count between operands.
  testing::expect_invalid_argument_all([&] { forward(x, mask, p3, p, a); },
                                       {"coupling scale-net parameters", "2 stacked models"});
  testing::expect_invalid_argument_all([&] { forward(x, mask, p, p3, a); },
                                       {"coupling shift-net parameters", "2 stacked models"});
  testing::expect_invalid_argument_all([&] { forward(x, mask, p, p, Tensor::zeros({3, 2})); },
                                       {"coupling scale vector a", "2 stacked models"});
  // Mixed forms; the mask is shared and must keep its single shape.
  testing::expect_invalid_argument_all([&] { forward(x, mask, Tensor::zeros({size}), p, a); },
                                       {"coupling scale-net parameters", "stacked"});
  testing::expect_invalid_argument_all([&] { forward(x, mask, p, p, Tensor::zeros({2})); },
                                       {"coupling scale vector a", "stacked"});
  testing::expect_invalid_argument([&] { forward(Tensor::zeros({3, 2}), mask, p, p, Tensor::zeros({2})); },
                                   "coupling scale-net parameters");
  testing::expect_invalid_argument_all([&] { forward(x, Tensor::zeros({2, 2}), p, p, a); }, {"coupling mask", "shared"});
  // Wrong stacked shapes.
  testing::expect_invalid_argument([&] { forward(Tensor::zeros({2, 3, 3}), mask, p, p, a); }, "coupling input x");
  testing::expect_invalid_argument([&] { forward(x, mask, Tensor::zeros({2, size + 1}), p, a); },
                                   "coupling scale-net parameters");
  Tensor ld_single = Tensor::zeros({3});
  testing::expect_invalid_argument(
      [&] { kernels::coupling_forward(x, mask, p, p, a, spec, y, ld_single); }, "coupling output log_det");
  // A per-model-sized workspace is too small for the stacked call.
  Tensor small = Tensor::empty({kernels::coupling_workspace_size(3, spec)});
  testing::expect_invalid_argument([&] { kernels::coupling_forward(x, mask, p, p, a, spec, y, ld, &small); },
                                   "coupling workspace");
  // Backward: gradients must have the stacked shapes.
  Tensor dx = Tensor::zeros(x.shape()), dsp = Tensor::zeros({size}), dtp = Tensor::zeros(p.shape()),
         da = Tensor::zeros(a.shape());
  testing::expect_invalid_argument(
      [&] { kernels::coupling_backward(x, mask, p, p, a, spec, y, ld, dx, dsp, dtp, da); }, "coupling scale-net gradient");
  Tensor dsp_ok = Tensor::zeros(p.shape());
  testing::expect_invalid_argument(
      [&] { kernels::coupling_backward(x, mask, p, p, a, spec, y, ld_single, dx, dsp_ok, dtp, da); },
      "coupling log_det gradient");
}

}  // namespace
}  // namespace latf

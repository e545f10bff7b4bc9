// CPU vs CUDA for the fused conditioner MLP and the fused coupling layer, forward and backward, in
// the single form and the model-stacked form (every per-model operand with a leading M).
#include <vector>

#include "autodiff/ops.hpp"
#include "kernels/coupling.hpp"
#include "kernels/mlp.hpp"
#include "tests/support.hpp"

namespace latf {
namespace {

using kernels::CouplingDirection;
using kernels::CouplingSpec;
using kernels::MlpShape;

struct Case {
  std::int64_t models;  // 0: the single form
  std::int64_t n;
  int dim, hidden;
};

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  const Case& c = info.param;
  return (c.models ? "m" + std::to_string(c.models) : std::string("single")) + "_n" + std::to_string(c.n) + "_d" +
         std::to_string(c.dim) + "_h" + std::to_string(c.hidden);
}

// A per-model operand's shape: `dims` in the single form, [M, dims...] stacked.
Shape per_model(const Case& c, std::int64_t a) { return c.models ? Shape{c.models, a} : Shape{a}; }
Shape per_model(const Case& c, std::int64_t a, std::int64_t b) {
  return c.models ? Shape{c.models, a, b} : Shape{a, b};
}

// Weight gradients sum over rows, so their float error grows with the batch.
double gradient_tolerance(std::int64_t n) { return 2e-4 * std::max(1.0, std::sqrt(double(n) / 64.0)); }

class GpuMlp : public ::testing::TestWithParam<Case> {};

TEST_P(GpuMlp, MatchesCpu) {
  LATF_SKIP_WITHOUT_GPU();
  const Case c = GetParam();
  const Device gpu = Device::cuda(0);
  const MlpShape shape{c.dim, c.hidden, c.dim};
  Tensor x = testing::random_tensor(per_model(c, c.n, c.dim), 1, -2, 2),
         p = testing::random_tensor(per_model(c, shape.size()), 2, -0.4, 0.4),
         dy = testing::random_tensor(per_model(c, c.n, c.dim), 3);
  // Gradients start non-zero: both backward passes must add to them.
  Tensor dx0 = testing::random_tensor(x.shape(), 4), dp0 = testing::random_tensor(p.shape(), 5);
  Tensor y = Tensor::empty(x.shape()), dx = dx0.clone(), dp = dp0.clone();
  kernels::mlp_forward(x, p, shape, 0.01f, y);
  kernels::mlp_backward(x, p, shape, 0.01f, dy, dx, dp);
  Tensor xg = x.to(gpu), pg = p.to(gpu), yg = Tensor::empty(x.shape(), gpu), dxg = dx0.to(gpu), dpg = dp0.to(gpu);
  kernels::mlp_forward(xg, pg, shape, 0.01f, yg);
  kernels::mlp_backward(xg, pg, shape, 0.01f, dy.to(gpu), dxg, dpg);
  EXPECT_LT(testing::max_relative_error(yg, y), 1e-5);
  EXPECT_LT(testing::max_relative_error(dxg, dx), 1e-5);
  EXPECT_LT(testing::max_relative_error(dpg, dp), gradient_tolerance(c.n));
}

INSTANTIATE_TEST_SUITE_P(Shapes, GpuMlp,
                         ::testing::Values(Case{0, 1, 2, 16}, Case{0, 513, 2, 16}, Case{0, 1000, 3, 32},
                                           Case{0, 4099, 16, 64}, Case{0, 70000, 2, 16}, Case{1, 513, 2, 16},
                                           Case{3, 1, 2, 16}, Case{3, 1000, 3, 32}, Case{2, 4099, 16, 64},
                                           Case{4, 70000, 2, 16}),
                         case_name);

class GpuCoupling : public ::testing::TestWithParam<Case> {};

TEST_P(GpuCoupling, MatchesCpuBothDirections) {
  LATF_SKIP_WITHOUT_GPU();
  const Case c = GetParam();
  const Device gpu = Device::cuda(0);
  CouplingSpec spec;
  spec.dim = c.dim;
  spec.hidden = c.hidden;
  std::vector<float> mask_values(c.dim);
  for (int j = 0; j < c.dim; ++j) mask_values[j] = j % 2 == 0 ? 1.f : 0.f;
  const Tensor mask = Tensor::from_vector(mask_values, {c.dim});  // shared by all models when stacked
  const std::int64_t size = spec.net().size();
  Tensor sp = testing::random_tensor(per_model(c, size), 4, -0.4, 0.4),
         tp = testing::random_tensor(per_model(c, size), 5, -0.4, 0.4), a = testing::random_tensor(per_model(c, c.dim), 6);
  Tensor x = testing::random_tensor(per_model(c, c.n, c.dim), 7, -2, 2),
         dy = testing::random_tensor(per_model(c, c.n, c.dim), 8), dld = testing::random_tensor(per_model(c, c.n), 9);
  const Tensor xg = x.to(gpu), maskg = mask.to(gpu), spg = sp.to(gpu), tpg = tp.to(gpu), ag = a.to(gpu);
  for (float clamp : {0.f, 2.f}) {
    for (CouplingDirection dir : {CouplingDirection::Generative, CouplingDirection::Normalizing}) {
      spec.direction = dir;
      spec.scale_clamp = clamp;
      Tensor y = Tensor::empty(x.shape()), ld = Tensor::empty(dld.shape());
      Tensor dx = Tensor::zeros(x.shape()), dsp = Tensor::zeros(sp.shape()), dtp = Tensor::zeros(tp.shape()),
             da = Tensor::zeros(a.shape());
      kernels::coupling_forward(x, mask, sp, tp, a, spec, y, ld);
      kernels::coupling_backward(x, mask, sp, tp, a, spec, dy, dld, dx, dsp, dtp, da);
      Tensor yg = Tensor::empty(x.shape(), gpu), ldg = Tensor::empty(dld.shape(), gpu);
      Tensor dxg = Tensor::zeros(x.shape(), gpu), dspg = Tensor::zeros(sp.shape(), gpu),
             dtpg = Tensor::zeros(tp.shape(), gpu), dag = Tensor::zeros(a.shape(), gpu);
      kernels::coupling_forward(xg, maskg, spg, tpg, ag, spec, yg, ldg);
      kernels::coupling_backward(xg, maskg, spg, tpg, ag, spec, dy.to(gpu), dld.to(gpu), dxg, dspg, dtpg, dag);
      const std::string where = std::string(dir == CouplingDirection::Generative ? "generative" : "normalizing") +
                                " clamp " + std::to_string(clamp);
      EXPECT_LT(testing::max_relative_error(yg, y), 1e-5) << where;
      EXPECT_LT(testing::max_relative_error(ldg, ld), 1e-5) << where;
      EXPECT_LT(testing::max_relative_error(dxg, dx), 1e-4) << where;
      EXPECT_LT(testing::max_relative_error(dspg, dsp), gradient_tolerance(c.n)) << where;
      EXPECT_LT(testing::max_relative_error(dtpg, dtp), gradient_tolerance(c.n)) << where;
      EXPECT_LT(testing::max_relative_error(dag, da), gradient_tolerance(c.n)) << where;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, GpuCoupling,
                         ::testing::Values(Case{0, 1, 2, 16}, Case{0, 513, 2, 16}, Case{0, 777, 3, 32},
                                           Case{0, 2048, 16, 64}, Case{0, 65536, 2, 16}, Case{1, 513, 2, 16},
                                           Case{3, 1, 2, 16}, Case{3, 777, 3, 32}, Case{2, 2048, 16, 64},
                                           Case{4, 65536, 2, 16}),
                         case_name);

TEST(GpuCoupling, RejectsDimensionsWithoutFusedKernel) {
  LATF_SKIP_WITHOUT_GPU();
  const Device gpu = Device::cuda(0);
  CouplingSpec spec;
  spec.dim = 2;
  spec.hidden = 24;
  Tensor x = Tensor::zeros({4, 2}, gpu), p = Tensor::zeros({spec.net().size()}, gpu), m = Tensor::zeros({2}, gpu);
  Tensor y = Tensor::zeros({4, 2}, gpu), ld = Tensor::zeros({4}, gpu);
  EXPECT_THROW(kernels::coupling_forward(x, m, p, p, m, spec, y, ld), InvalidArgument);
}

// The tape op on stacked operands: values and every gradient as on the CPU.
TEST(GpuStackedCoupling, TapeOpMatchesCpu) {
  LATF_SKIP_WITHOUT_GPU();
  const Device gpu = Device::cuda(0);
  CouplingSpec spec;
  spec.dim = 3;
  spec.scale_clamp = 2.f;
  const std::int64_t size = spec.net().size();
  const Tensor x = testing::random_tensor({3, 100, 3}, 21, -2, 2),
               mask = Tensor::from_vector(std::vector<float>{1.f, 0.f, 1.f}, {3}),
               sp = testing::random_tensor({3, size}, 22, -0.4, 0.4),
               tp = testing::random_tensor({3, size}, 23, -0.4, 0.4), a = testing::random_tensor({3, 3}, 24),
               seed = testing::random_tensor({3, 100}, 25);
  std::vector<Tensor> results[2];
  for (int k = 0; k < 2; ++k) {
    const Device device = k == 0 ? Device::cpu() : gpu;
    autodiff::Tape tape;
    Tensor dx = Tensor::zeros(x.shape(), device), dsp = Tensor::zeros(sp.shape(), device),
           dtp = Tensor::zeros(tp.shape(), device), da = Tensor::zeros(a.shape(), device);
    const auto out = autodiff::coupling(tape, tape.parameter(x.to(device), dx), tape.constant(mask.to(device)),
                                        tape.parameter(sp.to(device), dsp), tape.parameter(tp.to(device), dtp),
                                        tape.parameter(a.to(device), da), spec);
    ASSERT_EQ(tape.value(out.log_det).shape(), (Shape{3, 100}));
    tape.backward(out.log_det, seed.to(device));
    results[k] = {tape.value(out.y), tape.value(out.log_det), dx, dsp, dtp, da};
  }
  for (int i = 0; i < 6; ++i) EXPECT_LT(testing::max_relative_error(results[1][i], results[0][i]), 2e-4) << i;
}

}  // namespace
}  // namespace latf

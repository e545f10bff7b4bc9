// CPU vs CUDA for the fused conditioner MLP and the fused coupling layer, forward and backward.
#include "kernels/coupling.hpp"
#include "kernels/mlp.hpp"
#include "tests/support.hpp"

namespace latf {
namespace {

using kernels::CouplingDirection;
using kernels::CouplingSpec;
using kernels::MlpShape;

struct Case {
  std::int64_t n;
  int dim, hidden;
};

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  return "n" + std::to_string(info.param.n) + "_d" + std::to_string(info.param.dim) + "_h" +
         std::to_string(info.param.hidden);
}

// Weight gradients sum over rows, so their float error grows with the batch.
double gradient_tolerance(std::int64_t n) { return 2e-4 * std::max(1.0, std::sqrt(double(n) / 64.0)); }

class GpuMlp : public ::testing::TestWithParam<Case> {};

TEST_P(GpuMlp, MatchesCpu) {
  LATF_SKIP_WITHOUT_GPU();
  const Case c = GetParam();
  const Device gpu = Device::cuda(0);
  const MlpShape shape{c.dim, c.hidden, c.dim};
  Tensor x = testing::random_tensor({c.n, c.dim}, 1, -2, 2), p = testing::random_tensor({shape.size()}, 2, -0.4, 0.4),
         dy = testing::random_tensor({c.n, c.dim}, 3);
  Tensor y = Tensor::empty(x.shape()), dx = Tensor::zeros(x.shape()), dp = Tensor::zeros(p.shape());
  kernels::mlp_forward(x, p, shape, 0.01f, y);
  kernels::mlp_backward(x, p, shape, 0.01f, dy, dx, dp);
  Tensor xg = x.to(gpu), pg = p.to(gpu), yg = Tensor::empty(x.shape(), gpu), dxg = Tensor::zeros(x.shape(), gpu),
         dpg = Tensor::zeros(p.shape(), gpu);
  kernels::mlp_forward(xg, pg, shape, 0.01f, yg);
  kernels::mlp_backward(xg, pg, shape, 0.01f, dy.to(gpu), dxg, dpg);
  EXPECT_LT(testing::max_relative_error(yg, y), 1e-5);
  EXPECT_LT(testing::max_relative_error(dxg, dx), 1e-5);
  EXPECT_LT(testing::max_relative_error(dpg, dp), gradient_tolerance(c.n));
}

INSTANTIATE_TEST_SUITE_P(Shapes, GpuMlp,
                         ::testing::Values(Case{1, 2, 16}, Case{513, 2, 16}, Case{1000, 3, 32}, Case{4099, 16, 64},
                                           Case{70000, 2, 16}),
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
  Tensor mask = Tensor::from_vector(mask_values, {c.dim});
  Tensor sp = testing::random_tensor({spec.net().size()}, 4, -0.4, 0.4),
         tp = testing::random_tensor({spec.net().size()}, 5, -0.4, 0.4), a = testing::random_tensor({c.dim}, 6);
  Tensor x = testing::random_tensor({c.n, c.dim}, 7, -2, 2), dy = testing::random_tensor({c.n, c.dim}, 8),
         dld = testing::random_tensor({c.n}, 9);
  for (float clamp : {0.f, 2.f}) {
    for (CouplingDirection dir : {CouplingDirection::Generative, CouplingDirection::Normalizing}) {
      spec.direction = dir;
      spec.scale_clamp = clamp;
      Tensor y = Tensor::empty(x.shape()), ld = Tensor::empty({c.n});
      Tensor dx = Tensor::zeros(x.shape()), dsp = Tensor::zeros(sp.shape()), dtp = Tensor::zeros(tp.shape()),
             da = Tensor::zeros(a.shape());
      kernels::coupling_forward(x, mask, sp, tp, a, spec, y, ld);
      kernels::coupling_backward(x, mask, sp, tp, a, spec, dy, dld, dx, dsp, dtp, da);
      Tensor yg = Tensor::empty(x.shape(), gpu), ldg = Tensor::empty({c.n}, gpu);
      Tensor dxg = Tensor::zeros(x.shape(), gpu), dspg = Tensor::zeros(sp.shape(), gpu),
             dtpg = Tensor::zeros(tp.shape(), gpu), dag = Tensor::zeros(a.shape(), gpu);
      const Tensor xg = x.to(gpu), maskg = mask.to(gpu), spg = sp.to(gpu), tpg = tp.to(gpu), ag = a.to(gpu);
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
                         ::testing::Values(Case{1, 2, 16}, Case{513, 2, 16}, Case{777, 3, 32}, Case{2048, 16, 64},
                                           Case{65536, 2, 16}),
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

}  // namespace
}  // namespace latf

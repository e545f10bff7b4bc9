// CPU vs CUDA for the fused coupling stack (kernels/coupling_stack.hpp), single and model-stacked,
// both directions, forward and backward — including a flow too large to stage in shared memory.
#include <cmath>

#include "kernels/coupling_stack.hpp"
#include "tests/support.hpp"

namespace latf {
namespace {

using kernels::CouplingDirection;
using kernels::CouplingSpec;

struct Case {
  std::int64_t models;  // 0: single form
  std::int64_t n;
  int dim, hidden, layers;
};

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  const Case& c = info.param;
  const std::string name = "n" + std::to_string(c.n) + "_d" + std::to_string(c.dim) + "_h" + std::to_string(c.hidden) +
                           "_L" + std::to_string(c.layers);
  return c.models > 0 ? "m" + std::to_string(c.models) + "_" + name : name;
}

Tensor make_masks(int dim, int layers) {
  std::vector<float> values(std::size_t(layers) * dim, 0.f);
  if (dim > 1)
    for (int l = 0; l < layers; ++l)
      for (int j = 0; j < dim; ++j) values[l * dim + j] = (j < dim / 2) == (l % 2 == 0) ? 1.f : 0.f;
  return Tensor::from_vector(values, {layers, dim});
}

// Weight gradients sum over rows, so their float error grows with the batch.
double gradient_tolerance(std::int64_t n) { return 5e-4 * std::max(1.0, std::sqrt(double(n) / 64.0)); }

class GpuCouplingStack : public ::testing::TestWithParam<Case> {};

TEST_P(GpuCouplingStack, MatchesCpuBothDirections) {
  LATF_SKIP_WITHOUT_GPU();
  const Case c = GetParam();
  const Device gpu = Device::cuda(0);
  const std::int64_t models = std::max<std::int64_t>(c.models, 1);
  const Shape xs = c.models > 0 ? Shape{c.models, c.n, c.dim} : Shape{c.n, c.dim};
  const Shape ls = c.models > 0 ? Shape{c.models, c.n} : Shape{c.n};
  CouplingSpec spec;
  spec.dim = c.dim;
  spec.hidden = c.hidden;
  const Tensor masks = make_masks(c.dim, c.layers);
  const Tensor params =
      testing::random_tensor({kernels::coupling_stack_params_size(spec, c.layers, models)}, 1, -0.4, 0.4);
  const Tensor x = testing::random_tensor(xs, 2, -2, 2), dy = testing::random_tensor(xs, 3),
               dld = testing::random_tensor(ls, 4), dx0 = testing::random_tensor(xs, 5),
               dp0 = testing::random_tensor(params.shape(), 6);
  const Tensor xg = x.to(gpu), masksg = masks.to(gpu), paramsg = params.to(gpu);
  for (float clamp : {0.f, 2.f}) {
    for (CouplingDirection dir : {CouplingDirection::Generative, CouplingDirection::Normalizing}) {
      spec.direction = dir;
      spec.scale_clamp = clamp;
      const std::string what = std::string(dir == CouplingDirection::Generative ? "generative" : "normalizing") +
                               ", clamp " + std::to_string(clamp);
      Tensor y = Tensor::empty(xs), ld = Tensor::empty(ls), dx = dx0.clone(), dp = dp0.clone();
      kernels::coupling_stack_forward(x, masks, params, spec, c.layers, y, ld);
      kernels::coupling_stack_backward(x, masks, params, spec, c.layers, dy, dld, dx, dp);
      Tensor yg = Tensor::empty(xs, gpu), ldg = Tensor::empty(ls, gpu), dxg = dx0.to(gpu), dpg = dp0.to(gpu);
      kernels::coupling_stack_forward(xg, masksg, paramsg, spec, c.layers, yg, ldg);
      kernels::coupling_stack_backward(xg, masksg, paramsg, spec, c.layers, dy.to(gpu), dld.to(gpu), dxg, dpg);
      EXPECT_LT(testing::max_relative_error(yg, y), 1e-4) << what << " y";
      EXPECT_LT(testing::max_relative_error(ldg, ld), 1e-4) << what << " log_det";
      EXPECT_LT(testing::max_relative_error(dxg, dx), 2e-4) << what << " dx";
      EXPECT_LT(testing::max_relative_error(dpg, dp), gradient_tolerance(c.n)) << what << " dparams";
      // Only one of the gradients (the other undefined) on the device as well.
      Tensor none, dxo = dx0.to(gpu), dpo = dp0.to(gpu);
      kernels::coupling_stack_backward(xg, masksg, paramsg, spec, c.layers, dy.to(gpu), Tensor(), dxo, none);
      kernels::coupling_stack_backward(xg, masksg, paramsg, spec, c.layers, Tensor(), dld.to(gpu), none, dpo);
      Tensor dxc = dx0.clone(), dpc = dp0.clone();
      kernels::coupling_stack_backward(x, masks, params, spec, c.layers, dy, Tensor(), dxc, none);
      kernels::coupling_stack_backward(x, masks, params, spec, c.layers, Tensor(), dld, none, dpc);
      EXPECT_LT(testing::max_relative_error(dxo, dxc), 2e-4) << what << " dx from dy only";
      EXPECT_LT(testing::max_relative_error(dpo, dpc), gradient_tolerance(c.n)) << what << " dparams from dlog_det only";
    }
  }
}

// d16_h64_L10 needs ~1 MB of parameters and accumulators per block: it runs the unstaged path.
INSTANTIATE_TEST_SUITE_P(Shapes, GpuCouplingStack,
                         ::testing::Values(Case{0, 1, 2, 16, 2}, Case{0, 1000, 3, 32, 10}, Case{0, 4099, 16, 64, 2},
                                           Case{0, 777, 16, 64, 10}, Case{3, 513, 2, 16, 4}, Case{1, 37, 3, 32, 3},
                                           Case{2, 70000, 2, 16, 10}, Case{2, 300, 16, 64, 10}),
                         case_name);

TEST(GpuCouplingStackInput, RejectsHiddenWidthWithoutFusedKernel) {
  LATF_SKIP_WITHOUT_GPU();
  const Device gpu = Device::cuda(0);
  CouplingSpec spec;
  spec.dim = 2;
  spec.hidden = 20;
  const Tensor x = Tensor::zeros({4, 2}, gpu), masks = make_masks(2, 2).to(gpu),
               params = Tensor::zeros({kernels::coupling_stack_params_size(spec, 2)}, gpu);
  Tensor y = Tensor::empty({4, 2}, gpu), ld = Tensor::empty({4}, gpu);
  testing::expect_invalid_argument([&] { kernels::coupling_stack_forward(x, masks, params, spec, 2, y, ld); },
                                   "coupling_stack on CUDA");
}

}  // namespace
}  // namespace latf

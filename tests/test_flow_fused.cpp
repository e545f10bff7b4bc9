// RealNvp run as one fused coupling-stack op equals RealNvp run layer by layer (the oracle), for
// one flow and for a stack of flows, in both directions, values and parameter gradients.
#include <gtest/gtest.h>

#include "autodiff/ops.hpp"
#include "engine/random_fill.hpp"
#include "models/realnvp.hpp"
#include "tests/support.hpp"

namespace latf {
namespace {

using autodiff::Tape;

struct Run {
  Tensor y, log_det, grads;
};

Run run_flow(models::RealNvp& flow, const Tensor& x, bool generate) {
  flow.parameters().zero_grad();
  Tape tape;
  const auto in = tape.variable(x);
  const models::FlowOutputs out = generate ? flow.generate(tape, in) : flow.normalize(tape, in);
  // A scalar that weighs y and the log-det differently, so that both gradients matter.
  const auto total = autodiff::axpby(tape, 1.0, autodiff::weighted_sum(tape, out.out, autodiff::Var{}), 0.5,
                                     autodiff::weighted_sum(tape, out.log_det, autodiff::Var{}));
  tape.backward(total);
  return Run{tape.value(out.out).clone(), tape.value(out.log_det).clone(), flow.parameters().flat_grads().clone()};
}

void expect_fused_equals_layered(models::RealNvp& flow, const Tensor& x) {
  for (bool generate : {false, true}) {
    flow.set_fused(false);
    const Run layered = run_flow(flow, x, generate);
    flow.set_fused(true);
    const Run fused = run_flow(flow, x, generate);
    const char* way = generate ? "generate" : "normalize";
    EXPECT_LE(testing::max_relative_error(fused.y, layered.y), 1e-5) << way;
    EXPECT_LE(testing::max_relative_error(fused.log_det, layered.log_det), 1e-5) << way;
    EXPECT_LE(testing::max_relative_error(fused.grads, layered.grads), 1e-4) << way;
  }
}

models::FlowConfig flow_config() {
  models::FlowConfig config;
  config.layers = 4;
  config.scale_clamp = 2.0;
  return config;
}

TEST(FusedFlow, OneFlowEqualsItsLayers) {
  models::RealNvp flow(2, flow_config(), Device::cpu(), std::uint64_t{3});
  EXPECT_FALSE(flow.fused());  // the CPU default: layer by layer
  Tensor params = flow.parameters().flat_values();
  fill_uniform(params, 5, 0, -0.3, 0.3);  // away from the identity a new flow starts as
  expect_fused_equals_layered(flow, testing::random_tensor({37, 2}, 1, -2, 2));
}

TEST(FusedFlow, StackedFlowsEqualTheirLayers) {
  const models::RealNvp a(2, flow_config(), Device::cpu(), std::uint64_t{3});
  const models::RealNvp b(2, flow_config(), Device::cpu(), std::uint64_t{4});
  models::RealNvp stack = models::RealNvp::stack({&a, &b});
  Tensor params = stack.parameters().flat_values();
  fill_uniform(params, 6, 0, -0.3, 0.3);
  expect_fused_equals_layered(stack, testing::random_tensor({2, 29, 2}, 2, -2, 2));
}

TEST(FusedFlow, AnEmptyFlowCannotBeFused) {
  models::FlowConfig config;
  config.layers = 0;
  models::RealNvp flow(2, config, Device::cpu(), std::uint64_t{1});
  testing::expect_invalid_argument([&] { flow.set_fused(true); }, "fused flow: needs 1 to 32 layers");
}

}  // namespace
}  // namespace latf

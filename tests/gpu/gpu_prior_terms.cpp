// CUDA against CPU for the fused prior terms (kernels/prior_terms.hpp): the per-model CUB
// reductions of the forward and the one-kernel backward (staged and unstaged VampPrior gradients,
// scalar and per-element log-variances, single and stacked). The CPU runs in float64 as the
// reference; gradient buffers start from a non-zero pattern on both sides. Then, on CUDA, the
// fused terms against the chain, and the whole loss (fused by device) against the chain-built loss.
#include <cmath>
#include <string>
#include <vector>

#include "autodiff/ops.hpp"
#include "kernels/prior_terms.hpp"
#include "models/latf_model.hpp"
#include "models/loss.hpp"
#include "tests/prior_terms_cases.hpp"
#include "tests/stacked_cases.hpp"
#include "tests/stacked_support.hpp"
#include "tests/support.hpp"

namespace latf {
namespace {

using autodiff::Tape;
using autodiff::Var;
using namespace testing::prior_terms;

constexpr double kTolerance = 1e-4;

const auto place = testing::place_for_comparison;
const auto dtype_on = testing::comparison_dtype;
const auto start = testing::prefilled_gradient;

class GpuPriorTerms : public ::testing::TestWithParam<Case> {};

TEST_P(GpuPriorTerms, VampKlTermMatchesCpu) {
  LATF_SKIP_WITHOUT_GPU();
  const Case c = GetParam();
  std::vector<Tensor> in = vamp_inputs(c, DType::Float32);
  const Tensor weights = c.weighted ? in.back() : Tensor();
  if (c.weighted) in.pop_back();
  const std::int64_t models = std::max(c.models, 1);
  const Tensor dloss = testing::random_tensor({models}, 8, 0.5, 2);
  std::vector<Tensor> loss(2);
  std::vector<std::vector<Tensor>> grads(2);
  const Device devices[2] = {Device::cpu(), Device::cuda(0)};
  for (int s = 0; s < 2; ++s) {
    const Device& dev = devices[s];
    std::vector<Tensor> x;
    for (const Tensor& t : in) x.push_back(place(t, dev));
    loss[s] = Tensor::empty({models}, dev, dtype_on(dev));
    kernels::vamp_kl_term_forward(x[0], x[1], x[2], x[3], x[4], x[5], place(weights, dev), loss[s]);
    for (int i = 0; i < 6; ++i) grads[s].push_back(start(in[i].shape(), 20 + i, dev, dtype_on(dev)));
    kernels::vamp_kl_term_backward(x[0], x[1], x[2], x[3], x[4], x[5], place(weights, dev), place(dloss, dev),
                                   grads[s][0], grads[s][1], grads[s][2], grads[s][3], grads[s][4], grads[s][5]);
  }
  EXPECT_LT(testing::max_relative_error(loss[1], loss[0]), kTolerance) << "loss";
  const char* names[6] = {"u", "mean", "log_variance", "means", "component_log_variance", "mixture_logits"};
  for (int i = 0; i < 6; ++i)
    EXPECT_LT(testing::max_relative_error(grads[1][i], grads[0][i]), kTolerance) << "d" << names[i];
}

TEST_P(GpuPriorTerms, TiltedNllTermMatchesCpu) {
  LATF_SKIP_WITHOUT_GPU();
  const Case c = GetParam();
  const std::vector<Tensor> in = tilted_inputs(c, DType::Float32);
  const Tensor &z = in[0], &b = in[1];
  const Tensor log_det = c.log_det ? in[2] : Tensor();
  const Tensor weights = c.weighted ? in.back() : Tensor();
  const std::int64_t models = std::max(c.models, 1);
  const Tensor taus = testing::random_tensor({models}, 34, 0.0, 2.5);
  const Tensor dloss = testing::random_tensor({models}, 35, 0.5, 2);
  const float tau = 1.3f;
  std::vector<Tensor> loss(2), dz(2), dl(2);
  const Device devices[2] = {Device::cpu(), Device::cuda(0)};
  for (int s = 0; s < 2; ++s) {
    const Device& dev = devices[s];
    loss[s] = Tensor::empty({models}, dev, dtype_on(dev));
    dz[s] = start(z.shape(), 36, dev, dtype_on(dev));
    dl[s] = c.log_det ? start(log_det.shape(), 37, dev, dtype_on(dev)) : Tensor();
    const Tensor taus_here = taus.to(dev);  // float32 on either device
    if (c.models) {
      kernels::tilted_nll_term_forward(place(z, dev), place(log_det, dev), place(b, dev), taus_here,
                                       place(weights, dev), loss[s]);
      kernels::tilted_nll_term_backward(place(z, dev), place(log_det, dev), place(b, dev), taus_here,
                                        place(weights, dev), place(dloss, dev), dz[s], dl[s]);
    } else {
      kernels::tilted_nll_term_forward(place(z, dev), place(log_det, dev), place(b, dev), tau, place(weights, dev),
                                       loss[s]);
      kernels::tilted_nll_term_backward(place(z, dev), place(log_det, dev), place(b, dev), tau, place(weights, dev),
                                        place(dloss, dev), dz[s], dl[s]);
    }
  }
  EXPECT_LT(testing::max_relative_error(loss[1], loss[0]), kTolerance) << "loss";
  EXPECT_LT(testing::max_relative_error(dz[1], dz[0]), kTolerance) << "dz";
  if (c.log_det) {
    EXPECT_LT(testing::max_relative_error(dl[1], dl[0]), kTolerance) << "dlog_det";
  }
}

INSTANTIATE_TEST_SUITE_P(
    Forms, GpuPriorTerms,
    ::testing::Values(Case{0, true, true, true, 37, 2, 5}, Case{0, false, false, false, 1, 1, 1},
                      Case{0, true, true, true, 5000, 2, 6},     // many blocks, staged gradients
                      Case{0, false, true, true, 300, 8, 700},   // K·d too large to stage
                      Case{1, false, true, false, 23, 3, 3}, Case{3, true, true, true, 2049, 2, 6},
                      Case{3, false, false, true, 300, 5, 7}, Case{3, true, true, false, 200, 8, 700}),
    case_name);

// ---------------------------------------------------------------- the whole loss on CUDA

using models::LatfConfig;
using models::Phase;

// The loss of one model on CUDA in the given form: total, prior and every parameter gradient.
std::vector<Tensor> loss_on_cuda(models::LatfModel& model, Phase phase, int states, const LatfConfig& config,
                                 models::PriorTermForm form) {
  const Device cuda = Device::cuda(0);
  const std::int64_t rows = 257;
  const int d = config.spib.latent_dim;
  Tensor targets = Tensor::zeros({rows, states});
  for (std::int64_t r = 0; r < rows; ++r) targets.data<float>()[r * states + (r * 7) % states] = 1.f;
  Tape tape;
  tape.set_check_finite(false);
  const models::BatchVars batch{tape.constant(testing::random_tensor({rows, 2}, 1, -2, 2).to(cuda)),
                                tape.constant(targets.to(cuda)),
                                tape.constant(testing::random_tensor({rows}, 2, 0.5, 2).to(cuda)),
                                tape.constant(testing::random_tensor({rows}, 3, 0.6, 1.2).to(cuda)),
                                tape.constant(testing::random_tensor({rows, d}, 4).to(cuda))};
  models::LossOptions options;
  options.prior_term = form;
  const models::LossVars loss =
      models::latf_loss(tape, *model.spib, *model.flow, phase, batch, config.spib.beta, 0.8, options);
  tape.backward(loss.total);
  std::vector<Tensor> out = {tape.value(loss.total).to(Device::cpu()), tape.value(loss.prior).to(Device::cpu())};
  for (autodiff::ParameterSet* p : {&model.spib->parameters(), &model.flow->parameters()}) {
    for (int i = 0; i < p->count(); ++i) out.push_back(p->grad(i).to(Device::cpu()));
    p->zero_grad();
  }
  return out;
}

TEST(GpuPriorTermsLoss, FusedByDeviceEqualsChainOnCuda) {
  LATF_SKIP_WITHOUT_GPU();
  LatfConfig config = testing::base_config();
  const models::Dataset data = testing::small_dataset(config);
  models::LatfModel model = models::LatfModel::create(config, data.descriptors(), data.states(), data.normalization(),
                                                      data.reference_temperature(), Device::cuda(0));
  for (const Phase phase : {Phase::Spib, Phase::Joint}) {
    SCOPED_TRACE(models::phase_name(phase));
    const std::vector<Tensor> chain = loss_on_cuda(model, phase, data.states(), config, models::PriorTermForm::Chain);
    const std::vector<Tensor> fused = loss_on_cuda(model, phase, data.states(), config, models::PriorTermForm::ByDevice);
    ASSERT_EQ(fused.size(), chain.size());
    for (std::size_t i = 0; i < chain.size(); ++i)
      EXPECT_LT(testing::max_relative_error(fused[i], chain[i]), kTolerance) << "output " << i;
  }
}

}  // namespace
}  // namespace latf

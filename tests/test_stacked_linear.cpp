// The model-stacked form of linear (autodiff/ops.hpp): a stacked call equals M single calls on
// the slices bit for bit on the CPU, forward and every gradient; finite differences of the
// stacked op; bad stacked operands are rejected by name.
#include "autodiff/gradcheck.hpp"
#include "autodiff/ops.hpp"
#include "kernels/linear.hpp"
#include "tests/support.hpp"

namespace latf {
namespace {

using autodiff::Tape;
using autodiff::Var;
using kernels::Activation;

using testing::random_slices;
Tensor stack(const std::vector<Tensor>& slices) { return testing::stack_slices(slices); }
// Model m's slice of a stacked tensor, viewed as shape s (which may flatten it).
Tensor slice_of(const Tensor& stacked, std::int64_t m, const Shape& s) { return stacked.view(m * s.numel(), s); }

struct StackedCase {
  std::int64_t models, n, in, out;
  Activation act;
};

std::string case_name(const ::testing::TestParamInfo<StackedCase>& info) {
  static const char* const activation_names[] = {"identity", "relu", "leaky"};
  const StackedCase& c = info.param;
  return "m" + std::to_string(c.models) + "_n" + std::to_string(c.n) + "_in" + std::to_string(c.in) + "_out" +
         std::to_string(c.out) + "_" + activation_names[static_cast<int>(c.act)];
}

class StackedLinear : public ::testing::TestWithParam<StackedCase> {};

TEST_P(StackedLinear, KernelsEqualPerModelSingleCallsBitForBit) {
  const StackedCase c = GetParam();
  const auto xs = random_slices(c.models, {c.n, c.in}, 100), ws = random_slices(c.models, {c.out, c.in}, 200),
             bs = random_slices(c.models, {c.out}, 300), dys = random_slices(c.models, {c.n, c.out}, 400);
  // Gradients start non-zero: backward must accumulate into each model's slice.
  const auto dx0 = random_slices(c.models, {c.n, c.in}, 500), dw0 = random_slices(c.models, {c.out, c.in}, 600),
             db0 = random_slices(c.models, {c.out}, 700);
  const Tensor x = stack(xs), w = stack(ws), b = stack(bs), dy = stack(dys);
  Tensor y = Tensor::empty({c.models, c.n, c.out});
  kernels::linear_forward(x, w, b, c.act, 0.1f, y);
  Tensor dx = stack(dx0), dw = stack(dw0), db = stack(db0);
  kernels::linear_backward(x, w, y, dy, c.act, 0.1f, dx, dw, db);
  for (std::int64_t m = 0; m < c.models; ++m) {
    Tensor ym = Tensor::empty({c.n, c.out});
    kernels::linear_forward(xs[m], ws[m], bs[m], c.act, 0.1f, ym);
    Tensor dxm = dx0[m].clone(), dwm = dw0[m].clone(), dbm = db0[m].clone();
    kernels::linear_backward(xs[m], ws[m], ym, dys[m], c.act, 0.1f, dxm, dwm, dbm);
    EXPECT_EQ(testing::float_bits(slice_of(y, m, {c.n, c.out})), testing::float_bits(ym)) << "y, model " << m;
    EXPECT_EQ(testing::float_bits(slice_of(dx, m, {c.n, c.in})), testing::float_bits(dxm)) << "dx, model " << m;
    EXPECT_EQ(testing::float_bits(slice_of(dw, m, {c.out, c.in})), testing::float_bits(dwm)) << "dw, model " << m;
    EXPECT_EQ(testing::float_bits(slice_of(db, m, {c.out})), testing::float_bits(dbm)) << "db, model " << m;
  }
}

TEST_P(StackedLinear, TapeOpEqualsPerModelSingleOpsBitForBit) {
  const StackedCase c = GetParam();
  const auto xs = random_slices(c.models, {c.n, c.in}, 110), ws = random_slices(c.models, {c.out, c.in}, 210),
             bs = random_slices(c.models, {c.out}, 310), dys = random_slices(c.models, {c.n, c.out}, 410);
  const Tensor x = stack(xs), w = stack(ws), b = stack(bs);
  Tensor dx = Tensor::zeros(x.shape()), dw = Tensor::zeros(w.shape()), db = Tensor::zeros(b.shape());
  Tape tape;
  Var out = autodiff::linear(tape, tape.parameter(x, dx), tape.parameter(w, dw), tape.parameter(b, db), c.act, 0.1f);
  const Tensor y = tape.value(out);
  ASSERT_EQ(y.shape(), (Shape{c.models, c.n, c.out}));
  tape.backward(out, stack(dys));
  for (std::int64_t m = 0; m < c.models; ++m) {
    Tensor dxm = Tensor::zeros({c.n, c.in}), dwm = Tensor::zeros({c.out, c.in}), dbm = Tensor::zeros({c.out});
    Tape single;
    Var o = autodiff::linear(single, single.parameter(xs[m], dxm), single.parameter(ws[m], dwm),
                             single.parameter(bs[m], dbm), c.act, 0.1f);
    single.backward(o, dys[m]);
    EXPECT_EQ(testing::float_bits(slice_of(y, m, {c.n, c.out})), testing::float_bits(single.value(o))) << m;
    EXPECT_EQ(testing::float_bits(slice_of(dx, m, {c.n, c.in})), testing::float_bits(dxm)) << "dx, model " << m;
    EXPECT_EQ(testing::float_bits(slice_of(dw, m, {c.out, c.in})), testing::float_bits(dwm)) << "dw, model " << m;
    EXPECT_EQ(testing::float_bits(slice_of(db, m, {c.out})), testing::float_bits(dbm)) << "db, model " << m;
  }
}

TEST_P(StackedLinear, GradientsMatchFiniteDifferences) {
  const StackedCase c = GetParam();
  const std::int64_t rows = std::min<std::int64_t>(c.n, 3), in = std::min<std::int64_t>(c.in, 4),
                     out = std::min<std::int64_t>(c.out, 3);
  auto f = [&](Tape& tape, const std::vector<Var>& v) {
    return std::vector<Var>{autodiff::linear(tape, v[0], v[1], v[2], c.act, 0.1f)};
  };
  const auto result = autodiff::check_gradients(
      f, {stack(random_slices(c.models, {rows, in}, 120, -1, 1, DType::Float64)),
          stack(random_slices(c.models, {out, in}, 220, -1, 1, DType::Float64)),
          stack(random_slices(c.models, {out}, 320, -1, 1, DType::Float64))});
  EXPECT_TRUE(result.passed) << result.report;
}

INSTANTIATE_TEST_SUITE_P(Shapes, StackedLinear,
                         ::testing::Values(StackedCase{1, 5, 3, 4, Activation::Identity},
                                           StackedCase{3, 5, 3, 4, Activation::Identity},
                                           StackedCase{3, 1, 7, 2, Activation::ReLU},
                                           StackedCase{3, 33, 16, 16, Activation::LeakyReLU},
                                           StackedCase{1, 17, 5, 9, Activation::LeakyReLU},
                                           StackedCase{2, 70, 65, 3, Activation::ReLU}),
                         case_name);

TEST(StackedLinear, ModelsAreIndependent) {
  // Changing model 1's weight changes only model 1's output.
  Tensor x = testing::random_tensor({3, 4, 2}, 1), w = testing::random_tensor({3, 5, 2}, 2),
         b = testing::random_tensor({3, 5}, 3);
  Tensor y = Tensor::empty({3, 4, 5}), y2 = Tensor::empty({3, 4, 5});
  kernels::linear_forward(x, w, b, Activation::Identity, 0.f, y);
  Tensor w2 = w.clone();
  w2.view(10, {10}).fill(7.0);
  kernels::linear_forward(x, w2, b, Activation::Identity, 0.f, y2);
  EXPECT_EQ(testing::float_bits(slice_of(y, 0, {20})), testing::float_bits(slice_of(y2, 0, {20})));
  EXPECT_NE(testing::float_bits(slice_of(y, 1, {20})), testing::float_bits(slice_of(y2, 1, {20})));
  EXPECT_EQ(testing::float_bits(slice_of(y, 2, {20})), testing::float_bits(slice_of(y2, 2, {20})));
}

TEST(StackedLinear, RejectsModelCountMismatchAndMixedFormsByName) {
  const Activation id = Activation::Identity;
  Tensor x = Tensor::zeros({2, 4, 3}), w = Tensor::zeros({2, 5, 3}), b = Tensor::zeros({2, 5}),
         y = Tensor::zeros({2, 4, 5});
  // Wrong model count between operands.
  testing::expect_invalid_argument_all(
      [&] { kernels::linear_forward(x, Tensor::zeros({3, 5, 3}), b, id, 0.f, y); }, {"linear weight", "2 stacked models"});
  testing::expect_invalid_argument_all([&] { kernels::linear_forward(x, w, Tensor::zeros({3, 5}), id, 0.f, y); },
                                       {"linear bias", "[2, 5]", "[3, 5]"});
  Tensor y_three_models = Tensor::zeros({3, 4, 5});
  testing::expect_invalid_argument([&] { kernels::linear_forward(x, w, b, id, 0.f, y_three_models); },
                                   "linear output y");
  // Mixed forms.
  testing::expect_invalid_argument_all([&] { kernels::linear_forward(x, Tensor::zeros({5, 3}), b, id, 0.f, y); },
                                       {"linear weight", "stacked"});
  testing::expect_invalid_argument_all(
      [&] { kernels::linear_forward(Tensor::zeros({4, 3}), w, Tensor::zeros({5}), id, 0.f, y); },
      {"linear weight", "rank 2"});
  testing::expect_invalid_argument([&] { kernels::linear_forward(x, w, Tensor::zeros({5}), id, 0.f, y); },
                                   "linear bias");
  // Wrong stacked widths.
  testing::expect_invalid_argument_all([&] { kernels::linear_forward(x, Tensor::zeros({2, 5, 4}), b, id, 0.f, y); },
                                       {"linear weight", "input columns"});
  testing::expect_invalid_argument([&] { kernels::linear_forward(Tensor::zeros({2, 2, 4, 3}), w, b, id, 0.f, y); },
                                   "linear input x");
  // Backward: gradients must have the stacked shapes.
  Tensor dx = Tensor::zeros({2, 4, 3}), dw = Tensor::zeros({5, 3}), db = Tensor::zeros({2, 5});
  testing::expect_invalid_argument([&] { kernels::linear_backward(x, w, y, y, id, 0.f, dx, dw, db); },
                                   "linear weight gradient");
  Tensor db_bad = Tensor::zeros({5}), dw_ok = Tensor::zeros(w.shape());
  testing::expect_invalid_argument([&] { kernels::linear_backward(x, w, y, y, id, 0.f, dx, dw_ok, db_bad); },
                                   "linear bias gradient");
  testing::expect_invalid_argument(
      [&] { kernels::linear_backward(x, w, y, Tensor::zeros({2, 4, 4}), id, 0.f, dx, dw_ok, db); },
      "linear output gradient dy");
  // The tape op reports the kernel's message.
  Tape tape;
  testing::expect_invalid_argument(
      [&] { autodiff::linear(tape, tape.constant(x), tape.constant(Tensor::zeros({3, 5, 3})), tape.constant(b)); },
      "linear weight");
}

}  // namespace
}  // namespace latf

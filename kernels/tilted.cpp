#include "kernels/tilted.hpp"

#include "kernels/tilted_math.hpp"

namespace latf::kernels {

#if LATF_WITH_CUDA
// Either form: taus undefined (single, tilt `tau`) or [M] for a stacked z [M,N,d].
void tilted_log_density_forward_cuda(const Tensor& z, const Tensor& inverse_temperature, const Tensor& log_normalizer,
                                     float tau, const Tensor& taus, Tensor& out);
void tilted_log_density_backward_cuda(const Tensor& z, const Tensor& inverse_temperature, float tau,
                                      const Tensor& taus, const Tensor& dout, Tensor& dz);
// Returns the number of rows whose radius sampler gave up (0 unless there is a bug).
std::int64_t tilted_sample_cuda(Tensor& z, double tau, double reduced_temperature, std::uint64_t seed,
                                std::uint64_t stream);
void tilted_sample_rows_cuda(Tensor& z, double tau, double reduced_temperature, std::uint64_t seed,
                             std::uint64_t stream, std::uint64_t first_row, Tensor& failed);
#endif

namespace {

void check_prior_parameters(const char* op, double tau, int dim, double reduced_temperature) {
  LATF_REQUIRE(tau >= 0 && std::isfinite(tau), op, ": tilt tau: expected a finite value >= 0, got ", tau);
  LATF_REQUIRE(dim >= 1, op, ": dimension d: expected >= 1, got ", dim);
  LATF_REQUIRE(reduced_temperature > 0 && std::isfinite(reduced_temperature), op,
               ": reduced temperature T': expected a finite value > 0, got ", reduced_temperature);
}

void check_rows(const Tensor& z, const Tensor& inverse_temperature) {
  require_defined(z, "tilted density input z");
  LATF_REQUIRE(z.rank() == 2 && z.dim(1) >= 1, "tilted density input z: expected rank 2 [N, d] with d >= 1, got shape ",
               z.shape().str());
  require_shape(inverse_temperature, {z.dim(0)}, "tilted density inverse_temperature");
  require_same_device(z, inverse_temperature, "tilted density input z", "tilted density inverse_temperature");
  LATF_REQUIRE(inverse_temperature.dtype() == z.dtype(), "tilted density inverse_temperature: expected dtype ",
               dtype_name(z.dtype()), " of z, got ", dtype_name(inverse_temperature.dtype()));
}

void check_companion(const Tensor& z, const Tensor& t, const Shape& shape, const char* name) {
  require_shape(t, shape, name);
  require_same_device(z, t, "tilted density input z", name);
  LATF_REQUIRE(t.dtype() == z.dtype(), name, ": expected dtype ", dtype_name(z.dtype()), " of z, got ",
               dtype_name(t.dtype()));
}

template <class T>
void forward_cpu(const Tensor& z, const Tensor& b, const Tensor& c, T tau, Tensor& out) {
  const std::int64_t n = z.dim(0);
  const int d = static_cast<int>(z.dim(1));
  const T* zs = z.data<T>();
  const T* bs = b.data<T>();
  const T* cs = data_or_null<T>(c);
  T* os = out.data<T>();
  for (std::int64_t i = 0; i < n; ++i)
    os[i] = tilted::log_density(zs + i * d, d, tau, bs[i], cs ? cs[i] : T(0));
}

template <class T>
void backward_cpu(const Tensor& z, const Tensor& b, T tau, const Tensor& dout, Tensor& dz) {
  const std::int64_t n = z.dim(0);
  const int d = static_cast<int>(z.dim(1));
  const T* zs = z.data<T>();
  const T* bs = b.data<T>();
  const T* gs = dout.data<T>();
  T* dzs = dz.data<T>();
  for (std::int64_t i = 0; i < n; ++i) tilted::log_density_backward(zs + i * d, d, tau, bs[i], gs[i], dzs + i * d);
}

template <class T>
std::int64_t sample_cpu(Tensor& z, double tau, double reduced_temperature, std::uint64_t seed, std::uint64_t stream,
                        std::uint64_t first_row = 0) {
  const std::int64_t n = z.dim(0);
  const int d = static_cast<int>(z.dim(1));
  T* zs = z.data<T>();
  std::int64_t failed = 0;
  for (std::int64_t i = 0; i < n; ++i)
    if (!tilted::sample_row(zs + i * d, d, tau, reduced_temperature, seed, stream,
                            first_row + static_cast<std::uint64_t>(i)))
      ++failed;
  return failed;
}

}  // namespace

double tilted_log_partition(double tau, int dim, double reduced_temperature) {
  check_prior_parameters("tilted_log_partition", tau, dim, reduced_temperature);
  return tilted::log_partition(tau, dim, reduced_temperature);
}

double tilted_log_normalizer(double tau, int dim, double reduced_temperature) {
  check_prior_parameters("tilted_log_normalizer", tau, dim, reduced_temperature);
  return tilted::log_normalizer(tau, dim, reduced_temperature);
}

void tilted_log_density_forward(const Tensor& z, const Tensor& inverse_temperature, const Tensor& log_normalizer,
                                float tau, Tensor& out) {
  check_rows(z, inverse_temperature);
  LATF_REQUIRE(std::isfinite(tau), "tilted density tilt tau: expected a finite value, got ", tau);
  if (log_normalizer.defined()) check_companion(z, log_normalizer, {z.dim(0)}, "tilted density log_normalizer");
  require_defined(out, "tilted density output");
  check_companion(z, out, {z.dim(0)}, "tilted density output");
  if (z.device().is_cuda()) {
#if LATF_WITH_CUDA
    tilted_log_density_forward_cuda(z, inverse_temperature, log_normalizer, tau, Tensor(), out);
#else
    no_cuda_backend("tilted_log_density_forward");
#endif
    return;
  }
  dispatch_cpu_dtype(z, [&](auto zero) {
    using T = decltype(zero);
    forward_cpu<T>(z, inverse_temperature, log_normalizer, T(tau), out);
  });
}

void tilted_log_density_backward(const Tensor& z, const Tensor& inverse_temperature, float tau, const Tensor& dout,
                                 Tensor& dz) {
  check_rows(z, inverse_temperature);
  LATF_REQUIRE(std::isfinite(tau), "tilted density tilt tau: expected a finite value, got ", tau);
  require_defined(dout, "tilted density output gradient dout");
  check_companion(z, dout, {z.dim(0)}, "tilted density output gradient dout");
  if (!dz.defined()) return;
  check_companion(z, dz, z.shape(), "tilted density input gradient dz");
  if (z.device().is_cuda()) {
#if LATF_WITH_CUDA
    tilted_log_density_backward_cuda(z, inverse_temperature, tau, Tensor(), dout, dz);
#else
    no_cuda_backend("tilted_log_density_backward");
#endif
    return;
  }
  dispatch_cpu_dtype(z, [&](auto zero) {
    using T = decltype(zero);
    backward_cpu<T>(z, inverse_temperature, T(tau), dout, dz);
  });
}

// ---------------------------------------------------------------- stacked density (one tau per model)

namespace {

// Checks z [M,N,d], inverse_temperature [M,N] and taus [M]; returns M.
std::int64_t check_stacked_rows(const Tensor& z, const Tensor& inverse_temperature, const Tensor& taus) {
  require_defined(z, "tilted density input z");
  LATF_REQUIRE(z.rank() == 3 && z.dim(2) >= 1,
               "tilted density input z: expected stacked shape [M, N, d] with d >= 1 (one tau per model), got shape ",
               z.shape().str());
  const std::int64_t models = z.dim(0);
  LATF_REQUIRE(models <= 65535, "tilted density input z: ", models, " models exceed the 65535 of one CUDA launch");
  check_companion(z, inverse_temperature, {models, z.dim(1)}, "tilted density inverse_temperature");
  require_defined(taus, "tilted density taus");
  require_shape(taus, {models}, "tilted density taus");
  LATF_REQUIRE(taus.device() == z.device(), "tilted density taus: expected z's device ", z.device().str(), ", got ",
               taus.device().str());
  LATF_REQUIRE(taus.dtype() == DType::Float32, "tilted density taus: expected dtype float32, got ",
               dtype_name(taus.dtype()));
  return models;
}

// Model m's slice (undefined stays undefined).
Tensor model_slice(const Tensor& t, std::int64_t m) {
  if (!t.defined()) return t;
  const Shape inner = t.rank() == 3 ? Shape{t.dim(1), t.dim(2)} : Shape{t.dim(1)};
  return t.view(m * inner.numel(), inner);
}

}  // namespace

void tilted_log_density_forward(const Tensor& z, const Tensor& inverse_temperature, const Tensor& log_normalizer,
                                const Tensor& taus, Tensor& out) {
  const std::int64_t models = check_stacked_rows(z, inverse_temperature, taus);
  const Shape rows{models, z.dim(1)};
  if (log_normalizer.defined()) check_companion(z, log_normalizer, rows, "tilted density log_normalizer");
  require_defined(out, "tilted density output");
  check_companion(z, out, rows, "tilted density output");
  if (z.device().is_cuda()) {
#if LATF_WITH_CUDA
    tilted_log_density_forward_cuda(z, inverse_temperature, log_normalizer, 0.f, taus, out);
#else
    no_cuda_backend("tilted_log_density_forward");
#endif
    return;
  }
  const float* tau = taus.data<float>();
  for (std::int64_t m = 0; m < models; ++m) {
    LATF_REQUIRE(std::isfinite(tau[m]), "tilted density taus: expected finite values, got ", tau[m], " for model ", m);
    Tensor out_m = model_slice(out, m);
    tilted_log_density_forward(model_slice(z, m), model_slice(inverse_temperature, m), model_slice(log_normalizer, m),
                               tau[m], out_m);
  }
}

void tilted_log_density_backward(const Tensor& z, const Tensor& inverse_temperature, const Tensor& taus,
                                 const Tensor& dout, Tensor& dz) {
  const std::int64_t models = check_stacked_rows(z, inverse_temperature, taus);
  require_defined(dout, "tilted density output gradient dout");
  check_companion(z, dout, {models, z.dim(1)}, "tilted density output gradient dout");
  if (!dz.defined()) return;
  check_companion(z, dz, z.shape(), "tilted density input gradient dz");
  if (z.device().is_cuda()) {
#if LATF_WITH_CUDA
    tilted_log_density_backward_cuda(z, inverse_temperature, 0.f, taus, dout, dz);
#else
    no_cuda_backend("tilted_log_density_backward");
#endif
    return;
  }
  const float* tau = taus.data<float>();
  for (std::int64_t m = 0; m < models; ++m) {
    LATF_REQUIRE(std::isfinite(tau[m]), "tilted density taus: expected finite values, got ", tau[m], " for model ", m);
    Tensor dz_m = model_slice(dz, m);
    tilted_log_density_backward(model_slice(z, m), model_slice(inverse_temperature, m), tau[m], model_slice(dout, m),
                                dz_m);
  }
}

namespace {

void check_sample_output(const Tensor& z, double tau, double reduced_temperature, std::uint64_t first_row) {
  require_defined(z, "tilted_sample output z");
  LATF_REQUIRE(z.rank() == 2 && z.dim(1) >= 1, "tilted_sample output z: expected rank 2 [N, d] with d >= 1, got shape ",
               z.shape().str());
  // Row ids occupy the high 32 bits of the Philox counter (tilted::row_words).
  LATF_REQUIRE(first_row <= (std::uint64_t{1} << 32) &&
                   static_cast<std::uint64_t>(z.dim(0)) <= (std::uint64_t{1} << 32) - first_row,
               "tilted_sample output z: expected first row + rows <= 2^32, got ", first_row, " + ", z.dim(0));
  check_prior_parameters("tilted_sample", tau, static_cast<int>(z.dim(1)), reduced_temperature);
  const double m = tau * reduced_temperature;
  LATF_REQUIRE(std::isfinite(m * m + 4.0 * z.dim(1) * reduced_temperature),
               "tilted_sample: tau = ", tau, " and T' = ", reduced_temperature, " put the radius out of double range");
}

}  // namespace

void tilted_sample_rows(Tensor& z, double tau, double reduced_temperature, std::uint64_t seed, std::uint64_t stream,
                        std::uint64_t first_row, Tensor& failed) {
  check_sample_output(z, tau, reduced_temperature, first_row);
  require_shape(failed, {1}, "tilted_sample failed-row counter");
  require_same_device(z, failed, "tilted_sample output z", "tilted_sample failed-row counter");
  LATF_REQUIRE(failed.dtype() == DType::Float32, "tilted_sample failed-row counter: expected dtype float32, got ",
               dtype_name(failed.dtype()));
  if (z.device().is_cuda()) {
#if LATF_WITH_CUDA
    tilted_sample_rows_cuda(z, tau, reduced_temperature, seed, stream, first_row, failed);
#else
    no_cuda_backend("tilted_sample_rows");
#endif
    return;
  }
  dispatch_cpu_dtype(z, [&](auto zero) {
    using T = decltype(zero);
    failed.data<float>()[0] += static_cast<float>(sample_cpu<T>(z, tau, reduced_temperature, seed, stream, first_row));
  });
}

void tilted_sample(Tensor& z, double tau, double reduced_temperature, std::uint64_t seed, std::uint64_t stream) {
  check_sample_output(z, tau, reduced_temperature, 0);
  std::int64_t failed = 0;
  if (z.device().is_cuda()) {
#if LATF_WITH_CUDA
    failed = tilted_sample_cuda(z, tau, reduced_temperature, seed, stream);
#else
    no_cuda_backend("tilted_sample");
#endif
  } else {
    dispatch_cpu_dtype(z, [&](auto zero) {
      using T = decltype(zero);
      failed = sample_cpu<T>(z, tau, reduced_temperature, seed, stream);
    });
  }
  if (failed > 0)
    throw BackendError(concat("tilted_sample: ", failed, " row(s) rejected ", tilted::kMaxSampleAttempts,
                              " proposals in a row (tau = ", tau, ", T' = ", reduced_temperature,
                              "); the sampler is broken"));
}

}  // namespace latf::kernels

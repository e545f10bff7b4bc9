#include "models/prior.hpp"

#include "engine/error.hpp"
#include "kernels/tilted.hpp"

namespace latf::models {

TiltedPrior::TiltedPrior(int dim, double tau) : dim_(dim), tau_(tau) {
  LATF_REQUIRE(dim >= 1, "prior dimension: expected ≥ 1, got ", dim);
  LATF_REQUIRE(tau >= 0, "prior tau: expected ≥ 0, got ", tau);
}

Tensor TiltedPrior::log_density(const Tensor& z, double reduced_temperature) const {
  LATF_REQUIRE(reduced_temperature > 0, "temperature: expected T' > 0, got ", reduced_temperature);
  const std::int64_t n = z.dim(0);
  Tensor b = Tensor::full({n}, 1.0 / reduced_temperature, z.device());
  Tensor c = Tensor::full({n}, kernels::tilted_log_normalizer(tau_, dim_, reduced_temperature), z.device());
  Tensor out = Tensor::empty({n}, z.device());
  kernels::tilted_log_density_forward(z, b, c, static_cast<float>(tau_), out);
  return out;
}

Tensor TiltedPrior::sample(std::int64_t n, double reduced_temperature, const Device& device, std::uint64_t seed,
                           std::uint64_t stream) const {
  LATF_REQUIRE(reduced_temperature > 0, "temperature: expected T' > 0, got ", reduced_temperature);
  LATF_REQUIRE(n >= 0, "sample count: expected ≥ 0, got ", n);
  Tensor z = Tensor::empty({n, dim_}, device);
  kernels::tilted_sample(z, tau_, reduced_temperature, seed, stream);
  return z;
}

}  // namespace latf::models

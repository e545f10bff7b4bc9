#pragma once
// The temperature-steerable tilted Gaussian prior (METHOD.md §5) at reduced temperature
// T' = T / T_ref: log r(z; τ, T') with its exact normaliser, and exact samples.
#include <cstdint>

#include "engine/tensor.hpp"

namespace latf::models {

class TiltedPrior {
 public:
  TiltedPrior(int dim, double tau);
  int dim() const { return dim_; }
  double tau() const { return tau_; }
  // log r(z; τ, T') per row of z [N, d] (any device), normalised.
  Tensor log_density(const Tensor& z, double reduced_temperature) const;
  // n exact samples [n, d] on `device` from (seed, stream).
  Tensor sample(std::int64_t n, double reduced_temperature, const Device& device, std::uint64_t seed,
                std::uint64_t stream) const;

 private:
  int dim_;
  double tau_;
};

}  // namespace latf::models

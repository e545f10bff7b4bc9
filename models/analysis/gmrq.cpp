#include "models/analysis/gmrq.hpp"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/error.hpp"

namespace latf::analysis {
namespace {

struct Correlations {
  Eigen::MatrixXd lagged;      // symmetrised C(τ), normalised by the number of pairs
  Eigen::VectorXd population;  // diagonal of C(0): row sums of `lagged`
};

Correlations correlations(const std::vector<std::vector<std::int64_t>>& trajectories, int num_states, int lag,
                          const char* operand) {
  Eigen::MatrixXd counts = Eigen::MatrixXd::Zero(num_states, num_states);
  std::size_t pairs = 0, longest = 0;
  for (std::size_t k = 0; k < trajectories.size(); ++k) {
    const std::vector<std::int64_t>& s = trajectories[k];
    for (std::size_t t = 0; t < s.size(); ++t)
      LATF_REQUIRE(s[t] >= 0 && s[t] < num_states, operand, "[", k, "][", t, "]: expected a state in [0, ", num_states,
                   "), got ", s[t]);
    longest = std::max(longest, s.size());
    for (std::size_t t = 0; t + lag < s.size(); ++t) counts(s[t], s[t + lag]) += 1.0;
    if (s.size() > static_cast<std::size_t>(lag)) pairs += s.size() - lag;
  }
  LATF_REQUIRE(pairs > 0, operand, ": no trajectory is longer than lag = ", lag, " frames (longest: ", longest, ")");
  Correlations c;
  c.lagged = (counts + counts.transpose()) / (2.0 * static_cast<double>(pairs));
  c.population = c.lagged.rowwise().sum();
  return c;
}

// Rows and columns `keep` of a square matrix.
Eigen::MatrixXd pick(const Eigen::MatrixXd& m, const std::vector<int>& keep) {
  const Eigen::Index n = static_cast<Eigen::Index>(keep.size());
  Eigen::MatrixXd out(n, n);
  for (Eigen::Index i = 0; i < n; ++i)
    for (Eigen::Index j = 0; j < n; ++j) out(i, j) = m(keep[i], keep[j]);
  return out;
}

Eigen::VectorXd pick(const Eigen::VectorXd& v, const std::vector<int>& keep) {
  Eigen::VectorXd out(static_cast<Eigen::Index>(keep.size()));
  for (std::size_t i = 0; i < keep.size(); ++i) out(static_cast<Eigen::Index>(i)) = v(keep[i]);
  return out;
}

// Tr[(Vᵀ C0 V)⁻¹ Vᵀ Cτ V]; NaN when Vᵀ C0 V is numerically singular.
double rayleigh_trace(const Eigen::MatrixXd& v, const Eigen::MatrixXd& lagged, const Eigen::VectorXd& population) {
  const Eigen::MatrixXd s = v.transpose() * population.asDiagonal() * v;
  const Eigen::MatrixXd c = v.transpose() * lagged * v;
  // s is symmetric positive semi-definite: with s = U D Uᵀ the trace is Σ_i (Uᵀ c U)_ii / D_i.
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(s);
  const Eigen::VectorXd d = eig.eigenvalues();
  if (!(d.minCoeff() > 1e-12 * std::max(d.maxCoeff(), 0.0))) return std::numeric_limits<double>::quiet_NaN();
  const Eigen::MatrixXd rotated = eig.eigenvectors().transpose() * c * eig.eigenvectors();
  return (rotated.diagonal().array() / d.array()).sum();
}

}  // namespace

GmrqResult gmrq(const std::vector<std::vector<std::int64_t>>& train_trajectories,
                const std::vector<std::vector<std::int64_t>>& validation_trajectories, int num_states, int lag,
                int rank) {
  LATF_REQUIRE(num_states >= 1, "num_states: expected >= 1, got ", num_states);
  LATF_REQUIRE(lag >= 1, "lag: expected >= 1 frame, got ", lag);
  const Correlations train = correlations(train_trajectories, num_states, lag, "train_trajectories");
  const Correlations validation = correlations(validation_trajectories, num_states, lag, "validation_trajectories");

  std::vector<int> populated;
  for (int i = 0; i < num_states; ++i)
    if (train.population(i) > 0.0) populated.push_back(i);
  const int available = static_cast<int>(populated.size());
  LATF_REQUIRE(rank >= 1 && rank <= available, "rank: expected 1..", available,
               " (the number of states populated in train_trajectories), got ", rank);

  // C(0) is diagonal and positive on the populated states, as the solver needs.
  const Eigen::VectorXd population = pick(train.population, populated);
  const Eigen::MatrixXd c0 = population.asDiagonal();
  const Eigen::GeneralizedSelfAdjointEigenSolver<Eigen::MatrixXd> solver(pick(train.lagged, populated), c0);
  LATF_REQUIRE(solver.info() == Eigen::Success, "train_trajectories: the generalised eigenproblem did not converge");

  // Eigen sorts ascending: the leading `rank` are the last columns.
  const Eigen::MatrixXd v = solver.eigenvectors().rightCols(rank);
  GmrqResult result;
  for (int k = 0; k < rank; ++k) result.eigenvalues.push_back(solver.eigenvalues()(available - 1 - k));
  for (double lambda : result.eigenvalues) result.train_score += lambda;
  result.validation_score =
      rayleigh_trace(v, pick(validation.lagged, populated), pick(validation.population, populated));
  return result;
}

}  // namespace latf::analysis

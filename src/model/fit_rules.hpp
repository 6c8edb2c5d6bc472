// Rules a fit follows wherever its rows come from (memory, a shard, a streamed file).
#pragma once

#include <span>
#include <string>
#include <vector>

#include "softreg/model.hpp"
#include "softreg/optim.hpp"

namespace softreg::detail {

/// The distinct labels in scikit-learn's order: numerically if all are integers, else as
/// strings.
std::vector<std::string> sorted_classes(std::span<const std::string> labels);

/// The full-batch solvers' second stopping rule: the relative decrease below which two
/// iterations in a row stop them, from tol (see fit.cpp).
double relative_loss_tolerance(double tol);

/// SGD's / Adam's options from a fit's (epochs, batch, learning rate and its default,
/// schedule, momentum, seed).
StochasticOptions stochastic_options(const TrainOptions& options);

/// The training record's fields that any fit fills alike from its solver's result: solver,
/// dtype, l2, iteration and evaluation counts, message, convergence, final loss, gradient norm
/// and the loss history. A fit its progress hook stopped at TrainOptions::target_loss
/// (reached_target) converged, with the message "reached the target loss".
TrainingInfo training_info(const OptimResult& result, const TrainOptions& options, DType dtype,
                           bool reached_target);

/// L-BFGS's options from a fit's, for n_params parameters whose passes run in a type of
/// machine epsilon `epsilon` (the iteration limit and tolerances, the memory rule of
/// TrainOptions::lbfgs_memory, threads, the evaluation's resolution, the L1 term on the
/// first l1_count parameters).
LbfgsOptions lbfgs_options(const TrainOptions& options, std::size_t n_params, double epsilon,
                           std::size_t l1_count);

}  // namespace softreg::detail

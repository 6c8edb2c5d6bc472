// Data-parallel training: the collective operations a fit needs from its processes, and the
// reading of one process's shard of a file.
//
// Each of N processes (ranks) reads its own shard of the rows (read_shard), and
// SoftmaxRegression::fit with TrainOptions::communicator set trains on the union: every sum
// over rows (the objective's loss, weight and gradient, Newton-CG's Hessian products, the
// class counts, the preprocessing's moments, the preconditioner's second moments) is this
// rank's sum, combined by Communicator::sum; the mean and the penalty are formed once, after
// it, by the same code as a single process. Every rank then takes the same solver steps
// (lockstep) and ends with the same model. With an MPI build, MpiCommunicator
// (softreg/mpi.hpp) is the Communicator; the interface keeps the library itself free of MPI.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "softreg/data.hpp"

namespace softreg {

/// The collectives of a data-parallel fit. Every rank must make the same calls in the same
/// order (a rank that skips one leaves the others waiting). Implementations combine in rank
/// order, so a fit is bitwise reproducible for a fixed number of ranks and threads.
class Communicator {
 public:
  virtual ~Communicator() = default;
  /// This process's rank, in [0, size()).
  virtual int rank() const = 0;
  virtual int size() const = 0;
  /// values <- the element-wise sum of every rank's values, added in rank order
  /// ((v0 + v1) + v2 ...), the same bits on every rank.
  virtual void sum(std::span<double> values) = 0;
  /// values <- the element-wise maximum over the ranks (NaN-free input).
  virtual void max(std::span<double> values) = 0;
  /// Every rank's `bytes`, indexed by rank.
  virtual std::vector<std::string> all_gather(const std::string& bytes) = 0;
};

/// One process's view of a single-process "communicator": rank 0 of 1, every collective the
/// identity. A fit given it runs exactly as without one.
class SoloCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void sum(std::span<double>) override {}
  void max(std::span<double>) override {}
  std::vector<std::string> all_gather(const std::string& bytes) override { return {bytes}; }
};

/// Reads shard comm.rank() of comm.size() of `path` (ReadOptions::shard_*: a byte range of a
/// plain CSV or LibSVM file, a record range of IDX and .npy), then agrees with the other ranks
/// on what the shards share: the column count (a LibSVM file's widest row; its index numbering,
/// 0-based if any shard saw an index 0 under IndexBase::automatic), the feature names and
/// notices (rank 0's), and that some rank holds rows. A shard may hold no rows. Collective: every
/// rank calls it. An error on any rank (a bad line, a missing file) is thrown on every rank as
/// softreg::Error naming the failing ranks and their messages, so no rank goes on to wait for
/// a failed one. options.shard_index / shard_count are set from comm.
template <class T>
Dataset<T> read_shard(const std::string& path, ReadOptions options, Communicator& comm);

extern template Dataset<float> read_shard<float>(const std::string&, ReadOptions, Communicator&);
extern template Dataset<double> read_shard<double>(const std::string&, ReadOptions, Communicator&);

/// Marks an error that every rank raised together (all_succeed): every rank ends alike, none
/// has to abort the others. Catch the error's kind as usual; test for this with dynamic_cast.
struct OnEveryRank {
  virtual ~OnEveryRank() = default;
};

/// Runs `step` on every rank and rethrows, on every rank, the errors of the ranks where it
/// threw (softreg::Error naming them, as read_shard does, of the kind they share, also an
/// OnEveryRank); returns normally only when it succeeded everywhere. Collective.
void all_succeed(Communicator& comm, const std::function<void()>& step);

}  // namespace softreg

// The Communicator of an MPI job (built with SOFTREG_BUILD_MPI; link softreg::softreg_mpi).
#pragma once

#include <mpi.h>

#include <span>
#include <string>
#include <vector>

#include "softreg/distributed.hpp"

namespace softreg {

/// MPI_Init_thread (funnelled: only the calling thread talks to MPI; softreg's own worker
/// threads never do) on construction unless MPI is already initialized, MPI_Finalize on
/// destruction if it initialized it. One per process.
class MpiSession {
 public:
  MpiSession(int* argc, char*** argv);
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;

 private:
  bool owner_ = false;
};

/// A Communicator over an MPI communicator (a duplicate of `comm`, MPI_COMM_WORLD by default,
/// so softreg's messages never mix with the caller's). sum() is one MPI_Allreduce with a
/// non-commutative addition operator: MPI then combines the ranks' values in rank order, in
/// a grouping fixed by the implementation for a given rank count and length, and every rank
/// receives the same bits, so a fit is bitwise reproducible for a fixed number of ranks and
/// threads. max() is MPI_MAX; all_gather() is MPI_Allgather of the sizes, then
/// MPI_Allgatherv. MPI errors abort the job (MPI's default handler): a collective cannot be
/// left half-done on some ranks.
class MpiCommunicator final : public Communicator {
 public:
  explicit MpiCommunicator(MPI_Comm comm = MPI_COMM_WORLD);
  ~MpiCommunicator() override;
  MpiCommunicator(const MpiCommunicator&) = delete;
  MpiCommunicator& operator=(const MpiCommunicator&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void sum(std::span<double> values) override;
  void max(std::span<double> values) override;
  std::vector<std::string> all_gather(const std::string& bytes) override;
  /// Ends every rank of the job with `code` (MPI_Abort): for an error on one rank after the
  /// ranks have started training in lockstep, where the others would wait for it forever.
  [[noreturn]] void abort(int code);

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
  MPI_Op ordered_sum_ = MPI_OP_NULL;
  int rank_ = 0, size_ = 1;
};

}  // namespace softreg

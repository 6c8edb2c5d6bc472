// MpiCommunicator: softreg's collectives on MPI.
#include <algorithm>
#include <climits>
#include <cstdlib>

#include "softreg/mpi.hpp"

namespace softreg {
namespace {

// inout[i] = in[i] + inout[i]: MPI passes the lower ranks' partial as `in` for an operator
// created non-commutative, so the additions follow rank order.
extern "C" void add_in_rank_order(void* in, void* inout, int* len, MPI_Datatype*) {
  const auto* a = static_cast<const double*>(in);
  auto* b = static_cast<double*>(inout);
  for (int i = 0; i < *len; ++i) b[i] = a[i] + b[i];
}

// MPI counts are int: long vectors go in pieces.
constexpr std::size_t kPiece = std::size_t{1} << 28;

}  // namespace

MpiSession::MpiSession(int* argc, char*** argv) {
  int ready = 0;
  MPI_Initialized(&ready);
  if (ready) return;
  int provided = 0;
  MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
  owner_ = true;
}

MpiSession::~MpiSession() {
  int done = 0;
  MPI_Finalized(&done);
  if (owner_ && !done) MPI_Finalize();
}

MpiCommunicator::MpiCommunicator(MPI_Comm comm) {
  MPI_Comm_dup(comm, &comm_);
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &size_);
  MPI_Op_create(&add_in_rank_order, /*commute=*/0, &ordered_sum_);
}

MpiCommunicator::~MpiCommunicator() {
  int done = 0;
  MPI_Finalized(&done);
  if (done) return;
  MPI_Op_free(&ordered_sum_);
  MPI_Comm_free(&comm_);
}

void MpiCommunicator::sum(std::span<double> values) {
  for (std::size_t at = 0; at < values.size(); at += kPiece) {
    const int n = static_cast<int>(std::min(kPiece, values.size() - at));
    MPI_Allreduce(MPI_IN_PLACE, values.data() + at, n, MPI_DOUBLE, ordered_sum_, comm_);
  }
}

void MpiCommunicator::max(std::span<double> values) {
  for (std::size_t at = 0; at < values.size(); at += kPiece) {
    const int n = static_cast<int>(std::min(kPiece, values.size() - at));
    MPI_Allreduce(MPI_IN_PLACE, values.data() + at, n, MPI_DOUBLE, MPI_MAX, comm_);
  }
}

std::vector<std::string> MpiCommunicator::all_gather(const std::string& bytes) {
  const int mine = static_cast<int>(std::min<std::size_t>(bytes.size(), INT_MAX));
  std::vector<int> sizes(static_cast<std::size_t>(size_));
  MPI_Allgather(&mine, 1, MPI_INT, sizes.data(), 1, MPI_INT, comm_);
  std::vector<int> offsets(sizes.size());
  long long total = 0;
  for (std::size_t r = 0; r < sizes.size(); ++r) {
    offsets[r] = static_cast<int>(total);
    total += sizes[r];
  }
  std::string all(static_cast<std::size_t>(total), '\0');
  MPI_Allgatherv(bytes.data(), mine, MPI_CHAR, all.data(), sizes.data(), offsets.data(), MPI_CHAR,
                 comm_);
  std::vector<std::string> out;
  for (std::size_t r = 0; r < sizes.size(); ++r) {
    out.push_back(
        all.substr(static_cast<std::size_t>(offsets[r]), static_cast<std::size_t>(sizes[r])));
  }
  return out;
}

void MpiCommunicator::abort(int code) {
  MPI_Abort(comm_, code);
  std::abort();
}

}  // namespace softreg

// read_shard and all_succeed: a rank's shard of a file, and errors that reach every rank.
#include <algorithm>
#include <new>
#include <string>
#include <variant>

#include "softreg/distributed.hpp"
#include "softreg/error.hpp"

namespace softreg {
namespace {

// The kind of error a rank threw, carried as the first byte of its gathered message, so that
// every rank throws the same type (the command line's exit codes follow it).
char kind_of(const std::exception& e) {
  if (dynamic_cast<const ParseError*>(&e)) return 'P';
  if (dynamic_cast<const InvalidArgument*>(&e)) return 'A';
  if (dynamic_cast<const IoError*>(&e)) return 'O';
  return 'E';
}

/// An error of kind E that every rank raises.
template <class E>
struct Agreed : E, OnEveryRank {
  using E::E;
};

[[noreturn]] void throw_kind(char kind, const std::string& what) {
  switch (kind) {
    case 'P':
      throw Agreed<ParseError>(what);
    case 'A':
      throw Agreed<InvalidArgument>(what);
    case 'O':
      throw Agreed<IoError>(what);
    default:
      throw Agreed<Error>(what);
  }
}

}  // namespace

void all_succeed(Communicator& comm, const std::function<void()>& step) {
  std::string error;
  try {
    step();
  } catch (const std::bad_alloc&) {
    error = "Eout of memory";
  } catch (const std::exception& e) {
    error = std::string(1, kind_of(e)) + e.what();
  }
  const std::vector<std::string> all = comm.all_gather(error);
  // The same error on every rank (an option every rank checks alike) is said once.
  if (!all[0].empty() &&
      std::all_of(all.begin(), all.end(), [&](const std::string& e) { return e == all[0]; })) {
    throw_kind(all[0][0], "rank 0 to " + std::to_string(all.size() - 1) + " of " +
                              std::to_string(all.size()) + ": " + all[0].substr(1));
  }
  std::string text;
  char kind = 0;
  for (std::size_t r = 0; r < all.size(); ++r) {
    if (all[r].empty()) continue;
    if (!text.empty()) text += "; ";
    text +=
        "rank " + std::to_string(r) + " of " + std::to_string(all.size()) + ": " + all[r].substr(1);
    kind = kind == 0 || kind == all[r][0] ? all[r][0] : 'E';
  }
  if (!text.empty()) throw_kind(kind, text);
}

template <class T>
Dataset<T> read_shard(const std::string& path, ReadOptions options, Communicator& comm) {
  options.shard_index = static_cast<std::size_t>(comm.rank());
  options.shard_count = static_cast<std::size_t>(comm.size());
  Dataset<T> ds;
  all_succeed(comm, [&] { ds = read_dataset<T>(path, options); });
  const std::string name = source_name(path);
  auto* csr = std::get_if<CsrMatrix<T>>(&ds.features);
  if (csr != nullptr && options.index_base == IndexBase::automatic && options.n_features == 0) {
    // scikit-learn's rule over the whole file: an index 0 in any shard makes every shard
    // 0-based, so a shard read 1-based moves its indices up by one (its width with them).
    double zero[1] = {ds.index_base == IndexBase::zero ? 1.0 : 0.0};
    comm.max(zero);
    if (zero[0] > 0.0 && ds.index_base == IndexBase::one) {
      for (std::int32_t& j : csr->indices) ++j;
      if (csr->nnz() > 0) csr->cols += 1;
      ds.index_base = IndexBase::zero;
    }
  }
  double shape[2] = {double(ds.cols()), -double(ds.cols())};  // the widest and narrowest
  comm.max(shape);
  const auto cols = static_cast<std::size_t>(shape[0]);
  if (csr != nullptr) {
    csr->cols = cols;
  } else if (-shape[1] != shape[0]) {
    throw Error(name + ": the shards hold " + std::to_string(std::size_t(-shape[1])) + " to " +
                std::to_string(cols) +
                " columns; expected one column count for every shard of a file");
  }
  double rows[1] = {double(ds.rows())};
  comm.sum(rows);
  if (rows[0] == 0.0) {
    throw ParseError(name + ": no rank found a data row; expected at least one row in the file");
  }
  return ds;
}

template Dataset<float> read_shard<float>(const std::string&, ReadOptions, Communicator&);
template Dataset<double> read_shard<double>(const std::string&, ReadOptions, Communicator&);

}  // namespace softreg

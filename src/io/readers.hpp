// The per-format readers behind read_dataset, and the file-name helpers they share.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "softreg/data.hpp"

namespace softreg::detail {

/// The file-name part of `path`, lower-cased, without a trailing ".gz".
std::string plain_file_name(const std::string& path);
/// True when the name (as plain_file_name gives it) ends with `suffix`.
bool has_suffix(const std::string& name, const std::string& suffix);
/// True for MNIST-style IDX names: "-idx" or ".idx" followed later by "-ubyte".
bool is_idx_name(const std::string& name);

/// Each reader fills ds.features and, when the file carries them, ds.labels; positions in
/// their errors refer to `path`. n_features and the label options are checked inside, where the
/// position is known.
template <class T>
void read_csv(const std::string& path, const ReadOptions& options, bool labels_elsewhere,
              Dataset<T>& ds);
template <class T>
void read_libsvm(const std::string& path, const ReadOptions& options, Dataset<T>& ds);
/// IDX and .npy set *file_rows (when given) to the rows of the whole file, of which a shard
/// (ReadOptions::shard_*) holds its record range.
template <class T>
void read_npy(const std::string& path, const ReadOptions& options, Dataset<T>& ds,
              std::size_t* file_rows = nullptr);
template <class T>
void read_idx(const std::string& path, const ReadOptions& options, Dataset<T>& ds,
              std::size_t* file_rows = nullptr);

/// Shard `index` of `count` of n records: [n index / count, n (index + 1) / count).
struct RecordRange {
  std::size_t begin = 0, end = 0;
  std::size_t size() const { return end - begin; }
};
RecordRange shard_records(std::size_t n, std::size_t index, std::size_t count);

/// Labels from a separate file, which must hold exactly `expected` of them (one per row of
/// `data_path`): IDX (idx1) and .npy (1-D integers) by name, otherwise text with one label per
/// line. With shard_count > 1, the labels of shard_records(expected, shard_index,
/// shard_count) only (IDX and .npy; a text file is an InvalidArgument).
std::vector<std::string> read_labels_file(const std::string& path, std::size_t expected,
                                          const std::string& data_path, std::size_t shard_index = 0,
                                          std::size_t shard_count = 1);
std::vector<std::string> read_idx_labels(const std::string& path, std::size_t expected,
                                         const std::string& data_path, RecordRange range);
std::vector<std::string> read_npy_labels(const std::string& path, std::size_t expected,
                                         const std::string& data_path, RecordRange range);
std::vector<std::string> read_text_labels(const std::string& path, std::size_t expected,
                                          const std::string& data_path);
/// A label line without surrounding spaces and tabs, then without one pair of double quotes.
std::string_view trim_label(std::string_view text);

/// The MNIST-style labels file next to an images file ("x-images-idx3-ubyte[.gz]" ->
/// "x-labels-idx1-ubyte[.gz]", the same compression first), or "" if there is none.
std::string sibling_idx_labels(const std::string& images_path);

}  // namespace softreg::detail

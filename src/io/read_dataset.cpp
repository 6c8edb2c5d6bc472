// read_dataset: picks the reader, attaches separate or sibling labels, enforces require_labels.
#include <string>

#include "io/byte_source.hpp"
#include "io/read_position.hpp"
#include "io/readers.hpp"
#include "softreg/data.hpp"
#include "softreg/error.hpp"

namespace softreg {
namespace {

template <class T>
Dataset<T> read_any(const std::string& path, const ReadOptions& options) {
  const bool from_stdin = path == "-";
  const std::string name = source_name(path);  // for messages
  if (from_stdin && options.format == DataFormat::automatic) {
    throw InvalidArgument(name +
                          " (-): there is no file name to infer the data format from; expected "
                          "an explicit format (--format csv, libsvm, npy or idx)");
  }
  if (from_stdin && options.labels_path == "-") {
    throw InvalidArgument(name + " (-): the data and the labels cannot both come from it");
  }
  const DataFormat format =
      options.format == DataFormat::automatic ? infer_format(path) : options.format;
  if (format != DataFormat::csv && (!options.id_column.empty() || !options.weight_column.empty())) {
    throw InvalidArgument(name + ": " +
                          (options.id_column.empty() ? "a weight column" : "an id column") +
                          " is given, but id and weight columns apply to CSV files only, and "
                          "this is " +
                          format_name(format) + " data");
  }
  if (options.shard_count == 0 || options.shard_index >= options.shard_count) {
    throw InvalidArgument(name + ": shard " + std::to_string(options.shard_index) + " of " +
                          std::to_string(options.shard_count) +
                          "; expected a shard index below a count >= 1");
  }
  if (from_stdin && options.shard_count > 1) {
    throw InvalidArgument(name + " (-): a shard is read from a file; expected a file name");
  }
  const bool separate_labels = !options.labels_path.empty();
  std::size_t file_rows = 0;  // IDX and .npy: the whole file's, of which a shard holds some
  Dataset<T> ds;
  ds.source = path;
  ds.format = format;
  switch (format) {
    case DataFormat::csv:
      if (separate_labels && !options.label_column.empty()) {
        throw InvalidArgument(name +
                              ": both a label column and a labels file are given; expected "
                              "one source of labels");
      }
      detail::read_csv(path, options, separate_labels, ds);
      break;
    case DataFormat::libsvm:
      if (separate_labels) {
        throw InvalidArgument(name +
                              ": LibSVM files carry their labels inline; expected no "
                              "separate labels file");
      }
      detail::read_libsvm(path, options, ds);
      break;
    case DataFormat::npy:
      detail::read_npy(path, options, ds, &file_rows);
      break;
    case DataFormat::idx:
      detail::read_idx(path, options, ds, &file_rows);
      break;
    case DataFormat::automatic:
      break;
  }
  std::string labels_path = options.labels_path;
  // Standard input has no directory to find a sibling in.
  if (labels_path.empty() && format == DataFormat::idx && !from_stdin) {
    labels_path = detail::sibling_idx_labels(path);
  }
  if (!labels_path.empty()) {
    const bool records = format == DataFormat::idx || format == DataFormat::npy;
    if (options.shard_count > 1 && !records) {
      throw InvalidArgument(name +
                            ": a separate labels file goes with IDX or .npy data when read by "
                            "shards; expected the labels inside the " +
                            format_name(format) + " file");
    }
    ds.labels = detail::read_labels_file(labels_path, records ? file_rows : ds.rows(), name,
                                         options.shard_index, options.shard_count);
  }
  // A shard may hold no rows, and so no labels.
  if (options.require_labels && ds.labels.empty() && (ds.rows() > 0 || options.shard_count == 1)) {
    // CSV reports a missing label column itself, with its line; LibSVM always has labels.
    detail::throw_at_byte(
        name, 0,
        format != DataFormat::idx ? "no labels; a .npy file holds features only, expected "
                                    "a labels file (--labels)"
        : from_stdin              ? "no labels file; IDX images from standard input have no "
                                    "sibling labels file to find, expected a labels file (--labels)"
                                  : "no labels file; expected a sibling named like "
                                    "train-labels-idx1-ubyte[.gz] or a labels file (--labels)");
  }
  return ds;
}

}  // namespace

template <class T>
Dataset<T> read_dataset(const std::string& path, const ReadOptions& options) {
  return detail::with_read_position([&] { return read_any<T>(path, options); });
}

template Dataset<float> read_dataset<float>(const std::string&, const ReadOptions&);
template Dataset<double> read_dataset<double>(const std::string&, const ReadOptions&);

}  // namespace softreg

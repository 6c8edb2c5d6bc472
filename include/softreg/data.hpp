// Reading datasets (features and labels) from IDX, CSV, LibSVM/SVMlight and NumPy .npy files.
//
// Every reader validates everything it reads. Bad input throws softreg::ParseError whose message
// starts with the file name and the position — "<file>:<line>:<column>: " for text formats,
// "<file>: byte <offset>: " for binary ones — and says what was expected, e.g.
//   data.csv:17:4: expected a number, found "abc"
//   train-images-idx3-ubyte.gz: byte 16: file ends after 12288 of 47040000 pixel bytes
// Files that cannot be opened throw softreg::IoError naming the file and the OS reason.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "softreg/matrix.hpp"

namespace softreg {

enum class DataFormat { automatic, csv, libsvm, npy, idx };

/// How LibSVM feature indices are numbered. automatic follows scikit-learn's
/// load_svmlight_file(zero_based="auto"): a file with an index 0 anywhere is 0-based, any
/// other file 1-based.
enum class IndexBase { automatic, zero, one };

/// "csv", "libsvm", "npy", "idx"; "auto" for automatic.
const char* format_name(DataFormat f);
/// Parses a format name as the CLI's --format accepts it ("auto", "csv", "libsvm", "svm",
/// "npy", "idx"); throws InvalidArgument listing the accepted names.
DataFormat parse_format(const std::string& name);

/// The format implied by a file name: .csv, .tsv -> csv; .svm, .libsvm, .txt -> libsvm; .npy ->
/// npy; a name containing "-idx" (or ".idx", as some MNIST mirrors spell it) followed by "-ubyte"
/// -> idx. A trailing .gz is ignored and the case of the extension does not matter. Throws
/// InvalidArgument naming the file and the accepted extensions when none applies.
DataFormat infer_format(const std::string& path);

struct ReadOptions {
  DataFormat format = DataFormat::automatic;
  /// Separate labels file: IDX labels (idx1), .npy (1-D integers), or a text file with one label
  /// per line. Empty: IDX images look for the sibling "...-labels-idx1-ubyte[.gz]" file (the
  /// MNIST naming); CSV and LibSVM carry their labels inline; .npy has none. With a CSV file
  /// every column is then a feature (a header column named "label" is a ParseError, and
  /// label_column an InvalidArgument); with LibSVM it is an InvalidArgument.
  std::string labels_path;
  /// CSV: the label column, by header name or by 0-based index (a string of digits; a header
  /// field spelled exactly so wins). Empty: the column whose header is "label"
  /// (case-insensitive) if there is one, else no labels. Naming a column that appears in the
  /// first line makes that line a header when `header` is nullopt.
  std::string label_column;
  /// CSV delimiter; 0 means ',' (or '\t' for files ending in .tsv).
  char delimiter = 0;
  /// CSV header: nullopt detects it (no field of the first line is a number, and the second
  /// line, if any, has a number in a column where the first line has text; empty fields count
  /// for neither); true / false force it. A header of numbers ("0,1,2") must be forced.
  std::optional<bool> header;
  /// When non-zero, the number of features the data must have (the model's d at predict time).
  /// LibSVM files then use exactly this many columns, and an index beyond it is an error;
  /// dense files with another column count are an error.
  std::size_t n_features = 0;
  /// Throw ParseError if the file carries no labels (training and evaluation need them).
  bool require_labels = false;
  /// LibSVM index numbering (see IndexBase); ignored by the other formats.
  IndexBase index_base = IndexBase::automatic;
  /// CSV: a column carried through untouched (never a feature), by header name or 0-based
  /// index as label_column; its values land in Dataset::ids. Empty: none. Like label_column,
  /// a name found in the first line makes it a header when `header` is nullopt.
  std::string id_column;
  /// CSV: a column of sample weights (never a feature), by header name or 0-based index as
  /// label_column; each must be a finite number >= 0 (else a ParseError at its line and
  /// column). Its values land in Dataset::sample_weight. Empty: none. One column cannot be two
  /// of label, id and weight (InvalidArgument), and giving id_column or weight_column for
  /// another format is an InvalidArgument naming the file.
  std::string weight_column;
  /// Data-parallel reading: this reader takes shard `shard_index` of `shard_count` (0 <=
  /// index < count; count 1, the default, reads everything) and no other rows, so that N
  /// processes together read each row once (see softreg/distributed.hpp, which agrees on what
  /// the shards share). The shards, in index order, hold every row exactly once:
  ///  - CSV and LibSVM in a plain regular file: the lines that start in the byte range
  ///    [size * index / count, size * (index + 1) / count); the reader seeks there and reads
  ///    only that range (and the first two lines, for the CSV header). A shard may hold no
  ///    rows. Quoted CSV fields must not span lines.
  ///  - CSV and LibSVM gzip-compressed or from a pipe: every shard inflates the whole stream
  ///    (a deflate stream cannot be entered in the middle) and keeps lines number
  ///    index + 1, index + 1 + count, ... (dealt round-robin).
  ///  - IDX and .npy: the records [n * index / count, n * (index + 1) / count) of the n the
  ///    header declares; a plain file is read only there (seeking past the rest), a gzip
  ///    one is inflated up to the range's end. A sibling or separate IDX / .npy labels file
  ///    is read over the same records. A separate text labels file is an InvalidArgument
  ///    with count > 1 (its lines cannot be matched to a byte range's rows).
  /// Per-shard checks that need the whole file (a CSV or LibSVM file without data rows, a
  /// LibSVM file's index numbering) are left to the caller that gathers the shards.
  std::size_t shard_index = 0;
  std::size_t shard_count = 1;
};

/// Features, and labels as written in the file (text: "3", "cat"; IDX and .npy integer labels
/// are written in decimal; a LibSVM "+1" becomes "1", "1.0" stays "1.0"). labels is empty when
/// the data carries none. docs/FORMATS.md gives the details of every format.
template <class T>
struct Dataset {
  FeatureMatrix<T> features;
  std::vector<std::string> labels;
  std::string source;  // the file it came from ("-" for standard input)
  DataFormat format = DataFormat::automatic;
  /// The features' names, one per column of `features`, from a CSV header (label, id and
  /// weight columns and a pandas index column excluded; each name non-empty and distinct, or
  /// the header is a ParseError); empty when the file names none (no header, or a format
  /// without names).
  std::vector<std::string> feature_names;
  /// ReadOptions::id_column's values, one per row, as text (without the padding and quotes
  /// around the field; an empty field is an empty id); empty when there is no id column.
  std::vector<std::string> ids;
  /// The id column's header name; empty when there is no id column or no header.
  std::string id_name;
  /// ReadOptions::weight_column's values, one per row; empty when there is no weight column.
  std::vector<double> sample_weight;
  /// LibSVM: the numbering the file was read with (IndexBase::zero or one); automatic for
  /// the other formats.
  IndexBase index_base = IndexBase::automatic;
  /// Things the reader did that a user should hear about (one line each, without the file
  /// name), e.g. a pandas index column skipped; the command line prints them as notices.
  std::vector<std::string> notices;
  /// IDX: the dimensions of one item (28, 28 for MNIST images), whose product is cols();
  /// empty for the other formats.
  std::vector<std::size_t> item_shape;

  std::size_t rows() const { return rows_of(features); }
  std::size_t cols() const { return cols_of(features); }
  bool sparse() const { return std::holds_alternative<CsrMatrix<T>>(features); }
};

/// Reads a dataset. Dense formats give a DenseMatrix, LibSVM a CsrMatrix. IDX unsigned-byte
/// images become pixel / 255 in [0, 1]; other IDX types are read as their values. Features must
/// be finite: NaN or inf is a ParseError naming the position. Gzip-compressed files (.gz) are
/// read for every format. The path "-" reads standard input (a pipe works: nothing is read
/// twice); options.format must then be given (automatic is an InvalidArgument), messages name
/// it "standard input", and IDX images have no sibling labels file there. Memory running out
/// while a file is read is an Error "<file>: out of memory at line L (byte B) while reading
/// it" (binary formats: "at byte B"), naming the file being read (the data or its labels).
template <class T>
Dataset<T> read_dataset(const std::string& path, const ReadOptions& options = {});

/// How messages name a data path: "standard input" for "-", otherwise the path as given.
std::string source_name(const std::string& path);

/// Sample weights from a text file (plain or gzip; "-" reads standard input): one finite number
/// >= 0 per line, surrounding spaces and tabs allowed, trailing empty lines allowed, exactly
/// `expected` of them, one per row of `data_source` (named in the messages). Anything else is a
/// ParseError "<file>:<line>:<column>: ..."; memory running out is an Error naming the line,
/// as for read_dataset.
std::vector<double> read_sample_weights(const std::string& path, std::size_t expected,
                                        const std::string& data_source);

extern template Dataset<float> read_dataset<float>(const std::string&, const ReadOptions&);
extern template Dataset<double> read_dataset<double>(const std::string&, const ReadOptions&);

}  // namespace softreg

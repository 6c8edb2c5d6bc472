// Inferring a data format from a file name (the format names are in common/names.cpp).
#include <algorithm>
#include <cctype>
#include <string>

#include "io/readers.hpp"
#include "softreg/data.hpp"
#include "softreg/error.hpp"

namespace softreg {

DataFormat infer_format(const std::string& path) {
  const std::string name = detail::plain_file_name(path);
  using detail::has_suffix;
  if (has_suffix(name, ".csv") || has_suffix(name, ".tsv")) return DataFormat::csv;
  if (has_suffix(name, ".svm") || has_suffix(name, ".libsvm") || has_suffix(name, ".txt")) {
    return DataFormat::libsvm;
  }
  if (has_suffix(name, ".npy")) return DataFormat::npy;
  if (detail::is_idx_name(name)) return DataFormat::idx;
  throw InvalidArgument(path +
                        ": cannot tell the data format from the file name; expected .csv, .tsv, "
                        ".svm, .libsvm, .txt, .npy or an IDX name such as "
                        "train-images-idx3-ubyte, each optionally .gz, or an explicit format");
}

namespace detail {

std::string plain_file_name(const std::string& path) {
  const auto slash = path.find_last_of('/');
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (has_suffix(name, ".gz")) name.resize(name.size() - 3);
  return name;
}

bool is_idx_name(const std::string& name) {
  // MNIST names its files train-images-idx3-ubyte; some mirrors use train-images.idx3-ubyte.
  for (const char* sep : {"-idx", ".idx"}) {
    const auto at = name.find(sep);
    if (at != std::string::npos && name.find("-ubyte", at) != std::string::npos) return true;
  }
  return false;
}

bool has_suffix(const std::string& name, const std::string& suffix) {
  return name.size() >= suffix.size() &&
         name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace detail
}  // namespace softreg

// Fuzz target: the CSV reader (read_dataset with format csv), plain or gzip (fuzz_common.hpp).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_common.hpp"
#include "softreg/data.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace softreg;
  const fuzz::Parts parts =
      fuzz::split_labels({reinterpret_cast<const char*>(data), size});
  const auto& dir = fuzz::scratch();
  const std::string path = dir.write(std::string("data.csv") + fuzz::gz_suffix(),
                                     fuzz::stored(parts.data));
  ReadOptions base;
  base.format = DataFormat::csv;
  if (parts.has_labels) {
    // Every column a feature, the labels one per line in a text file.
    base.labels_path =
        dir.write(std::string("labels.txt") + fuzz::gz_suffix(), fuzz::stored(parts.labels));
    fuzz::expect_clean([&] { read_dataset<float>(path, base); });
    return 0;
  }
  // The defaults: header detection, a column named "label" if any.
  fuzz::expect_clean([&] { read_dataset<float>(path, base); });
  fuzz::expect_clean([&] { read_dataset<double>(path, base); });
  // Columns by index (the first line becomes data unless a name matches), labels required.
  ReadOptions by_index = base;
  by_index.id_column = "0";
  by_index.label_column = "1";
  by_index.weight_column = "2";
  by_index.require_labels = true;
  fuzz::expect_clean([&] { read_dataset<float>(path, by_index); });
  // Columns by the names the seeds use, a forced header, and a fixed feature count.
  ReadOptions by_name = base;
  by_name.id_column = "id";
  by_name.weight_column = "w";
  by_name.header = true;
  by_name.n_features = 2;
  fuzz::expect_clean([&] { read_dataset<float>(path, by_name); });
  // Another delimiter, no header.
  ReadOptions other = base;
  other.delimiter = ';';
  other.header = false;
  fuzz::expect_clean([&] { read_dataset<float>(path, other); });
  return 0;
}

// Fuzz target: the CSV reader (read_dataset with format csv), plain or gzip (fuzz_common.hpp).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_common.hpp"
#include "softreg/data.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace softreg;
  const fuzz::Parts parts = fuzz::split_labels({reinterpret_cast<const char*>(data), size});
  const auto& dir = fuzz::scratch();
  const std::string path =
      dir.write(std::string("data.csv") + fuzz::gz_suffix(), fuzz::stored(parts.data));
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
  ReadOptions variant = base;
  switch (fuzz::pick({reinterpret_cast<const char*>(data), size}, 4)) {
    case 0:
      // Columns by index (the first line becomes data unless a name matches), labels required.
      variant.id_column = std::string("0");
      variant.label_column = std::string("1");
      variant.weight_column = std::string("2");
      variant.require_labels = true;
      break;
    case 1:
      // Columns by the names the seeds use, a forced header, and a fixed feature count.
      variant.id_column = std::string("id");
      variant.weight_column = std::string("w");
      variant.header = true;
      variant.n_features = 2;
      break;
    case 2:
      // Another delimiter, no header.
      variant.delimiter = ';';
      variant.header = false;
      break;
    default:
      // The defaults again, parsed as double.
      fuzz::expect_clean([&] { read_dataset<double>(path, base); });
      return 0;
  }
  fuzz::expect_clean([&] { read_dataset<float>(path, variant); });
  return 0;
}

// Fuzz target: the NumPy .npy reader (read_dataset with format npy), plain or gzip, with a
// .npy labels file when the input has a labels part (fuzz_common.hpp).
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
      dir.write(std::string("x.npy") + fuzz::gz_suffix(), fuzz::stored(parts.data));
  ReadOptions options;
  options.format = DataFormat::npy;
  if (parts.has_labels) {
    options.labels_path =
        dir.write(std::string("y.npy") + fuzz::gz_suffix(), fuzz::stored(parts.labels));
  }
  fuzz::expect_clean([&] { read_dataset<float>(path, options); });
  fuzz::expect_clean([&] { read_dataset<double>(path, options); });
  options.n_features = 3;
  fuzz::expect_clean([&] { read_dataset<float>(path, options); });
  return 0;
}

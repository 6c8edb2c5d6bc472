// Fuzz target: the IDX reader (read_dataset with format idx), plain or gzip, with an idx1
// labels file when the input has a labels part (fuzz_common.hpp).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_common.hpp"
#include "softreg/data.hpp"
#include "softreg/threads.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace softreg;
  const fuzz::Parts parts = fuzz::split_labels({reinterpret_cast<const char*>(data), size});
  const auto& dir = fuzz::scratch();
  // Names without the MNIST pattern: no sibling labels file is looked for.
  const std::string path =
      dir.write(std::string("images.bin") + fuzz::gz_suffix(), fuzz::stored(parts.data));
  ReadOptions options;
  options.format = DataFormat::idx;
  if (parts.has_labels) {
    // An idx1 file is told from a text labels file by its name.
    options.labels_path = dir.write(std::string("y-labels-idx1-ubyte") + fuzz::gz_suffix(),
                                    fuzz::stored(parts.labels));
  }
  // Unsigned-byte images take another path on 2 or more threads (staged whole, converted in
  // parallel): read both ways.
  set_num_threads(1);
  fuzz::expect_clean([&] { read_dataset<float>(path, options); });
  fuzz::expect_clean([&] { read_dataset<double>(path, options); });
  set_num_threads(2);
  fuzz::expect_clean([&] { read_dataset<float>(path, options); });
  options.n_features = 4;
  options.require_labels = true;
  fuzz::expect_clean([&] { read_dataset<float>(path, options); });
  return 0;
}

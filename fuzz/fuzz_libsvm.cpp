// Fuzz target: the LibSVM / SVMlight reader (read_dataset with format libsvm), plain or gzip
// (fuzz_common.hpp).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_common.hpp"
#include "softreg/data.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace softreg;
  const std::string path =
      fuzz::scratch().write(std::string("data.svm") + fuzz::gz_suffix(),
                            fuzz::stored({reinterpret_cast<const char*>(data), size}));
  ReadOptions options;
  options.format = DataFormat::libsvm;
  // The numbering decided by the file (scikit-learn's "auto").
  fuzz::expect_clean([&] { read_dataset<float>(path, options); });
  fuzz::expect_clean([&] { read_dataset<double>(path, options); });
  // Each numbering forced, with a model's feature count.
  options.index_base = IndexBase::zero;
  options.n_features = 4;
  fuzz::expect_clean([&] { read_dataset<float>(path, options); });
  options.index_base = IndexBase::one;
  fuzz::expect_clean([&] { read_dataset<float>(path, options); });
  return 0;
}

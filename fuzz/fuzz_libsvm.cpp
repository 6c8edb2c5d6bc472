// Fuzz target: the LibSVM / SVMlight reader (read_dataset with format libsvm), plain or gzip
// (fuzz_common.hpp).
#include <cstddef>
#include <cstdint>
#include <string>
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
  switch (fuzz::pick({reinterpret_cast<const char*>(data), size}, 3)) {
    case 0:
      fuzz::expect_clean([&] { read_dataset<double>(path, options); });
      return 0;
    case 1:
      // Each numbering forced, with a model's feature count.
      options.index_base = IndexBase::zero;
      break;
    default:
      options.index_base = IndexBase::one;
      break;
  }
  options.n_features = 4;
  fuzz::expect_clean([&] { read_dataset<float>(path, options); });
  return 0;
}

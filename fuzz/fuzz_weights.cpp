// Fuzz target: the sample-weights reader (read_sample_weights), which the command line runs
// on --sample-weight files: one number per line, for as many rows as the data has.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_common.hpp"
#include "softreg/data.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace softreg;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::string path = fuzz::scratch().write("weights.txt", input);
  // As many rows as the input has lines that are not blank, so that a well-formed input reads
  // to its end, and another count, so that the count's checks are reached too.
  std::size_t rows = 0;
  bool blank = true;
  for (const char c : input) {
    if (c == '\n') {
      rows += blank ? 0 : 1;
      blank = true;
    } else if (c != ' ' && c != '\t' && c != '\r') {
      blank = false;
    }
  }
  rows += blank ? 0 : 1;
  fuzz::expect_clean([&] { read_sample_weights(path, rows, "data.csv"); });
  fuzz::expect_clean([&] { read_sample_weights(path, fuzz::pick(input, 5), "data.csv"); });
  return 0;
}

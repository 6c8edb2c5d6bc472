// Runs a fuzz target's LLVMFuzzerTestOneInput over checked-in inputs without libFuzzer: the
// regression tests replay every finding and seed through the normal (g++) build with it.
// Usage: <replay binary> FILE_OR_DIRECTORY...; fails on the first input that lets anything but
// a softreg::Error out of a reader (a crash fails it anyway).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

std::vector<std::filesystem::path> inputs_of(const std::filesystem::path& arg) {
  std::vector<std::filesystem::path> out;
  if (std::filesystem::is_directory(arg)) {
    for (const auto& e : std::filesystem::recursive_directory_iterator(arg)) {
      if (e.is_regular_file()) out.push_back(e.path());
    }
    std::sort(out.begin(), out.end());
  } else {
    out.push_back(arg);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t n = 0;
  for (int a = 1; a < argc; ++a) {
    for (const auto& path : inputs_of(argv[a])) {
      std::ifstream in(path, std::ios::binary);
      if (!in) {
        std::fprintf(stderr, "%s: cannot open\n", path.c_str());
        return 2;
      }
      const std::string bytes((std::istreambuf_iterator<char>(in)), {});
      std::fprintf(stderr, "replay %s (%zu bytes)\n", path.c_str(), bytes.size());
      try {
        LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
      } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: a reader threw something other than softreg::Error: %s\n",
                     path.c_str(), e.what());
        return 1;
      }
      ++n;
    }
  }
  if (n == 0) {
    std::fprintf(stderr, "replay: no inputs found\n");
    return 2;
  }
  std::fprintf(stderr, "replay: %zu inputs, each read cleanly\n", n);
  return 0;
}

// Reads a data file with read_dataset<float> a few times and prints the best throughput in MB/s
// of file bytes: the CSV-loading number of docs/BENCHMARKS.md.
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "softreg/data.hpp"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: read_speed FILE [REPEATS]\n");
    return 2;
  }
  const int repeats = argc > 2 ? std::atoi(argv[2]) : 3;
  const double mb = double(std::filesystem::file_size(argv[1])) / 1e6;
  double best = 1e300;
  std::size_t rows = 0;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto data = softreg::read_dataset<float>(argv[1]);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::min(best, s);
    rows = data.rows();
  }
  std::printf("{\"file_mb\": %.1f, \"rows\": %zu, \"seconds\": %.3f, \"mb_per_s\": %.0f}\n", mb,
              rows, best, mb / best);
  return 0;
}

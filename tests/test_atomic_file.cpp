// Tests of AtomicFile: a committed file holds exactly what was written; an abandoned one leaves
// the target and the directory as they were; failures name the target; the CRC is zlib's.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include "io_fixtures.hpp"
#include "softreg/atomic_file.hpp"
#include "softreg/error.hpp"

namespace {

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::size_t entries(const std::string& dir) {
  std::size_t count = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++count;
  return count;
}

TEST(AtomicFile, CommitWritesEverythingIncludingLargeWritesAndReplacesTheTarget) {
  io_test::TempDir dir;
  const std::string target = dir.write("out.bin", "old content");
  std::string expected = "header\n";
  const std::string big(300000, 'x');  // larger than the writer's buffer: written through
  {
    softreg::AtomicFile f(target);
    f.write(std::string_view("header\n"));
    f.write(big);
    expected += big;
    for (int i = 0; i < 1000; ++i) {
      const std::string line = std::to_string(i) + ",";
      f.write(line);
      expected += line;
    }
    EXPECT_EQ(read_all(target), "old content") << "the target changes only at commit";
    EXPECT_EQ(f.size(), expected.size());
    const auto crc = crc32(0L, reinterpret_cast<const Bytef*>(expected.data()),
                           static_cast<uInt>(expected.size()));
    EXPECT_EQ(f.crc(), static_cast<std::uint32_t>(crc));
    f.commit();
  }
  EXPECT_EQ(read_all(target), expected);
  EXPECT_EQ(entries(dir.path("")), 1u) << "no temporary file left";
}

TEST(AtomicFile, AbandonedWriteLeavesTheTargetAndNoTemporary) {
  io_test::TempDir dir;
  const std::string target = dir.write("model.srm", "the old model");
  try {
    softreg::AtomicFile f(target);
    f.write(std::string_view("half a new model"));
    throw std::runtime_error("interrupted");
  } catch (const std::runtime_error&) {
  }
  EXPECT_EQ(read_all(target), "the old model");
  EXPECT_EQ(entries(dir.path("")), 1u);
  const std::string fresh = dir.path("never.bin");
  { softreg::AtomicFile f(fresh); }
  EXPECT_FALSE(std::filesystem::exists(fresh));
  EXPECT_EQ(entries(dir.path("")), 1u);
}

TEST(AtomicFile, TwoWritersOfOneTargetGetTheirOwnTemporaries) {
  io_test::TempDir dir;
  const std::string target = dir.path("t.txt");
  softreg::AtomicFile a(target);
  softreg::AtomicFile b(target);
  a.write(std::string_view("a"));
  b.write(std::string_view("b"));
  EXPECT_EQ(entries(dir.path("")), 2u);
  a.commit();
  b.commit();
  EXPECT_EQ(read_all(target), "b") << "the last commit wins, whole";
  EXPECT_EQ(entries(dir.path("")), 1u);
}

TEST(AtomicFile, AMissingDirectoryIsAnIoErrorNamingTheTarget) {
  io_test::TempDir dir;
  const std::string target = dir.path("no/such/dir/out.bin");
  try {
    softreg::AtomicFile f(target);
    FAIL() << "no exception";
  } catch (const softreg::IoError& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.rfind(target + ": cannot create temporary file ", 0), 0u) << what;
    EXPECT_NE(what.find("No such file or directory"), std::string::npos) << what;
  }
}

}  // namespace

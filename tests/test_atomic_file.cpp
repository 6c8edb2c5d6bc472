// Tests of AtomicFile: a committed file holds exactly what was written; an abandoned one leaves
// the target and the directory as they were; failures name the target; the CRC is zlib's;
// symbolic links, FIFOs and character devices are written through, never replaced.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <zlib.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

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

namespace special {

namespace fs = std::filesystem;

TEST(AtomicFile, ASymlinkStaysALinkAndItsTargetIsReplaced) {
  io_test::TempDir dir;
  const std::string target = dir.write("real.bin", "old");
  const std::string link = dir.path("link.bin");
  fs::create_symlink(target, link);
  {
    softreg::AtomicFile f(link);
    f.write(std::string_view("new content"));
    f.commit();
  }
  EXPECT_TRUE(fs::is_symlink(link));
  EXPECT_EQ(read_all(target), "new content");
  EXPECT_EQ(entries(dir.path(".")), 2u);  // no temporary left behind
  // A dangling link creates the file it names.
  const std::string dangling = dir.path("dangling.bin");
  fs::create_symlink(dir.path("made.bin"), dangling);
  {
    softreg::AtomicFile f(dangling);
    f.write(std::string_view("made"));
    f.commit();
  }
  EXPECT_TRUE(fs::is_symlink(dangling));
  EXPECT_EQ(read_all(dir.path("made.bin")), "made");
}

TEST(AtomicFile, AFifoIsWrittenThroughAndStaysAFifo) {
  io_test::TempDir dir;
  const std::string fifo = dir.path("pipe");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::string got;
  std::thread reader([&] { got = read_all(fifo); });
  {
    softreg::AtomicFile f(fifo);
    f.write(std::string_view("through the pipe"));
    f.commit();
  }
  reader.join();
  EXPECT_EQ(got, "through the pipe");
  EXPECT_TRUE(fs::is_fifo(fifo));
  EXPECT_EQ(entries(dir.path(".")), 1u);
}

TEST(AtomicFile, CharacterDevicesAreWrittenInPlaceAndAFullOneIsAnError) {
  io_test::TempDir dir;
  // Private device nodes in the scratch directory (never the real /dev): null is 1:3, full 1:7.
  const std::string null_dev = dir.path("null"), full_dev = dir.path("full");
  if (::mknod(null_dev.c_str(), S_IFCHR | 0666, makedev(1, 3)) != 0 ||
      ::mknod(full_dev.c_str(), S_IFCHR | 0666, makedev(1, 7)) != 0) {
    GTEST_SKIP() << "cannot create device nodes here (" << std::strerror(errno)
                 << "): needs CAP_MKNOD";
  }
  {
    softreg::AtomicFile f(null_dev);
    f.write(std::string(200000, 'x'));
    f.commit();
  }
  EXPECT_TRUE(fs::is_character_file(null_dev));
  try {
    softreg::AtomicFile f(full_dev);
    f.write(std::string(200000, 'x'));
    f.commit();
    ADD_FAILURE() << "no error writing a full device";
  } catch (const softreg::IoError& e) {
    EXPECT_NE(std::string(e.what()).find(full_dev + ": cannot write: No space left on device"),
              std::string::npos)
        << e.what();
  }
  EXPECT_TRUE(fs::is_character_file(full_dev));
  EXPECT_EQ(entries(dir.path(".")), 2u);
}

TEST(AtomicFile, ADirectoryIsRefused) {
  io_test::TempDir dir;
  try {
    const std::string here = dir.path(".");
    softreg::AtomicFile f(here);
    ADD_FAILURE() << "no error";
  } catch (const softreg::IoError& e) {
    EXPECT_EQ(std::string(e.what()), dir.path(".") + ": is a directory, not a file to write");
  }
}

}  // namespace special

namespace check {

namespace fs = std::filesystem;

std::string io_error(const std::string& path) {
  try {
    softreg::check_writable(path);
  } catch (const softreg::IoError& e) {
    return e.what();
  }
  return "<no exception>";
}

TEST(CheckWritable, AWritableTargetPassesAndNothingIsLeftOrTouched) {
  io_test::TempDir dir;
  softreg::check_writable(dir.path("new.bin"));
  EXPECT_FALSE(fs::exists(dir.path("new.bin"))) << "the target itself must not be created";
  const std::string old = dir.write("old.bin", "keep");
  softreg::check_writable(old);
  EXPECT_EQ(read_all(old), "keep");
  EXPECT_EQ(entries(dir.path(".")), 1u);  // no temporary left behind
}

TEST(CheckWritable, FailsAsAtomicFileWouldBeforeAnythingIsWritten) {
  io_test::TempDir dir;
  const std::string missing = dir.path("no/such/dir/out.bin");
  std::string what = io_error(missing);
  EXPECT_EQ(what.rfind(missing + ": cannot create temporary file ", 0), 0u) << what;
  EXPECT_NE(what.find("No such file or directory"), std::string::npos) << what;
  EXPECT_EQ(io_error(dir.path(".")), dir.path(".") + ": is a directory, not a file to write");
  if (::geteuid() != 0) {  // root writes anywhere
    const std::string locked = dir.path("locked");
    fs::create_directory(locked);
    fs::permissions(locked, fs::perms::owner_read | fs::perms::owner_exec);
    what = io_error(locked + "/out.bin");
    EXPECT_NE(what.find("Permission denied"), std::string::npos) << what;
    fs::permissions(locked, fs::perms::owner_all);
  }
}

TEST(CheckWritable, AFifoIsNotOpened) {
  io_test::TempDir dir;
  const std::string fifo = dir.path("pipe");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  softreg::check_writable(fifo);  // opening it for writing would block: no reader
  EXPECT_TRUE(fs::is_fifo(fifo));
  EXPECT_EQ(entries(dir.path(".")), 1u);
}

}  // namespace check

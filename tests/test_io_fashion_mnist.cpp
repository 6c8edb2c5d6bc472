// The real Fashion-MNIST test set, when the machine has it: shape, range, labels, speed budget.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <set>
#include <string>

#include "io_fixtures.hpp"

namespace {

const std::string kDir = "/usr/share/datasets/fashion-mnist";

TEST(IoFashionMnist, T10kImagesAndLabels) {
  const std::string images = kDir + "/t10k-images-idx3-ubyte.gz";
  if (!std::filesystem::exists(images)) GTEST_SKIP() << images << " is not installed";
  softreg::ReadOptions o;
  o.require_labels = true;
  o.n_features = 784;
  const auto start = std::chrono::steady_clock::now();
  const auto ds = softreg::read_dataset<float>(images, o);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(ds.rows(), 10000u);
  ASSERT_EQ(ds.cols(), 784u);
  const auto& x = io_test::dense(ds).data;
  const auto [lo, hi] = std::minmax_element(x.begin(), x.end());
  EXPECT_EQ(*lo, 0.0f);
  EXPECT_EQ(*hi, 1.0f);
  ASSERT_EQ(ds.labels.size(), 10000u);
  EXPECT_EQ(ds.labels.front(), "9");
  const std::set<std::string> classes(ds.labels.begin(), ds.labels.end());
  EXPECT_EQ(classes, (std::set<std::string>{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}));
  // A sixth of the training set (all of it reads in about 0.45 s of CPU time). The bound only
  // catches gross regressions such as item-by-item reads: test machines are shared.
  EXPECT_LT(seconds, 2.0);
}

}  // namespace

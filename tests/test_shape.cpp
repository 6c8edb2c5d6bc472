// Tests of Shape and of the outer x n x inner view along an axis.
#include <gtest/gtest.h>

#include <vector>

#include "softreg/error.hpp"
#include "softreg/shape.hpp"

namespace {

TEST(Shape, NumelAndPrinting) {
  const softreg::Shape s{2, 3, 4};
  EXPECT_EQ(s.ndim(), 3u);
  EXPECT_EQ(s.numel(), 24u);
  EXPECT_EQ(s.str(), "(2, 3, 4)");
  EXPECT_EQ(softreg::Shape{5}.str(), "(5,)");
  EXPECT_EQ(softreg::Shape{}.numel(), 1u);
  EXPECT_EQ((softreg::Shape{3, 0, 2}.numel()), 0u);
}

TEST(Shape, TooManyDimensionsThrow) {
  const std::vector<std::size_t> dims(softreg::Shape::kMaxDims + 1, 1);
  EXPECT_THROW(softreg::Shape{std::span<const std::size_t>(dims)}, softreg::InvalidArgument);
}

TEST(AxisLayout, EveryAxisOfA3dShape) {
  const softreg::Shape s{2, 3, 4};
  const auto a0 = softreg::axis_layout(s, 0, "t");
  EXPECT_EQ(a0.outer, 1u);
  EXPECT_EQ(a0.n, 2u);
  EXPECT_EQ(a0.inner, 12u);
  const auto a1 = softreg::axis_layout(s, -2, "t");
  EXPECT_EQ(a1.outer, 2u);
  EXPECT_EQ(a1.n, 3u);
  EXPECT_EQ(a1.inner, 4u);
  const auto a2 = softreg::axis_layout(s, -1, "t");
  EXPECT_EQ(a2.outer, 6u);
  EXPECT_EQ(a2.n, 4u);
  EXPECT_EQ(a2.inner, 1u);
  // Row r = o * inner + i starts at o * n * inner + i: every element is covered exactly once.
  std::vector<int> hits(s.numel(), 0);
  for (const auto& l : {a0, a1, a2}) {
    std::fill(hits.begin(), hits.end(), 0);
    for (std::size_t r = 0; r < l.rows(); ++r) {
      for (std::size_t j = 0; j < l.n; ++j) ++hits[l.row_start(r) + j * l.inner];
    }
    for (const int h : hits) EXPECT_EQ(h, 1);
  }
}

TEST(AxisLayout, OutOfRangeAxisNamesCallerAndShape) {
  try {
    softreg::axis_layout(softreg::Shape{2, 3}, 2, "softreg::softmax");
    FAIL() << "no exception";
  } catch (const softreg::InvalidArgument& e) {
    EXPECT_STREQ(e.what(),
                 "softreg::softmax: axis 2 is out of range for shape (2, 3) (expected -2 <= axis "
                 "< 2)");
  }
  EXPECT_THROW(softreg::axis_layout(softreg::Shape{2, 3}, -3, "t"), softreg::InvalidArgument);
  EXPECT_THROW(softreg::axis_layout(softreg::Shape{}, 0, "t"), softreg::InvalidArgument);
}

}  // namespace

// CSV columns that are not features: header names, pandas' index column, id and weight columns.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "io_fixtures.hpp"

namespace {

using io_test::dense;
using io_test::has;
using io_test::parse_error;
using io_test::read;
using io_test::starts_with;
using io_test::TempDir;

using Names = std::vector<std::string>;

softreg::ReadOptions columns(const std::string& id, const std::string& weight,
                             const std::string& label = "") {
  softreg::ReadOptions o;
  o.id_column = id;
  o.weight_column = weight;
  o.label_column = label;
  return o;
}

std::string invalid_argument(const std::string& path, const softreg::ReadOptions& o) {
  try {
    read(path, o);
  } catch (const softreg::InvalidArgument& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("<not an InvalidArgument> ") + e.what();
  }
  return "<no exception>";
}

TEST(CsvColumns, FeatureNamesAreTheHeaderWithoutTheLabel) {
  TempDir dir;
  const auto ds = read(dir.write("h.csv", "sepal length,label,petal \"x\"\n1,cat,2\n3,dog,4\n"));
  EXPECT_EQ(ds.feature_names, (Names{"sepal length", "petal \"x\""}));
  EXPECT_TRUE(ds.notices.empty());
  // No header, no names; a quoted header field is its unquoted text.
  EXPECT_TRUE(read(dir.write("n.csv", "1,2\n3,4\n")).feature_names.empty());
  EXPECT_EQ(read(dir.write("q.csv", "\"a,b\", c\n1,2\n")).feature_names, (Names{"a,b", "c"}));
}

TEST(CsvColumns, PandasIndexColumnIsSkippedWithANotice) {
  TempDir dir;
  // What DataFrame.to_csv writes by default, and the same frame written with index=False.
  const auto with =
      read<double>(dir.write("with.csv", ",a,b,label\n0,1.5,2,x\n1,3,4.25,y\n2,5,6,x\n"));
  const auto without =
      read<double>(dir.write("without.csv", "a,b,label\n1.5,2,x\n3,4.25,y\n5,6,x\n"));
  EXPECT_EQ(dense(with).data, dense(without).data);
  EXPECT_EQ(with.cols(), 2u);
  EXPECT_EQ(with.labels, without.labels);
  EXPECT_EQ(with.feature_names, (Names{"a", "b"}));
  ASSERT_EQ(with.notices.size(), 1u);
  EXPECT_TRUE(has(with.notices[0], "first column has no name")) << with.notices[0];
  EXPECT_TRUE(has(with.notices[0], "0..2")) << with.notices[0];
  EXPECT_TRUE(has(with.notices[0], "pandas index")) << with.notices[0];
  EXPECT_TRUE(without.notices.empty());
  // The general row parser (padding, quotes) agrees with the fast one.
  const auto padded =
      read<double>(dir.write("p.csv", ",a,b,label\n \"0\" ,1.5,2,x\n1, 3,4.25,y\n2,5,6,x\n"));
  EXPECT_EQ(dense(padded).data, dense(without).data);
}

TEST(CsvColumns, ANamelessFirstColumnThatIsNotTheRowNumbersIsAnError) {
  TempDir dir;
  const std::string p = dir.write("p.csv", ",a,label\n0,1,x\n1,2,y\n5,3,x\n");
  const std::string msg = parse_error([&] { read(p); });
  EXPECT_TRUE(starts_with(msg, p + ":1:1: the first column has no name")) << msg;
  EXPECT_TRUE(has(msg, "line 4 holds \"5\" where row number 2 was expected")) << msg;
  const std::string q = dir.write("q.csv", ",a,label\nfoo,1,x\n");
  EXPECT_TRUE(starts_with(parse_error([&] { read(q); }), q + ":1:1: the first column has no name"));
}

TEST(CsvColumns, EmptyAndDuplicateFeatureNamesAreErrors) {
  TempDir dir;
  const std::string e = dir.write("e.csv", "a,,label\n1,2,x\n");
  std::string msg = parse_error([&] { read(e); });
  EXPECT_TRUE(starts_with(msg, e + ":1:3: header field 1 is empty")) << msg;
  const std::string d = dir.write("d.csv", "a,b,label, a\n1,2,x,3\n");
  msg = parse_error([&] { read(d); });
  EXPECT_TRUE(starts_with(msg, d + ":1:12: the header names \"a\" twice (fields 0 and 3)")) << msg;
  EXPECT_TRUE(has(msg, "distinct feature names")) << msg;
}

TEST(CsvColumns, IdAndWeightColumnsByNameAreCarriedExactly) {
  TempDir dir;
  const std::string p = dir.write("w.csv",
                                  "id,x,w,label,y\n"
                                  "r-001,1,0.5,cat,2\n"
                                  "\"r,2\",3,2,dog,4\n"
                                  " 007 ,5,1e-3,cat,6\n"
                                  ",7,0,dog,8\n");
  const auto ds = read<double>(p, columns("id", "w"));
  EXPECT_EQ(ds.ids, (Names{"r-001", "r,2", "007", ""}));
  EXPECT_EQ(ds.id_name, "id");
  EXPECT_EQ(ds.sample_weight, (std::vector<double>{0.5, 2, 1e-3, 0}));
  EXPECT_EQ(ds.labels, (Names{"cat", "dog", "cat", "dog"}));
  EXPECT_EQ(dense(ds).data, (std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(ds.feature_names, (Names{"x", "y"}));
}

TEST(CsvColumns, IdAndWeightColumnsByIndexWithoutAHeader) {
  TempDir dir;
  const std::string p = dir.write("n.csv", "a7,1,2,0.25\nb8,3,4,4\n");
  const auto ds = read<double>(p, columns("0", "3"));
  EXPECT_EQ(ds.ids, (Names{"a7", "b8"}));
  EXPECT_TRUE(ds.id_name.empty());
  EXPECT_EQ(ds.sample_weight, (std::vector<double>{0.25, 4}));
  EXPECT_EQ(dense(ds).data, (std::vector<double>{1, 2, 3, 4}));
  EXPECT_TRUE(ds.feature_names.empty());
  EXPECT_TRUE(ds.labels.empty());
}

TEST(CsvColumns, NamingAnIdColumnMakesTheFirstLineAHeader) {
  TempDir dir;
  // Every field of "key,1,2" is not a number, but the rule would not call it a header alone:
  // line 2 has text under "key". Naming it does.
  const std::string p = dir.write("k.csv", "key,3,4\nk1,5,6\n");
  const auto ds = read(p, columns("key", ""));
  EXPECT_EQ(ds.rows(), 1u);
  EXPECT_EQ(ds.ids, (Names{"k1"}));
  EXPECT_EQ(ds.feature_names, (Names{"3", "4"}));
}

TEST(CsvColumns, BadWeightsAreErrorsAtTheirField) {
  TempDir dir;
  for (const char* bad : {"-1", "abc", "nan", "inf", "\"\"", "1e999"}) {
    const std::string p = dir.write("b.csv", std::string("x,w,label\n1,2,a\n3,") + bad + ",b\n");
    const std::string msg = parse_error([&] { read(p, columns("", "w")); });
    EXPECT_TRUE(starts_with(msg, p + ":3:3: expected a sample weight (a finite number >= 0)"))
        << bad << ": " << msg;
  }
}

TEST(CsvColumns, OneColumnCannotHaveTwoRoles) {
  TempDir dir;
  const std::string p = dir.write("c.csv", "id,x,label\n1,2,a\n");
  std::string msg = invalid_argument(p, columns("id", "id"));
  EXPECT_TRUE(has(msg, "column 0 (\"id\") is given as both the id column and the weight column"))
      << msg;
  msg = invalid_argument(p, columns("", "label"));
  EXPECT_TRUE(has(msg, "both the weight column and the label column")) << msg;
  msg = invalid_argument(p, columns("2", "", "label"));
  EXPECT_TRUE(has(msg, "both the id column and the label column")) << msg;
}

TEST(CsvColumns, MissingIdOrWeightColumnsAreErrors) {
  TempDir dir;
  const std::string p = dir.write("m.csv", "a,b,label\n1,2,x\n");
  std::string msg = parse_error([&] { read(p, columns("key", "")); });
  EXPECT_TRUE(starts_with(msg, p + ":1:1: no header field is named \"key\"")) << msg;
  EXPECT_TRUE(has(msg, "id column's name")) << msg;
  msg = parse_error([&] { read(p, columns("", "9")); });
  EXPECT_TRUE(has(msg, "weight column 9 does not exist")) << msg;
}

TEST(CsvColumns, IdAndWeightColumnsApplyToCsvOnly) {
  TempDir dir;
  const std::string p = dir.write("a.svm", "1 1:1\n");
  const std::string msg = invalid_argument(p, columns("0", ""));
  EXPECT_TRUE(starts_with(msg, p + ": an id column is given")) << msg;
  EXPECT_TRUE(has(msg, "apply to CSV files only")) << msg;
  EXPECT_TRUE(has(invalid_argument(p, columns("", "1")), "a weight column is given"));
}

TEST(CsvColumns, AnIdColumnNamedLabelIsNotASecondSourceOfLabels) {
  TempDir dir;
  const std::string p = dir.write("l.csv", "label,x\nr1,2\nr2,3\n");
  const std::string y = dir.write("y.txt", "a\nb\n");
  softreg::ReadOptions o = columns("label", "");
  o.labels_path = y;
  const auto ds = read(p, o);
  EXPECT_EQ(ds.ids, (Names{"r1", "r2"}));
  EXPECT_EQ(ds.labels, (Names{"a", "b"}));
}

}  // namespace

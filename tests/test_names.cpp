// Tests of the enum name table: every value round-trips through its canonical name, aliases
// parse, unknown names are refused with the list of names.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "softreg/error.hpp"
#include "softreg/names.hpp"

namespace {

template <class E>
void expect_round_trips(std::size_t values) {
  std::set<E> seen;
  for (const auto& entry : softreg::enum_names<E>()) {
    seen.insert(entry.value);
    EXPECT_EQ(softreg::parse_name<E>(entry.name), entry.value) << entry.name;
    const auto canonical = softreg::name_of(entry.value);
    EXPECT_EQ(softreg::parse_name<E>(canonical), entry.value) << canonical;
    EXPECT_EQ(canonical.data()[canonical.size()], '\0') << "names are C strings too";
  }
  EXPECT_EQ(seen.size(), values) << "every value has a name";
  EXPECT_FALSE(softreg::parse_name<E>("no-such-name").has_value());
  EXPECT_FALSE(softreg::parse_name<E>("").has_value());
}

TEST(Names, EveryValueRoundTrips) {
  expect_round_trips<softreg::Solver>(6);
  expect_round_trips<softreg::Scaling>(3);
  expect_round_trips<softreg::DType>(2);
  expect_round_trips<softreg::Preconditioner>(3);
  expect_round_trips<softreg::LrSchedule>(3);
  expect_round_trips<softreg::Reduction>(3);
  expect_round_trips<softreg::DataFormat>(5);
  expect_round_trips<softreg::SamplingOrder>(2);
}

TEST(Names, AliasesParseButTheCanonicalNameIsPrinted) {
  using softreg::LrSchedule;
  EXPECT_EQ(softreg::parse_name<LrSchedule>("inverse_sqrt"), LrSchedule::inverse_sqrt);
  EXPECT_EQ(softreg::parse_name<LrSchedule>("inverse-sqrt"), LrSchedule::inverse_sqrt);
  EXPECT_EQ(softreg::name_of(LrSchedule::inverse_sqrt), "inverse-sqrt");
  EXPECT_EQ(softreg::parse_name<softreg::DataFormat>("svm"), softreg::DataFormat::libsvm);
  EXPECT_EQ(softreg::name_of(softreg::DataFormat::libsvm), "libsvm");
  EXPECT_STREQ(softreg::solver_name(softreg::Solver::adam), "adam");
  EXPECT_STREQ(softreg::solver_name(softreg::Solver::newton_cg), "newton-cg");
  EXPECT_STREQ(softreg::format_name(softreg::DataFormat::automatic), "auto");
  using softreg::SamplingOrder;
  EXPECT_EQ(softreg::parse_name<SamplingOrder>("llama.cpp"), SamplingOrder::temperature_last);
  EXPECT_EQ(softreg::parse_name<SamplingOrder>("temperature_first"),
            SamplingOrder::temperature_first);
  EXPECT_EQ(softreg::name_of(SamplingOrder::temperature_last), "temperature-last");
}

TEST(Names, ListsAndErrorsNameTheCanonicalSpellings) {
  EXPECT_EQ(softreg::name_list<softreg::Solver>(), "auto, lbfgs, sgd, adam, newton-cg or saga");
  EXPECT_EQ(softreg::name_list<softreg::LrSchedule>(), "constant, inverse-sqrt or cosine");
  EXPECT_EQ(softreg::name_list<softreg::DType>(), "float32 or float64");
  try {
    softreg::parse_name_or_throw<softreg::Reduction>("avg", "cross_entropy: reduction");
    FAIL() << "no exception";
  } catch (const softreg::InvalidArgument& e) {
    EXPECT_STREQ(e.what(), "cross_entropy: reduction must be mean, sum or none; got \"avg\"");
  }
}

}  // namespace

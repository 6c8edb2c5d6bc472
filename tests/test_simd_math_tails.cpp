// exp and log over arrays of every short length at every start offset, in place or not, on every
// target: the same values as one aligned call, nothing written outside the output.
#include <gtest/gtest.h>

#include "simd_math_sweep.hpp"

namespace {

using namespace simd_math_sweep;

// ---- tails and misaligned arrays
//
// The last partial vector of an array takes another path (masked or buffered loads and
// stores): every length up to three vectors and one, at every start offset, in place or not,
// must give the values of one aligned call over the whole array and write nothing else.
template <class T>
bool same_value(T a, T b) {
  return (std::isnan(a) && std::isnan(b)) || std::memcmp(&a, &b, sizeof(T)) == 0;
}

template <class T>
void check_tails(void (*kernel)(T*, const T*, std::size_t), const std::vector<T>& values,
                 std::size_t lanes) {
  const std::size_t max_len = 3 * lanes + 1;
  ASSERT_LE(max_len, values.size());
  constexpr std::size_t kPad = 8;
  const T sentinel = T(-12345.25);
  std::vector<T> bulk(values.size());
  kernel(bulk.data(), values.data(), values.size());
  for (std::size_t len = 0; len <= max_len; ++len) {
    for (std::size_t off = 0; off <= 3; ++off) {
      SCOPED_TRACE(testing::Message() << "length " << len << " offset " << off);
      // Separate input and output, the output at another offset.
      std::vector<T> in(len + 2 * kPad, T(0));
      std::copy(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(len),
                in.begin() + static_cast<std::ptrdiff_t>(off));
      const std::vector<T> in_copy = in;
      const std::size_t out_off = (off + 1) % 4;
      std::vector<T> out(len + 2 * kPad, sentinel);
      kernel(out.data() + kPad + out_off, in.data() + off, len);
      for (std::size_t i = 0; i < out.size(); ++i) {
        const bool inside = i >= kPad + out_off && i < kPad + out_off + len;
        if (inside) {
          const std::size_t k = i - kPad - out_off;
          EXPECT_TRUE(same_value(out[i], bulk[k])) << "element " << k << " of " << len << ": "
                                                   << show(out[i]) << " vs bulk " << show(bulk[k]);
        } else {
          EXPECT_TRUE(same_value(out[i], sentinel)) << "wrote outside the array at " << i;
        }
      }
      EXPECT_EQ(std::memcmp(in.data(), in_copy.data(), in.size() * sizeof(T)), 0);
      // In place.
      std::vector<T> buf(len + 2 * kPad, sentinel);
      std::copy(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(len),
                buf.begin() + static_cast<std::ptrdiff_t>(kPad + off));
      kernel(buf.data() + kPad + off, buf.data() + kPad + off, len);
      for (std::size_t i = 0; i < buf.size(); ++i) {
        const bool inside = i >= kPad + off && i < kPad + off + len;
        if (inside) {
          const std::size_t k = i - kPad - off;
          EXPECT_TRUE(same_value(buf[i], bulk[k])) << "in place, element " << k << " of " << len;
        } else {
          EXPECT_TRUE(same_value(buf[i], sentinel)) << "in place, wrote outside at " << i;
        }
      }
    }
  }
}

template <class T>
std::vector<T> exp_inputs(std::mt19937_64& rng) {
  const T lo = std::is_same_v<T, float> ? T(-110) : T(-750);
  const T hi = std::is_same_v<T, float> ? T(90) : T(711);
  std::uniform_real_distribution<double> dist(static_cast<double>(lo), static_cast<double>(hi));
  std::vector<T> v(64);
  for (T& x : v) x = static_cast<T>(dist(rng));
  v[5] = std::numeric_limits<T>::quiet_NaN();
  v[11] = -std::numeric_limits<T>::infinity();
  v[19] = std::numeric_limits<T>::infinity();
  v[23] = T(0);
  return v;
}

template <class T>
std::vector<T> log_inputs(std::mt19937_64& rng) {
  std::uniform_real_distribution<double> dist(-30.0, 30.0);
  std::vector<T> v(64);
  for (T& x : v) x = static_cast<T>(std::exp(dist(rng)));
  v[3] = std::numeric_limits<T>::denorm_min();
  v[7] = std::numeric_limits<T>::quiet_NaN();
  v[13] = T(0);
  v[17] = T(-1);
  v[21] = std::numeric_limits<T>::infinity();
  v[29] = T(1);
  return v;
}

TEST(SimdMath, TailsAndMisalignedArraysMatchTheBulkCall) {
  simd_targets::for_each([](std::int64_t target) {
    const std::size_t lanes_f32 = softreg::detail::strided_block_width_f32() / 2;
    const std::size_t lanes_f64 = std::max<std::size_t>(1, lanes_f32 / 2);
    std::mt19937_64 rng(static_cast<std::uint64_t>(target));
    {
      SCOPED_TRACE("exp float");
      check_tails<float>(&exp_f32, exp_inputs<float>(rng), lanes_f32);
    }
    {
      SCOPED_TRACE("exp double");
      check_tails<double>(&exp_f64, exp_inputs<double>(rng), lanes_f64);
    }
    {
      SCOPED_TRACE("log float");
      check_tails<float>(&log_f32, log_inputs<float>(rng), lanes_f32);
    }
    {
      SCOPED_TRACE("log double");
      check_tails<double>(&log_f64, log_inputs<double>(rng), lanes_f64);
    }
  });
}

// Dispatch reaches each target's own code: the vector width the library reports follows the
// forced target (checked by simd_targets::for_each), and the targets without FMA (SSE4, SSSE3)
// round some intermediate results differently. How many exp results differ between targets is
// printed for the record; bitwise agreement would be legitimate, so it is not asserted.
TEST(SimdMath, DispatchFollowsTheForcedTarget) {
  std::mt19937_64 rng(99);
  std::uniform_real_distribution<double> dist(-80.0, 80.0);
  std::vector<float> x(1 << 16);
  for (float& v : x) v = static_cast<float>(dist(rng));
  std::vector<std::string> names;
  std::vector<std::vector<float>> results;
  simd_targets::for_each([&](std::int64_t t) {
    names.push_back(simd_targets::name(t));
    results.emplace_back(x.size());
    softreg::detail::vector_exp(results.back().data(), x.data(), x.size());
  });
  for (std::size_t a = 0; a < results.size(); ++a) {
    for (std::size_t b = a + 1; b < results.size(); ++b) {
      std::size_t differ = 0;
      for (std::size_t i = 0; i < x.size(); ++i) differ += results[a][i] != results[b][i] ? 1 : 0;
      std::printf("[ TARGETS  ] exp f32 %s vs %s: %zu of %zu results differ\n", names[a].c_str(),
                  names[b].c_str(), differ, x.size());
    }
  }
}

}  // namespace

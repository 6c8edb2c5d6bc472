// The scalar definitions of sampling.hpp shared by the fast sampler and its sorting reference:
// the weight function, its fixed-point form, the mass comparison, the rank order, the penalties
// and the Philox generator. Files that include this are compiled with -ffp-contract=off, so that
// the float operations below round the same way here as in the vectorized passes.
#pragma once

#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>

namespace softreg::detail {

/// Weights below 2^-40 of the maximum's quantize to 0; exp(x) below -30 is returned as 0.
constexpr double kWeightScale = 1099511627776.0;  // 2^40
constexpr float kWeightScaleF = 1099511627776.0f;
constexpr float kWeightFloor = -30.0f;

// exp(x) = 2^n e^r, n = round(x log2 e), r = x - n ln 2 in two steps (ln2_hi has 9 significant
// bits, so n ln2_hi is exact for |n| <= 44), e^r by a degree-7 Taylor polynomial (truncation
// below 5e-9 relative for |r| <= ln2 / 2).
constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2Hi = 0.693359375f;
constexpr float kLn2Lo = -2.12194440e-4f;
constexpr float kExpC[8] = {1.0f,           1.0f,           0.5f,           1.66666672e-1f,
                            4.16666679e-2f, 8.33333377e-3f, 1.38888892e-3f, 1.98412701e-4f};

/// The sampling weight exp(x) for x <= 0: a fixed sequence of float operations that the
/// vectorized passes repeat lane for lane. exp(0) == 1 exactly; x < -30 (and -inf) gives 0.
inline float sampling_exp(float x) {
  if (!(x >= kWeightFloor)) return 0.0f;
  const float n = std::nearbyint(x * kLog2e);
  const float r = (x - n * kLn2Hi) - n * kLn2Lo;
  float p = kExpC[7];
  for (int i = 6; i >= 0; --i) p = p * r + kExpC[i];
  const auto bits = static_cast<std::uint32_t>(static_cast<std::int32_t>(n) + 127) << 23;
  return p * std::bit_cast<float>(bits);
}

/// The fixed-point weight floor(w * 2^40) of a weight in [0, 1].
inline std::uint64_t quantize_weight(float w) {
  return static_cast<std::uint64_t>(w * kWeightScaleF);
}

/// The fixed-point weight of one token: d = (z - max) * inv_t in the logits' type T, then the
/// float weight function (float64 logits round d to float).
template <class T>
inline std::uint64_t weight_of(T z, T max, T inv_t) {
  const T d = (z - max) * inv_t;
  return quantize_weight(sampling_exp(static_cast<float>(d)));
}

/// Whether a prefix mass is still below top_p of the total: prefix < top_p * total, evaluated
/// in long double (the same rounding wherever it is asked).
inline bool below_mass(std::uint64_t prefix, double top_p, std::uint64_t total) {
  return static_cast<long double>(prefix) <
         static_cast<long double>(top_p) * static_cast<long double>(total);
}

__extension__ typedef unsigned __int128 Uint128;

/// floor(u * total) for u in [0, 1): u as a 53-bit integer times total, exactly.
inline std::uint64_t draw_point(double u, std::uint64_t total) {
  const auto u53 = static_cast<std::uint64_t>(u * 9007199254740992.0);  // u * 2^53, exact
  return static_cast<std::uint64_t>((static_cast<Uint128>(u53) * total) >> 53);
}

/// The rank order: larger z' first, then the lower id.
template <class T>
inline bool ranks_before(T za, std::size_t ia, T zb, std::size_t ib) {
  return za > zb || (za == zb && ia < ib);
}

/// z' of a token that occurs `count` > 0 times in the row's history; z is already biased.
template <class T>
inline T penalize(T z, std::uint64_t count, T repetition, T presence, T frequency) {
  if (repetition != T(1)) z = z < T(0) ? z * repetition : z / repetition;
  return z - (static_cast<T>(count) * frequency + presence);
}

/// Philox-4x32-10 (Salmon et al., SC'11) of counter c under key k.
inline void philox4x32_10(std::uint32_t c[4], std::uint32_t k0, std::uint32_t k1) {
  constexpr std::uint64_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
  constexpr std::uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k0 += kW0;
      k1 += kW1;
    }
    const std::uint64_t p0 = kM0 * c[0];
    const std::uint64_t p1 = kM1 * c[2];
    const std::uint32_t out[4] = {
        static_cast<std::uint32_t>(p1 >> 32) ^ c[1] ^ k0, static_cast<std::uint32_t>(p1),
        static_cast<std::uint32_t>(p0 >> 32) ^ c[3] ^ k1, static_cast<std::uint32_t>(p0)};
    for (int i = 0; i < 4; ++i) c[i] = out[i];
  }
}

/// The uniform of (seed, stream, step): counter (step lo, step hi, stream lo, stream hi), key
/// (seed lo, seed hi); the first two output words give 53 bits.
inline double philox_uniform(std::uint64_t seed, std::uint64_t stream, std::uint64_t step) {
  std::uint32_t c[4] = {static_cast<std::uint32_t>(step), static_cast<std::uint32_t>(step >> 32),
                        static_cast<std::uint32_t>(stream),
                        static_cast<std::uint32_t>(stream >> 32)};
  philox4x32_10(c, static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32));
  const std::uint64_t bits = ((std::uint64_t{c[0]} << 32) | c[1]) >> 11;
  return static_cast<double>(bits) * 0x1p-53;
}

}  // namespace softreg::detail

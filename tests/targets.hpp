// Runs a test body once per Highway target that is both compiled into softreg and supported by
// this CPU, with the library's run-time dispatch forced to that target.
#pragma once

#include <gtest/gtest.h>
#include <hwy/targets.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "../src/kernels/softmax_simd.hpp"

namespace simd_targets {

/// Whether the suite runs under AddressSanitizer or UndefinedBehaviorSanitizer (about ten times
/// slower): the long sweeps are thinned then.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_UNDEFINED__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

/// Restores the CPU's own target choice when it goes out of scope, so that a failing assertion
/// inside a per-target body cannot leave the rest of the suite on a forced target.
class TargetGuard {
 public:
  TargetGuard() { reset(); }
  ~TargetGuard() { reset(); }
  TargetGuard(const TargetGuard&) = delete;
  TargetGuard& operator=(const TargetGuard&) = delete;

  static void reset() {
    hwy::SetSupportedTargetsForTest(0);
    hwy::GetChosenTarget().Update(hwy::SupportedTargets());
  }
};

/// Forces HWY_DYNAMIC_DISPATCH to pick `target` (the scalar fallback stays in the mask, but
/// dispatch takes the best target present).
inline void force(std::int64_t target) {
  hwy::SetSupportedTargetsForTest(target);
  hwy::GetChosenTarget().Update(hwy::SupportedTargets());
}

/// Float lanes of one vector on `target`, or 0 for a target this table does not know.
inline std::size_t float_lanes(std::int64_t target) {
  switch (target) {
#if HWY_ARCH_X86
    case HWY_AVX3:
    case HWY_AVX3_DL:
      return 16;
    case HWY_AVX2:
      return 8;
    case HWY_SSE4:
    case HWY_SSSE3:
      return 4;
#endif
    case HWY_EMU128:
      return 4;
    case HWY_SCALAR:
      return 1;
    default:
      return 0;
  }
}

/// Whether `target` has fused multiply-add (the float exponential of the softmax kernels takes
/// its one-step argument reduction there).
inline bool has_fma(std::int64_t target) {
#if HWY_ARCH_X86
  return target == HWY_AVX2 || target == HWY_AVX3 || target == HWY_AVX3_DL;
#else
  return target != HWY_SCALAR && target != HWY_EMU128;
#endif
}

/// The targets to sweep: compiled and supported, listed with the mock switched off.
inline std::vector<std::int64_t> all() {
  TargetGuard::reset();
  return hwy::SupportedAndGeneratedTargets();
}

inline std::string name(std::int64_t target) {
  return hwy::TargetName(target);
}

/// Calls body(target) once per target, with dispatch forced to it and the target's name in
/// every failure message. Before the body runs, the block width the library reports (two
/// vectors, from a dispatched function) must match the target's vector width: this proves that
/// the forced target is the one actually called.
template <class Body>
void for_each(Body&& body) {
  const std::vector<std::int64_t> targets = all();
  ASSERT_FALSE(targets.empty());
  TargetGuard guard;
  for (const std::int64_t target : targets) {
    force(target);
    SCOPED_TRACE(testing::Message() << "target " << name(target));
    const std::size_t lanes = float_lanes(target);
    if (lanes != 0) {
      EXPECT_EQ(softreg::detail::strided_block_width_f32(), 2 * lanes)
          << "dispatch did not switch to " << name(target);
      EXPECT_EQ(softreg::detail::strided_block_width_f64(), lanes == 1 ? 2 : lanes)
          << "dispatch did not switch to " << name(target);
    }
    body(target);
  }
}

}  // namespace simd_targets

// Attention backward: the float64 reference against central finite differences of the float64
// forward; the tiled kernels (float64 to rounding, float32 within a bound built from the
// magnitudes of the terms) against the reference, in every mask mode and both backward splits.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "attention_fixtures.hpp"
#include "targets.hpp"

namespace {

using namespace attention_fixtures;

std::vector<Terms> modes() {
  std::vector<Terms> m(6);
  m[1].causal = CausalMask::top_left;
  m[2].causal = CausalMask::bottom_right;
  m[2].lengths = true;
  m[3].keep = true;
  m[3].bias = true;
  m[4].mask = true;
  m[5].causal = CausalMask::top_left;
  m[5].keep = true;
  m[5].mask = true;
  m[5].bias = true;
  m[5].lengths = true;
  m[5].scale = 0.3;
  return m;
}

/// L = sum(dout * out): its gradient is what attention_backward returns.
double loss(const Problem& pr) {
  const auto r = run<double>(pr, AttentionMethod::naive, 1, false);
  double l = 0;
  for (std::size_t i = 0; i < r.out.size(); ++i) l += pr.dout[i] * r.out[i];
  return l;
}

TEST(AttentionBackward, ReferenceMatchesFiniteDifferences) {
  unsigned seed = 1;
  for (const auto& terms : modes()) {
    for (const auto& shape : {make_shape(2, 4, 2, 3, 5, 3, 2), make_shape(1, 2, 1, 4, 4, 2)}) {
      Problem pr(shape, terms, seed++);
      SCOPED_TRACE(describe(pr.shape, terms));
      const auto r = run<double>(pr, AttentionMethod::naive, 1);
      const double h = 1e-6;
      auto check = [&](std::vector<double>& x, const std::vector<double>& grad, const char* what) {
        for (std::size_t i = 0; i < x.size(); ++i) {
          const double keep = x[i];
          x[i] = keep + h;
          const double up = loss(pr);
          x[i] = keep - h;
          const double down = loss(pr);
          x[i] = keep;
          EXPECT_NEAR(grad[i], (up - down) / (2 * h), 1e-7) << what << "[" << i << "]";
        }
      };
      check(pr.q, r.dq, "dq");
      check(pr.k, r.dk, "dk");
      check(pr.v, r.dv, "dv");
    }
  }
}

std::vector<AttentionShape> backward_shapes() {
  return {
      make_shape(1, 2, 1, 65, 130, 16),      // two passes (one pair per batch): dk/dv, then dq
      make_shape(2, 8, 4, 70, 129, 12, 20),  // one pass per pair (8 pairs)
      make_shape(1, 1, 1, 1, 300, 64),
      make_shape(3, 3, 3, 40, 7, 5, 3),
  };
}

TEST(AttentionBackward, TiledFloat64AgreesWithReferenceToRounding) {
  unsigned seed = 50;
  for (const auto& shape : backward_shapes()) {
    for (const auto& terms : modes()) {
      const Problem pr(shape, terms, seed++);
      SCOPED_TRACE(describe(pr.shape, terms));
      const auto ref = run<double>(pr, AttentionMethod::naive);
      simd_targets::for_each([&](std::int64_t) {
        const auto got = run<double>(pr, AttentionMethod::tiled);
        EXPECT_LE(max_rel(got.dq, ref.dq), 1e-11);
        EXPECT_LE(max_rel(got.dk, ref.dk), 1e-11);
        EXPECT_LE(max_rel(got.dv, ref.dv), 1e-11);
      });
    }
  }
}

/// Per element, the sum of the absolute values of the terms each gradient adds up (from the
/// float64 reference's probabilities): an error of u c per unit of it is rounding, more is not.
struct Magnitudes {
  std::vector<double> dq, dk, dv;
};

Magnitudes magnitudes(const Problem& pr, const Result<double>& ref) {
  const auto& z = pr.shape;
  const double scale = pr.terms.scale ? *pr.terms.scale : 1.0 / std::sqrt(double(z.head_dim));
  const std::size_t g = z.heads / z.kv_heads, d = z.head_dim, dv = z.value_dim;
  Magnitudes m;
  m.dq.assign(pr.q.size(), 0.0);
  m.dk.assign(pr.k.size(), 0.0);
  m.dv.assign(pr.v.size(), 0.0);
  for (std::size_t b = 0; b < z.batch; ++b) {
    const std::size_t end = pr.lengths.empty() ? z.seq_k : std::size_t(pr.lengths[b]);
    for (std::size_t h = 0; h < z.heads; ++h) {
      const std::size_t kv = b * z.kv_heads + h / g;
      for (std::size_t i = 0; i < z.seq_q; ++i) {
        const std::size_t row = (b * z.heads + h) * z.seq_q + i;
        if (std::isinf(ref.lse[row])) continue;
        std::size_t limit = end;
        if (pr.terms.causal == CausalMask::top_left) limit = std::min(end, i + 1);
        if (pr.terms.causal == CausalMask::bottom_right) {
          limit = i + 1 + end <= z.seq_q ? 0 : std::min(end, i + 1 + end - z.seq_q);
        }
        double od = 0;
        for (std::size_t c = 0; c < dv; ++c) {
          od += std::abs(pr.dout[row * dv + c] * ref.out[row * dv + c]);
        }
        for (std::size_t j = 0; j < limit; ++j) {
          const std::size_t sidx = row * z.seq_k + j;
          if (!pr.keep.empty() && pr.keep[sidx] == 0) continue;
          double s = 0;
          for (std::size_t c = 0; c < d; ++c)
            s += pr.q[row * d + c] * pr.k[(kv * z.seq_k + j) * d + c];
          s *= scale;
          if (!pr.bias.empty()) s += pr.bias[(h * z.seq_q + i) * z.seq_k + j];
          if (!pr.mask.empty()) s += pr.mask[sidx];
          const double p = std::exp(s - ref.lse[row]);
          double a = od;
          for (std::size_t c = 0; c < dv; ++c) {
            a += std::abs(pr.dout[row * dv + c] * pr.v[(kv * z.seq_k + j) * dv + c]);
          }
          for (std::size_t c = 0; c < d; ++c) {
            m.dq[row * d + c] +=
                std::abs(scale) * p * a * std::abs(pr.k[(kv * z.seq_k + j) * d + c]);
            m.dk[(kv * z.seq_k + j) * d + c] +=
                std::abs(scale) * p * a * std::abs(pr.q[row * d + c]);
          }
          for (std::size_t c = 0; c < dv; ++c) {
            m.dv[(kv * z.seq_k + j) * dv + c] += p * std::abs(pr.dout[row * dv + c]);
          }
        }
      }
    }
  }
  return m;
}

TEST(AttentionBackward, TiledFloat32WithinMagnitudeBoundOfReference) {
  unsigned seed = 900;
  for (const auto& shape : backward_shapes()) {
    for (const auto& terms : modes()) {
      const Problem pr(shape, terms, seed++, 2.0);
      SCOPED_TRACE(describe(pr.shape, terms));
      const auto ref = run<double>(pr, AttentionMethod::naive);
      const Magnitudes mag = magnitudes(pr, ref);
      const Bounds bd = bounds(pr);
      double c = 0;
      for (std::size_t row = 0; row < bd.sigma.size(); ++row) {
        const double l = std::isinf(ref.lse[row]) ? 0.0 : std::abs(ref.lse[row]);
        c = std::max(c, 4 * double(shape.head_dim) * bd.sigma[row] + 4 * bd.keys[row] + 4 * l);
      }
      c += 4.0 * double(pr.shape.head_dim + pr.shape.value_dim) +
           2.0 * double(pr.shape.seq_q * (shape.heads / shape.kv_heads)) + 64.0;
      auto expect = [&](const std::vector<float>& x, const std::vector<double>& r,
                        const std::vector<double>& mg, const char* what) {
        int reported = 0;
        for (std::size_t i = 0; i < x.size(); ++i) {
          const double tol = kU32 * c * mg[i] + 1e-30;
          if (!(std::abs(double(x[i]) - r[i]) <= tol) && reported++ < 5) {
            ADD_FAILURE() << what << "[" << i << "] " << x[i] << " vs " << r[i] << " bound " << tol;
          }
        }
      };
      simd_targets::for_each([&](std::int64_t) {
        const auto got = run<float>(pr, AttentionMethod::tiled);
        expect(got.dq, ref.dq, mag.dq, "dq");
        expect(got.dk, ref.dk, mag.dk, "dk");
        expect(got.dv, ref.dv, mag.dv, "dv");
      });
    }
  }
}

}  // namespace

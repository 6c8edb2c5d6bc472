// Shared by the attention tests: a random problem (dense q, k, v, dout and optional masks), its
// forward and backward through either implementation, and the error bounds of
// include/softreg/attention.hpp evaluated from the inputs.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "softreg/attention.hpp"

namespace attention_fixtures {

using softreg::AttentionMethod;
using softreg::AttentionShape;
using softreg::CausalMask;

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kU32 = 1.0 / 16777216.0;  // 2^-24

inline AttentionShape make_shape(std::size_t b, std::size_t h, std::size_t hkv, std::size_t sq,
                                 std::size_t sk, std::size_t d, std::size_t dv = 0) {
  AttentionShape s;
  s.batch = b;
  s.heads = h;
  s.kv_heads = hkv;
  s.seq_q = sq;
  s.seq_k = sk;
  s.head_dim = d;
  s.value_dim = dv;
  return s;
}

/// Which optional terms a problem carries.
struct Terms {
  CausalMask causal = CausalMask::none;
  bool keep = false;     // a random boolean mask (about 1 in 5 excluded)
  bool mask = false;     // an additive mask with some -inf
  bool bias = false;     // an additive bias broadcast over the batch
  bool lengths = false;  // random key lengths per batch entry
  std::optional<double> scale;
};

inline std::string describe(const AttentionShape& s, const Terms& t) {
  return "B=" + std::to_string(s.batch) + " H=" + std::to_string(s.heads) +
         " Hkv=" + std::to_string(s.kv_heads) + " Sq=" + std::to_string(s.seq_q) +
         " Sk=" + std::to_string(s.seq_k) + " d=" + std::to_string(s.head_dim) +
         " dv=" + std::to_string(s.value_dim) + " causal=" + std::to_string(int(t.causal)) +
         " keep=" + std::to_string(t.keep) + " mask=" + std::to_string(t.mask) +
         " bias=" + std::to_string(t.bias) + " lengths=" + std::to_string(t.lengths);
}

/// Inputs in float64 (the oracle's) and the same values rounded to float32.
struct Problem {
  AttentionShape shape;
  Terms terms;
  std::vector<double> q, k, v, dout, mask, bias;
  std::vector<std::uint8_t> keep;
  std::vector<std::int64_t> lengths;

  Problem(AttentionShape s, Terms t, unsigned seed, double spread = 1.0) : shape(s), terms(t) {
    if (shape.value_dim == 0) shape.value_dim = shape.head_dim;
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(-spread, spread);
    auto fill = [&](std::vector<double>& x, std::size_t n) {
      x.resize(n);
      for (auto& e : x) e = double(float(u(rng)));
    };
    const auto& z = shape;
    fill(q, z.batch * z.heads * z.seq_q * z.head_dim);
    fill(k, z.batch * z.kv_heads * z.seq_k * z.head_dim);
    fill(v, z.batch * z.kv_heads * z.seq_k * z.value_dim);
    fill(dout, z.batch * z.heads * z.seq_q * z.value_dim);
    const std::size_t scores = z.batch * z.heads * z.seq_q * z.seq_k;
    std::uniform_int_distribution<int> five(0, 4);
    if (t.keep) {
      keep.resize(scores);
      for (auto& e : keep) e = five(rng) != 0;
    }
    if (t.mask) {
      fill(mask, scores);
      for (auto& e : mask) {
        if (five(rng) == 0) e = -kInf;
      }
    }
    if (t.bias) fill(bias, z.heads * z.seq_q * z.seq_k);  // one per head, broadcast over batch
    if (t.lengths) {
      std::uniform_int_distribution<std::int64_t> len(0, std::int64_t(z.seq_k));
      for (std::size_t b = 0; b < z.batch; ++b) lengths.push_back(len(rng));
      if (z.batch > 0) lengths[0] = std::int64_t(z.seq_k);
    }
  }

  template <class T>
  softreg::AttentionMasks<T> masks(const std::vector<T>& mask_t,
                                   const std::vector<T>& bias_t) const {
    softreg::AttentionMasks<T> m;
    const auto& z = shape;
    if (!keep.empty())
      m.keep = softreg::dense_view<const std::uint8_t>(keep.data(), z.heads, z.seq_q, z.seq_k);
    if (!mask_t.empty())
      m.mask = softreg::dense_view<const T>(mask_t.data(), z.heads, z.seq_q, z.seq_k);
    if (!bias_t.empty()) {
      m.bias = softreg::dense_view<const T>(bias_t.data(), z.heads, z.seq_q, z.seq_k);
      m.bias.batch_stride = 0;
    }
    m.key_lengths = lengths;
    return m;
  }

  softreg::AttentionOptions options(AttentionMethod method, int threads = 0) const {
    softreg::AttentionOptions o;
    o.causal = terms.causal;
    o.scale = terms.scale;
    o.method = method;
    o.threads = threads;
    return o;
  }
};

template <class T>
std::vector<T> cast(const std::vector<double>& x) {
  return std::vector<T>(x.begin(), x.end());
}

/// One forward and backward through one implementation, in T.
template <class T>
struct Result {
  std::vector<T> out, lse, dq, dk, dv;
};

template <class T>
Result<T> run(const Problem& pr, AttentionMethod method, int threads = 0, bool backward = true) {
  const auto& z = pr.shape;
  const auto q = cast<T>(pr.q), k = cast<T>(pr.k), v = cast<T>(pr.v), dout = cast<T>(pr.dout);
  const auto mask = cast<T>(pr.mask), bias = cast<T>(pr.bias);
  const auto masks = pr.masks<T>(mask, bias);
  const auto options = pr.options(method, threads);
  Result<T> r;
  r.out.assign(z.batch * z.heads * z.seq_q * z.value_dim, T(-7));
  r.lse.assign(z.batch * z.heads * z.seq_q, T(-7));
  softreg::AttentionForward<T> f;
  f.q = softreg::dense_view<const T>(q.data(), z.heads, z.seq_q, z.head_dim);
  f.k = softreg::dense_view<const T>(k.data(), z.kv_heads, z.seq_k, z.head_dim);
  f.v = softreg::dense_view<const T>(v.data(), z.kv_heads, z.seq_k, z.value_dim);
  f.out = softreg::dense_view<T>(r.out.data(), z.heads, z.seq_q, z.value_dim);
  f.lse = r.lse.data();
  softreg::attention(z, f, masks, options);
  if (!backward) return r;
  r.dq.assign(q.size(), T(-7));
  r.dk.assign(k.size(), T(-7));
  r.dv.assign(v.size(), T(-7));
  softreg::AttentionBackward<T> g;
  g.q = f.q;
  g.k = f.k;
  g.v = f.v;
  g.out = softreg::dense_view<const T>(r.out.data(), z.heads, z.seq_q, z.value_dim);
  g.dout = softreg::dense_view<const T>(dout.data(), z.heads, z.seq_q, z.value_dim);
  g.lse = r.lse.data();
  g.dq = softreg::dense_view<T>(r.dq.data(), z.heads, z.seq_q, z.head_dim);
  g.dk = softreg::dense_view<T>(r.dk.data(), z.kv_heads, z.seq_k, z.head_dim);
  g.dv = softreg::dense_view<T>(r.dv.data(), z.kv_heads, z.seq_k, z.value_dim);
  softreg::attention_backward(z, g, masks, options);
  return r;
}

/// What the error bounds are made of, per query row: the keys it sees, sigma_i (header), and
/// the largest |v| per value column; computed from the definition independently of the library.
struct Bounds {
  std::vector<double> sigma, keys;
  std::vector<double> vmax;  // (batch, kv_heads, dv)
};

inline Bounds bounds(const Problem& pr) {
  const auto& z = pr.shape;
  const double scale = pr.terms.scale ? *pr.terms.scale : 1.0 / std::sqrt(double(z.head_dim));
  const std::size_t g = z.heads / z.kv_heads;
  Bounds bd;
  bd.sigma.assign(z.batch * z.heads * z.seq_q, 0.0);
  bd.keys.assign(z.batch * z.heads * z.seq_q, 0.0);
  bd.vmax.assign(z.batch * z.kv_heads * z.value_dim, 0.0);
  for (std::size_t b = 0; b < z.batch; ++b) {
    const std::size_t end = pr.lengths.empty() ? z.seq_k : std::size_t(pr.lengths[b]);
    for (std::size_t h = 0; h < z.heads; ++h) {
      const std::size_t kvh = h / g;
      for (std::size_t i = 0; i < z.seq_q; ++i) {
        const std::size_t row = (b * z.heads + h) * z.seq_q + i;
        double sig = 0, extra = 0;
        for (std::size_t j = 0; j < end; ++j) {
          const std::size_t sidx = row * z.seq_k + j;
          double a = 0;
          for (std::size_t c = 0; c < z.head_dim; ++c) {
            a += std::abs(pr.q[row * z.head_dim + c] *
                          pr.k[((b * z.kv_heads + kvh) * z.seq_k + j) * z.head_dim + c]);
          }
          sig = std::max(sig, std::abs(scale) * a);
          double add = 0;
          if (!pr.bias.empty()) add += pr.bias[(h * z.seq_q + i) * z.seq_k + j];
          if (!pr.mask.empty() && std::isfinite(pr.mask[sidx])) add += pr.mask[sidx];
          extra = std::max(extra, std::abs(add));
        }
        bd.sigma[row] = sig + extra;
        bd.keys[row] = double(end);
      }
    }
    for (std::size_t kvh = 0; kvh < z.kv_heads; ++kvh) {
      for (std::size_t j = 0; j < end; ++j) {
        for (std::size_t c = 0; c < z.value_dim; ++c) {
          double& m = bd.vmax[(b * z.kv_heads + kvh) * z.value_dim + c];
          m = std::max(m, std::abs(pr.v[((b * z.kv_heads + kvh) * z.seq_k + j) * z.value_dim + c]));
        }
      }
    }
  }
  return bd;
}

/// Checks a float32 forward against the float64 oracle with the header's bound.
inline void expect_forward_within_bound(const Problem& pr, const Result<float>& got,
                                        const Result<double>& ref) {
  const auto& z = pr.shape;
  const Bounds bd = bounds(pr);
  const std::size_t g = z.heads / z.kv_heads;
  int reported = 0;
  for (std::size_t b = 0; b < z.batch; ++b) {
    for (std::size_t h = 0; h < z.heads; ++h) {
      for (std::size_t i = 0; i < z.seq_q; ++i) {
        const std::size_t row = (b * z.heads + h) * z.seq_q + i;
        const double base = 2.0 * double(z.head_dim) * bd.sigma[row] + 2.0 * bd.keys[row] + 16.0;
        const double rl = ref.lse[row];
        if (std::isinf(rl)) {
          EXPECT_EQ(double(got.lse[row]), rl) << "row " << row;
        } else {
          EXPECT_LE(std::abs(got.lse[row] - rl), kU32 * (base + std::abs(rl))) << "lse row " << row;
        }
        for (std::size_t c = 0; c < z.value_dim; ++c) {
          const double r = ref.out[row * z.value_dim + c];
          const double o = got.out[row * z.value_dim + c];
          const double tol = kU32 * base * bd.vmax[(b * z.kv_heads + h / g) * z.value_dim + c];
          if (!(std::abs(o - r) <= tol) && reported++ < 5) {
            ADD_FAILURE() << "out row " << row << " col " << c << ": " << o << " vs " << r
                          << " (bound " << tol << ")";
          }
        }
      }
    }
  }
}

/// max |a - b| / (max |b| + tiny) over two arrays of equal length, NaN if either has a NaN
/// where the other has not.
template <class A, class B>
double max_rel(const std::vector<A>& a, const std::vector<B>& b) {
  double err = 0, mag = 1e-300;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(double(a[i])) != std::isnan(double(b[i]))) return std::nan("");
    if (std::isnan(double(b[i]))) continue;
    err = std::max(err, std::abs(double(a[i]) - double(b[i])));
    mag = std::max(mag, std::abs(double(b[i])));
  }
  return err / mag;
}

}  // namespace attention_fixtures

// The attention reference: the definition of include/softreg/attention.hpp evaluated directly,
// one row at a time in float64. (Batch, key/value head) pairs are dealt to threads; each pair
// owns its outputs, so the result does not depend on the thread count.
#include "kernels/attention_reference.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

#include "common/thread_pool.hpp"

namespace softreg::detail {
namespace {

/// The softmax of one row in float64: the keys it sees (keys[0 .. n)), their probabilities,
/// and its logsumexp. A NaN score makes the row NaN; a row that sees no key, or only -inf
/// scores, has no keys and lse = -inf.
struct RowSoftmax {
  std::vector<std::size_t> keys;
  std::vector<double> prob;
  double lse = 0;
  bool nan = false;
};

template <class T>
void row_softmax(const AttentionProblem<T>& p, const AttentionView<const T>& q,
                 const AttentionView<const T>& k, std::size_t b, std::size_t kvh, std::size_t rho,
                 RowSoftmax& out) {
  const AttentionRow<T> row = attention_row(p, b, kvh, rho);
  const std::size_t dd = p.shape.head_dim;
  const T* qi = view_row(q, b, row.head, row.i);
  out.keys.clear();
  out.prob.clear();
  out.nan = false;
  double big = -std::numeric_limits<double>::infinity();
  for (std::size_t j = 0; j < row.limit; ++j) {
    if (row.keep != nullptr && row.keep[j] == 0) continue;
    const T* kj = view_row(k, b, kvh, j);
    double dot = 0;
    for (std::size_t c = 0; c < dd; ++c) dot += double(qi[c]) * double(kj[c]);
    double s = double(p.scale) * dot;
    if (row.bias != nullptr) s += double(row.bias[j]);
    if (row.mask != nullptr) s += double(row.mask[j]);
    if (std::isnan(s)) out.nan = true;
    big = std::max(big, s);
    out.keys.push_back(j);
    out.prob.push_back(s);
  }
  if (out.nan || big == std::numeric_limits<double>::infinity()) {
    out.nan = true;
    out.lse = std::numeric_limits<double>::quiet_NaN();
    return;
  }
  if (big == -std::numeric_limits<double>::infinity()) {
    out.keys.clear();
    out.prob.clear();
    out.lse = big;
    return;
  }
  double sum = 0;
  for (double& s : out.prob) {
    s = std::exp(s - big);
    sum += s;
  }
  for (double& s : out.prob) s /= sum;
  out.lse = big + std::log(sum);
}

template <class T>
void forward(const AttentionProblem<T>& p, const AttentionForward<T>& a, int threads) {
  const auto& s = p.shape;
  const std::size_t pairs = s.batch * s.kv_heads, rows = p.rows_per_kv_head();
  const std::size_t dv = s.value_dim;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  parallel_for(threads, pairs, 1, [&](std::size_t t0, std::size_t t1) {
    RowSoftmax sm;
    std::vector<double> acc(dv);
    for (std::size_t pair = t0; pair < t1; ++pair) {
      const std::size_t b = pair / s.kv_heads, kvh = pair % s.kv_heads;
      for (std::size_t rho = 0; rho < rows; ++rho) {
        row_softmax(p, a.q, a.k, b, kvh, rho, sm);
        std::fill(acc.begin(), acc.end(), sm.nan ? nan : 0.0);
        for (std::size_t t = 0; t < sm.keys.size() && !sm.nan; ++t) {
          const T* vj = view_row(a.v, b, kvh, sm.keys[t]);
          for (std::size_t c = 0; c < dv; ++c) acc[c] += sm.prob[t] * double(vj[c]);
        }
        const AttentionRow<T> row = attention_row(p, b, kvh, rho);
        T* out = view_row(a.out, b, row.head, row.i);
        for (std::size_t c = 0; c < dv; ++c) out[c] = static_cast<T>(acc[c]);
        if (a.lse != nullptr) {
          a.lse[lse_index(p, b, row)] = static_cast<T>(sm.lse);
        }
      }
    }
  });
}

template <class T>
void backward(const AttentionProblem<T>& p, const AttentionBackward<T>& a, int threads) {
  const auto& s = p.shape;
  const std::size_t pairs = s.batch * s.kv_heads, rows = p.rows_per_kv_head();
  const std::size_t dd = s.head_dim, dv = s.value_dim;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  parallel_for(threads, pairs, 1, [&](std::size_t t0, std::size_t t1) {
    RowSoftmax sm;
    std::vector<double> dk, dvv, dq(dd), ds;
    for (std::size_t pair = t0; pair < t1; ++pair) {
      const std::size_t b = pair / s.kv_heads, kvh = pair % s.kv_heads;
      dk.assign(s.seq_k * dd, 0.0);
      dvv.assign(s.seq_k * dv, 0.0);
      for (std::size_t rho = 0; rho < rows; ++rho) {
        row_softmax(p, a.q, a.k, b, kvh, rho, sm);
        const AttentionRow<T> row = attention_row(p, b, kvh, rho);
        const T* qi = view_row(a.q, b, row.head, row.i);
        const T* go = view_row(a.dout, b, row.head, row.i);
        std::fill(dq.begin(), dq.end(), 0.0);
        if (sm.nan) {
          // Every key the row sees gets a NaN gradient, as the product rule gives.
          std::fill(dq.begin(), dq.end(), nan);
          for (std::size_t j = 0; j < sm.keys.size(); ++j) {
            std::fill_n(dk.begin() + sm.keys[j] * dd, dd, nan);
            std::fill_n(dvv.begin() + sm.keys[j] * dv, dv, nan);
          }
        }
        const std::size_t n = sm.nan ? 0 : sm.keys.size();
        ds.assign(n, 0.0);
        double delta = 0;
        for (std::size_t t = 0; t < n; ++t) {
          const T* vj = view_row(a.v, b, kvh, sm.keys[t]);
          double dp = 0;
          for (std::size_t c = 0; c < dv; ++c) dp += double(go[c]) * double(vj[c]);
          ds[t] = dp;
          delta += sm.prob[t] * dp;
        }
        for (std::size_t t = 0; t < n; ++t) {
          const std::size_t j = sm.keys[t];
          const double g = sm.prob[t] * (ds[t] - delta) * double(p.scale);
          const T* kj = view_row(a.k, b, kvh, j);
          for (std::size_t c = 0; c < dd; ++c) {
            dq[c] += g * double(kj[c]);
            dk[j * dd + c] += g * double(qi[c]);
          }
          for (std::size_t c = 0; c < dv; ++c) dvv[j * dv + c] += sm.prob[t] * double(go[c]);
        }
        T* dqi = view_row(a.dq, b, row.head, row.i);
        for (std::size_t c = 0; c < dd; ++c) dqi[c] = static_cast<T>(dq[c]);
      }
      for (std::size_t j = 0; j < s.seq_k; ++j) {
        T* dkj = view_row(a.dk, b, kvh, j);
        T* dvj = view_row(a.dv, b, kvh, j);
        for (std::size_t c = 0; c < dd; ++c) dkj[c] = static_cast<T>(dk[j * dd + c]);
        for (std::size_t c = 0; c < dv; ++c) dvj[c] = static_cast<T>(dvv[j * dv + c]);
      }
    }
  });
}

}  // namespace

void attention_naive(const AttentionProblem<float>& p, const AttentionForward<float>& a,
                     int threads) {
  forward(p, a, threads);
}
void attention_naive(const AttentionProblem<double>& p, const AttentionForward<double>& a,
                     int threads) {
  forward(p, a, threads);
}
void attention_backward_naive(const AttentionProblem<float>& p, const AttentionBackward<float>& a,
                              int threads) {
  backward(p, a, threads);
}
void attention_backward_naive(const AttentionProblem<double>& p, const AttentionBackward<double>& a,
                              int threads) {
  backward(p, a, threads);
}

}  // namespace softreg::detail

// Highway implementations of the tiled attention passes (attention_simd.hpp), compiled once per
// SIMD target. Scores are held transposed, one key per row and one query row per column
// (S^T = K Qs^T with Qs = scale q), so the per-row maximum, sum and rescaling are vector
// operations across query rows and no key block is ever transposed; every product is Gemm's
// register tile (gemm-inl.h).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/attention_simd.cpp"
#include "kernels/attention_simd.hpp"

#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "kernels/gemm-inl.h"
#include "kernels/row_simd-inl.h"
#include "kernels/simd_math-inl.h"

HWY_BEFORE_NAMESPACE();
namespace softreg::detail::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

/// The rows of one block: what each sees, and the limits as integer lanes for the causal and
/// key-length exclusion (padding rows see nothing).
template <class D>
struct BlockRows {
  using T = hn::TFromD<D>;
  using TI = hn::TFromD<hn::RebindToSigned<D>>;
  std::size_t nr = 0, padded = 0;
  std::size_t min_limit = 0, max_limit = 0;
  AttentionRow<T> row[kAttentionRowBlock];
  HWY_ALIGN TI limit[kAttentionRowBlock];
  bool keep = false, additive = false;

  BlockRows(const AttentionProblem<T>& p, std::size_t b, std::size_t kvh, std::size_t r0,
            std::size_t r1)
      : nr(r1 - r0), padded(attention_padded(r1 - r0)) {
    min_limit = p.shape.seq_k;
    for (std::size_t r = 0; r < padded; ++r) limit[r] = 0;
    for (std::size_t r = 0; r < nr; ++r) {
      row[r] = attention_row(p, b, kvh, r0 + r);
      limit[r] = static_cast<TI>(row[r].limit);
      min_limit = std::min(min_limit, row[r].limit);
      max_limit = std::max(max_limit, row[r].limit);
    }
    if (padded > nr) min_limit = 0;
    keep = p.masks.keep.data != nullptr;
    additive = p.has_additive();
  }
};

/// Scores st (kn x padded, keys [kb, kb + kn)) get their additive terms, then -inf where a
/// key is excluded (boolean mask, causal limit, key length).
template <class D>
void ApplyMasks(D d, const BlockRows<D>& rows, std::size_t kb, std::size_t kn, hn::TFromD<D>* st) {
  using T = hn::TFromD<D>;
  const std::size_t ld = rows.padded;
  const T ninf = -std::numeric_limits<T>::infinity();
  if (rows.additive) {
    for (std::size_t r = 0; r < rows.nr; ++r) {
      const T* bias = rows.row[r].bias;
      const T* mask = rows.row[r].mask;
      for (std::size_t j = 0; j < kn; ++j) {
        T s = st[j * ld + r];
        if (bias) s += bias[kb + j];
        if (mask) s += mask[kb + j];
        st[j * ld + r] = s;
      }
    }
  }
  if (rows.keep) {
    for (std::size_t r = 0; r < rows.nr; ++r) {
      const std::uint8_t* keep = rows.row[r].keep;
      for (std::size_t j = 0; j < kn; ++j) {
        if (keep[kb + j] == 0) st[j * ld + r] = ninf;
      }
    }
  }
  if (kb + kn > rows.min_limit) {
    const hn::RebindToSigned<D> di;
    using TI = hn::TFromD<decltype(di)>;
    const std::size_t N = hn::Lanes(d);
    const auto vninf = hn::Set(d, ninf);
    for (std::size_t c = 0; c < ld; c += N) {
      const auto lim = hn::Load(di, rows.limit + c);
      for (std::size_t j = 0; j < kn; ++j) {
        const auto seen = hn::RebindMask(d, hn::Gt(lim, hn::Set(di, static_cast<TI>(kb + j))));
        T* sp = st + j * ld + c;
        hn::StoreU(hn::IfThenElse(seen, hn::LoadU(d, sp), vninf), d, sp);
      }
    }
  }
}

/// The online softmax step of a forward block: for each row (column of st) the new maximum m,
/// the sum l = l alpha + sum_j exp(s_j - m), alpha = exp(m_old - m) per row, and st replaced
/// by exp(s - m). A row still without a finite maximum uses 0 as its offset (its weights are
/// exp(-inf) = 0).
template <class D>
void OnlineStep(D d, std::size_t kn, std::size_t ld, hn::TFromD<D>* st, hn::TFromD<D>* m,
                hn::TFromD<D>* l, hn::TFromD<D>* alpha) {
  using T = hn::TFromD<D>;
  const std::size_t N = hn::Lanes(d);
  const auto ninf = hn::Set(d, -std::numeric_limits<T>::infinity());
  for (std::size_t c = 0; c < ld; c += N) {
    auto mx = ninf;
    for (std::size_t j = 0; j < kn; ++j) mx = hn::Max(mx, hn::LoadU(d, st + j * ld + c));
    const auto m_old = hn::LoadU(d, m + c);
    const auto m_new = hn::Max(m_old, mx);
    const auto m_use = hn::IfThenZeroElse(hn::Eq(m_new, ninf), m_new);
    const auto a = ExpNonPositive(d, hn::Sub(m_old, m_use));
    auto sum = hn::Zero(d);
    for (std::size_t j = 0; j < kn; ++j) {
      T* sp = st + j * ld + c;
      const auto e = ExpNonPositive(d, hn::Sub(hn::LoadU(d, sp), m_use));
      hn::StoreU(e, d, sp);
      sum = hn::Add(sum, e);
    }
    hn::StoreU(m_new, d, m + c);
    hn::StoreU(hn::MulAdd(hn::LoadU(d, l + c), a, sum), d, l + c);
    hn::StoreU(a, d, alpha + c);
  }
}

/// st[j ld + r] = sum_c k_j[c] qs[r][c] for few rows (decoding): four keys at a time, each a
/// vector sum over the head dimension reduced at the end. qs rows are dpad long, zero-padded.
template <class D>
void DotScores(D d, const hn::TFromD<D>* k, std::ptrdiff_t krs, std::size_t kn,
               const hn::TFromD<D>* qs, std::size_t dpad, std::size_t nr, std::size_t dd,
               hn::TFromD<D>* st, std::size_t ld) {
  using T = hn::TFromD<D>;
  const std::size_t N = hn::Lanes(d);
  const std::size_t full = dd / N * N;
  auto key = [&](std::size_t j) { return k + static_cast<std::ptrdiff_t>(j) * krs; };
  std::size_t j = 0;
  for (; j + 4 <= kn; j += 4) {
    const T* k0 = key(j);
    const T* k1 = key(j + 1);
    const T* k2 = key(j + 2);
    const T* k3 = key(j + 3);
    for (std::size_t r = 0; r < nr; ++r) {
      const T* q = qs + r * dpad;
      auto a0 = hn::Zero(d), a1 = a0, a2 = a0, a3 = a0;
      std::size_t c = 0;
      for (; c < full; c += N) {
        const auto qv = hn::Load(d, q + c);
        a0 = hn::MulAdd(hn::LoadU(d, k0 + c), qv, a0);
        a1 = hn::MulAdd(hn::LoadU(d, k1 + c), qv, a1);
        a2 = hn::MulAdd(hn::LoadU(d, k2 + c), qv, a2);
        a3 = hn::MulAdd(hn::LoadU(d, k3 + c), qv, a3);
      }
      if (c < dd) {
        const auto qv = hn::Load(d, q + c);
        a0 = hn::MulAdd(LoadTail(d, k0 + c, dd - c, T(0)), qv, a0);
        a1 = hn::MulAdd(LoadTail(d, k1 + c, dd - c, T(0)), qv, a1);
        a2 = hn::MulAdd(LoadTail(d, k2 + c, dd - c, T(0)), qv, a2);
        a3 = hn::MulAdd(LoadTail(d, k3 + c, dd - c, T(0)), qv, a3);
      }
      st[j * ld + r] = hn::GetLane(hn::SumOfLanes(d, a0));
      st[(j + 1) * ld + r] = hn::GetLane(hn::SumOfLanes(d, a1));
      st[(j + 2) * ld + r] = hn::GetLane(hn::SumOfLanes(d, a2));
      st[(j + 3) * ld + r] = hn::GetLane(hn::SumOfLanes(d, a3));
    }
  }
  for (; j < kn; ++j) {
    const T* kj = key(j);
    for (std::size_t r = 0; r < nr; ++r) {
      const T* q = qs + r * dpad;
      auto a0 = hn::Zero(d);
      std::size_t c = 0;
      for (; c < full; c += N) a0 = hn::MulAdd(hn::LoadU(d, kj + c), hn::Load(d, q + c), a0);
      if (c < dd) a0 = hn::MulAdd(LoadTail(d, kj + c, dd - c, T(0)), hn::Load(d, q + c), a0);
      st[j * ld + r] = hn::GetLane(hn::SumOfLanes(d, a0));
    }
  }
}

/// Carves a thread's scratch vector into consecutive arrays, each starting on a 64-byte line.
template <class T>
class Carve {
 public:
  explicit Carve(std::vector<T>& buf) : buf_(buf) {}
  void add(std::size_t n) { sizes_.push_back((n + kLine - 1) / kLine * kLine); }
  /// Grows the buffer to hold every array added; returns its start, aligned.
  T* done() {
    std::size_t total = kLine;
    for (std::size_t s : sizes_) total += s;
    if (buf_.size() < total) buf_.resize(total);
    const auto addr = reinterpret_cast<std::uintptr_t>(buf_.data());
    const std::size_t skip = (64 - addr % 64) % 64 / sizeof(T);
    next_ = buf_.data() + skip;
    return next_;
  }
  T* take(std::size_t n) {
    T* p = next_;
    next_ += (n + kLine - 1) / kLine * kLine;
    return p;
  }

 private:
  static constexpr std::size_t kLine = 64 / sizeof(T);
  std::vector<T>& buf_;
  std::vector<std::size_t> sizes_;
  T* next_ = nullptr;
};

template <class D>
void ForwardBlock(D d, const AttentionProblem<hn::TFromD<D>>& p,
                  const AttentionForward<hn::TFromD<D>>& a,
                  const AttentionBlock<hn::TFromD<D>>& blk, std::vector<hn::TFromD<D>>& scratch) {
  using T = hn::TFromD<D>;
  const std::size_t N = hn::Lanes(d);
  const std::size_t dd = p.shape.head_dim, dv = p.shape.value_dim;
  const BlockRows<D> rows(p, blk.b, blk.kvh, blk.r0, blk.r1);
  const std::size_t nr = rows.nr, ld = rows.padded;
  const bool dot = nr <= kAttentionDotRows;
  const std::size_t dpad = (dd + N - 1) / N * N;

  Carve<T> carve(scratch);
  carve.add(dot ? nr * dpad : dd * ld);       // qs (rows) or qs^T
  carve.add(kAttentionKeyBlock * ld);         // st
  carve.add(nr * dv);                         // o
  for (int i = 0; i < 3; ++i) carve.add(ld);  // m, l, alpha
  carve.done();
  T* qs = carve.take(dot ? nr * dpad : dd * ld);
  T* st = carve.take(kAttentionKeyBlock * ld);
  T* o = carve.take(nr * dv);
  T* m = carve.take(ld);
  T* l = carve.take(ld);
  T* alpha = carve.take(ld);

  const T scale = p.scale;
  if (dot) {
    std::fill(qs, qs + nr * dpad, T(0));
    for (std::size_t r = 0; r < nr; ++r) {
      const T* q = view_row(a.q, blk.b, rows.row[r].head, rows.row[r].i);
      for (std::size_t c = 0; c < dd; ++c) qs[r * dpad + c] = scale * q[c];
    }
  } else {
    std::fill(qs, qs + dd * ld, T(0));
    for (std::size_t r = 0; r < nr; ++r) {
      const T* q = view_row(a.q, blk.b, rows.row[r].head, rows.row[r].i);
      for (std::size_t c = 0; c < dd; ++c) qs[c * ld + r] = scale * q[c];
    }
  }
  std::fill(m, m + ld, -std::numeric_limits<T>::infinity());
  std::fill(l, l + ld, T(0));
  std::fill(o, o + nr * dv, T(0));

  const std::size_t k_end = std::min(blk.k1, rows.max_limit);
  const T* kbase = view_row(a.k, blk.b, blk.kvh, 0);
  const T* vbase = view_row(a.v, blk.b, blk.kvh, 0);
  const auto krs = a.k.row_stride, vrs = a.v.row_stride;
  for (std::size_t kb = blk.k0; kb < k_end; kb += kAttentionKeyBlock) {
    const std::size_t kn = std::min(kAttentionKeyBlock, k_end - kb);
    const T* kblk = kbase + static_cast<std::ptrdiff_t>(kb) * krs;
    if (dot) {
      DotScores(d, kblk, krs, kn, qs, dpad, nr, dd, st, ld);
    } else {
      Gemm(d, kn, ld, dd, kblk, std::size_t(krs), 1, qs, ld, st, ld, false);
    }
    ApplyMasks(d, rows, kb, kn, st);
    OnlineStep(d, kn, ld, st, m, l, alpha);
    for (std::size_t r = 0; r < nr; ++r) {
      if (alpha[r] == T(1)) continue;
      const auto av = hn::Set(d, alpha[r]);
      T* orow = o + r * dv;
      std::size_t c = 0;
      for (; c + N <= dv; c += N) hn::StoreU(hn::Mul(hn::LoadU(d, orow + c), av), d, orow + c);
      for (; c < dv; ++c) orow[c] *= alpha[r];
    }
    const T* vblk = vbase + static_cast<std::ptrdiff_t>(kb) * vrs;
    Gemm(d, nr, dv, kn, st, 1, ld, vblk, std::size_t(vrs), o, dv, true);
  }

  if (blk.part_m != nullptr) {
    std::copy(m, m + nr, blk.part_m);
    std::copy(l, l + nr, blk.part_l);
    std::copy(o, o + nr * dv, blk.part_o);
    return;
  }
  for (std::size_t r = 0; r < nr; ++r) finish_row(p, a, blk.b, rows.row[r], o + r * dv, m[r], l[r]);
}

/// The backward tile of keys [kb, kb + kn) and one staged row block: pt = exp(s - lse) and
/// dst = pt (dpt - delta), dpt = V dout^T, both kn x padded.
template <class D>
void TileGradients(D d, const AttentionProblem<hn::TFromD<D>>& p, const BlockRows<D>& rows,
                   const AttentionStaged<const hn::TFromD<D>>& sb, const hn::TFromD<D>* kblk,
                   std::ptrdiff_t krs, const hn::TFromD<D>* vblk, std::ptrdiff_t vrs,
                   std::size_t kb, std::size_t kn, hn::TFromD<D>* pt, hn::TFromD<D>* dst) {
  using T = hn::TFromD<D>;
  const std::size_t N = hn::Lanes(d);
  const std::size_t dd = p.shape.head_dim, dv = p.shape.value_dim, ld = rows.padded;
  Gemm(d, kn, ld, dd, kblk, std::size_t(krs), 1, sb.qs_t, ld, pt, ld, false);
  ApplyMasks(d, rows, kb, kn, pt);
  Gemm(d, kn, ld, dv, vblk, std::size_t(vrs), 1, sb.dout_t, ld, dst, ld, false);
  for (std::size_t c = 0; c < ld; c += N) {
    const auto lse = hn::LoadU(d, sb.lse + c);
    const auto delta = hn::LoadU(d, sb.delta + c);
    for (std::size_t j = 0; j < kn; ++j) {
      T* pp = pt + j * ld + c;
      T* dp = dst + j * ld + c;
      const auto pr = Exp(d, hn::Sub(hn::LoadU(d, pp), lse));
      hn::StoreU(pr, d, pp);
      hn::StoreU(hn::Mul(pr, hn::Sub(hn::LoadU(d, dp), delta)), d, dp);
    }
  }
}

template <class D>
void BackwardKeys(D d, const AttentionProblem<hn::TFromD<D>>& p,
                  const AttentionBackward<hn::TFromD<D>>& a, const hn::TFromD<D>* staged,
                  std::size_t b, std::size_t kvh, std::size_t k0, std::size_t k1,
                  hn::TFromD<D>* dq_acc, std::vector<hn::TFromD<D>>& scratch) {
  using T = hn::TFromD<D>;
  const std::size_t dd = p.shape.head_dim, dv = p.shape.value_dim;
  const std::size_t rows_total = p.rows_per_kv_head();
  const std::size_t bk = kAttentionBackKeyBlock, br = kAttentionRowBlock;
  const std::size_t stage = attention_stage_size(dd, dv);
  Carve<T> carve(scratch);
  carve.add(bk * br);
  carve.add(bk * br);
  carve.add(bk * dd);
  carve.add(bk * dv);
  carve.done();
  T* pt = carve.take(bk * br);
  T* dst = carve.take(bk * br);
  T* dk_t = carve.take(bk * dd);
  T* dv_t = carve.take(bk * dv);

  const T* kbase = view_row(a.k, b, kvh, 0);
  const T* vbase = view_row(a.v, b, kvh, 0);
  const auto krs = a.k.row_stride, vrs = a.v.row_stride;
  // The row blocks' rules (limits, mask rows), derived once for every key block.
  std::vector<BlockRows<D>> blocks;
  blocks.reserve((rows_total + br - 1) / br);
  for (std::size_t r0 = 0; r0 < rows_total; r0 += br) {
    blocks.emplace_back(p, b, kvh, r0, std::min(rows_total, r0 + br));
  }
  for (std::size_t kb = k0; kb < k1; kb += bk) {
    const std::size_t kn = std::min(bk, k1 - kb);
    std::fill(dk_t, dk_t + kn * dd, T(0));
    std::fill(dv_t, dv_t + kn * dv, T(0));
    const T* kblk = kbase + static_cast<std::ptrdiff_t>(kb) * krs;
    const T* vblk = vbase + static_cast<std::ptrdiff_t>(kb) * vrs;
    for (std::size_t rb = 0; rb < blocks.size(); ++rb) {
      const BlockRows<D>& rows = blocks[rb];
      const std::size_t r0 = rb * br;
      if (kb >= rows.max_limit) continue;
      const std::size_t kv = std::min(kn, rows.max_limit - kb);  // keys some row sees
      const AttentionStaged<const T> sb = attention_staged(staged + rb * stage, dd, dv);
      TileGradients(d, p, rows, sb, kblk, krs, vblk, vrs, kb, kv, pt, dst);
      const std::size_t nr = rows.nr, ld = rows.padded;
      Gemm(d, kv, dv, nr, pt, ld, 1, sb.dout, dv, dv_t, dv, true);
      Gemm(d, kv, dd, nr, dst, ld, 1, sb.qs, dd, dk_t, dd, true);
      if (dq_acc != nullptr) {
        Gemm(d, nr, dd, kv, dst, 1, ld, kblk, std::size_t(krs), dq_acc + r0 * dd, dd, true);
      }
    }
    for (std::size_t j = 0; j < kn; ++j) {
      std::copy(dk_t + j * dd, dk_t + (j + 1) * dd, view_row(a.dk, b, kvh, kb + j));
      std::copy(dv_t + j * dv, dv_t + (j + 1) * dv, view_row(a.dv, b, kvh, kb + j));
    }
  }
}

template <class D>
void BackwardRows(D d, const AttentionProblem<hn::TFromD<D>>& p,
                  const AttentionBackward<hn::TFromD<D>>& a, const hn::TFromD<D>* staged,
                  std::size_t b, std::size_t kvh, std::size_t rb,
                  std::vector<hn::TFromD<D>>& scratch) {
  using T = hn::TFromD<D>;
  const std::size_t dd = p.shape.head_dim, dv = p.shape.value_dim;
  const std::size_t bk = kAttentionBackKeyBlock, br = kAttentionRowBlock;
  const std::size_t r0 = rb * br;
  const BlockRows<D> rows(p, b, kvh, r0, std::min(p.rows_per_kv_head(), r0 + br));
  const std::size_t nr = rows.nr, ld = rows.padded;
  Carve<T> carve(scratch);
  carve.add(bk * br);
  carve.add(bk * br);
  carve.add(br * dd);
  carve.done();
  T* pt = carve.take(bk * br);
  T* dst = carve.take(bk * br);
  T* dq_t = carve.take(br * dd);
  std::fill(dq_t, dq_t + nr * dd, T(0));

  const AttentionStaged<const T> sb =
      attention_staged(staged + rb * attention_stage_size(dd, dv), dd, dv);
  const T* kbase = view_row(a.k, b, kvh, 0);
  const T* vbase = view_row(a.v, b, kvh, 0);
  const auto krs = a.k.row_stride, vrs = a.v.row_stride;
  for (std::size_t kb = 0; kb < rows.max_limit; kb += bk) {
    const std::size_t kv = std::min(bk, rows.max_limit - kb);
    const T* kblk = kbase + static_cast<std::ptrdiff_t>(kb) * krs;
    const T* vblk = vbase + static_cast<std::ptrdiff_t>(kb) * vrs;
    TileGradients(d, p, rows, sb, kblk, krs, vblk, vrs, kb, kv, pt, dst);
    Gemm(d, nr, dd, kv, dst, 1, ld, kblk, std::size_t(krs), dq_t, dd, true);
  }
  for (std::size_t r = 0; r < nr; ++r) {
    T* dq = view_row(a.dq, b, rows.row[r].head, rows.row[r].i);
    for (std::size_t c = 0; c < dd; ++c) dq[c] = p.scale * dq_t[r * dd + c];
  }
}

void ForwardF32(const AttentionProblem<float>& p, const AttentionForward<float>& a,
                const AttentionBlock<float>& blk, std::vector<float>& scratch) {
  ForwardBlock(hn::ScalableTag<float>(), p, a, blk, scratch);
}
void ForwardF64(const AttentionProblem<double>& p, const AttentionForward<double>& a,
                const AttentionBlock<double>& blk, std::vector<double>& scratch) {
  ForwardBlock(hn::ScalableTag<double>(), p, a, blk, scratch);
}
void BackwardKeysF32(const AttentionProblem<float>& p, const AttentionBackward<float>& a,
                     const float* staged, std::size_t b, std::size_t kvh, std::size_t k0,
                     std::size_t k1, float* dq_acc, std::vector<float>& scratch) {
  BackwardKeys(hn::ScalableTag<float>(), p, a, staged, b, kvh, k0, k1, dq_acc, scratch);
}
void BackwardKeysF64(const AttentionProblem<double>& p, const AttentionBackward<double>& a,
                     const double* staged, std::size_t b, std::size_t kvh, std::size_t k0,
                     std::size_t k1, double* dq_acc, std::vector<double>& scratch) {
  BackwardKeys(hn::ScalableTag<double>(), p, a, staged, b, kvh, k0, k1, dq_acc, scratch);
}
void BackwardRowsF32(const AttentionProblem<float>& p, const AttentionBackward<float>& a,
                     const float* staged, std::size_t b, std::size_t kvh, std::size_t rb,
                     std::vector<float>& scratch) {
  BackwardRows(hn::ScalableTag<float>(), p, a, staged, b, kvh, rb, scratch);
}
void BackwardRowsF64(const AttentionProblem<double>& p, const AttentionBackward<double>& a,
                     const double* staged, std::size_t b, std::size_t kvh, std::size_t rb,
                     std::vector<double>& scratch) {
  BackwardRows(hn::ScalableTag<double>(), p, a, staged, b, kvh, rb, scratch);
}

}  // namespace softreg::detail::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace softreg::detail {

HWY_EXPORT(ForwardF32);
HWY_EXPORT(ForwardF64);
HWY_EXPORT(BackwardKeysF32);
HWY_EXPORT(BackwardKeysF64);
HWY_EXPORT(BackwardRowsF32);
HWY_EXPORT(BackwardRowsF64);

void simd_attention_forward(const AttentionProblem<float>& p, const AttentionForward<float>& a,
                            const AttentionBlock<float>& block, std::vector<float>& scratch) {
  HWY_DYNAMIC_DISPATCH(ForwardF32)(p, a, block, scratch);
}
void simd_attention_forward(const AttentionProblem<double>& p, const AttentionForward<double>& a,
                            const AttentionBlock<double>& block, std::vector<double>& scratch) {
  HWY_DYNAMIC_DISPATCH(ForwardF64)(p, a, block, scratch);
}
void simd_attention_backward_keys(const AttentionProblem<float>& p,
                                  const AttentionBackward<float>& a, const float* staged,
                                  std::size_t b, std::size_t kvh, std::size_t k0, std::size_t k1,
                                  float* dq_acc, std::vector<float>& scratch) {
  HWY_DYNAMIC_DISPATCH(BackwardKeysF32)(p, a, staged, b, kvh, k0, k1, dq_acc, scratch);
}
void simd_attention_backward_keys(const AttentionProblem<double>& p,
                                  const AttentionBackward<double>& a, const double* staged,
                                  std::size_t b, std::size_t kvh, std::size_t k0, std::size_t k1,
                                  double* dq_acc, std::vector<double>& scratch) {
  HWY_DYNAMIC_DISPATCH(BackwardKeysF64)(p, a, staged, b, kvh, k0, k1, dq_acc, scratch);
}
void simd_attention_backward_rows(const AttentionProblem<float>& p,
                                  const AttentionBackward<float>& a, const float* staged,
                                  std::size_t b, std::size_t kvh, std::size_t rb,
                                  std::vector<float>& scratch) {
  HWY_DYNAMIC_DISPATCH(BackwardRowsF32)(p, a, staged, b, kvh, rb, scratch);
}
void simd_attention_backward_rows(const AttentionProblem<double>& p,
                                  const AttentionBackward<double>& a, const double* staged,
                                  std::size_t b, std::size_t kvh, std::size_t rb,
                                  std::vector<double>& scratch) {
  HWY_DYNAMIC_DISPATCH(BackwardRowsF64)(p, a, staged, b, kvh, rb, scratch);
}

}  // namespace softreg::detail
#endif  // HWY_ONCE

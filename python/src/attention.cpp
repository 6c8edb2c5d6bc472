// softreg._core._attention / _attention_backward: the NumPy face of softreg::attention
// (include/softreg/attention.hpp). The Python wrapper (python/softreg/attention.py) checks and
// broadcasts shapes; this file reads every array in place through its strides (any layout whose
// last axis is contiguous), allocates the outputs and runs the kernels without the GIL.
#include "softreg/attention.hpp"

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "arrays.hpp"
#include "bindings.hpp"
#include "softreg/names.hpp"

namespace softreg::python {
namespace {

constexpr const char* kWhere = "softreg.attention";

/// A 4-d array's view: strides in elements, the last axis contiguous (or of length <= 1).
template <class T>
AttentionView<T> view_of(const py::array& a, const char* name) {
  if (a.ndim() != 4) {
    throw py::value_error(std::string(kWhere) + ": " + name + " must be 4-d after broadcasting");
  }
  const auto item = static_cast<py::ssize_t>(sizeof(T));
  for (int i = 0; i < 4; ++i) {
    if (a.strides(i) % item != 0) {
      throw py::value_error(std::string(kWhere) + ": " + name +
                            " has a stride that is not a "
                            "multiple of its item size");
    }
  }
  if (a.shape(3) > 1 && a.strides(3) != item) {
    throw py::value_error(std::string(kWhere) + ": " + name + "'s last axis must be contiguous");
  }
  AttentionView<T> v;
  v.data = static_cast<T*>(const_cast<void*>(a.data()));
  v.batch_stride = a.strides(0) / item;
  v.head_stride = a.strides(1) / item;
  v.row_stride = a.strides(2) / item;
  return v;
}

template <class T>
py::array checked(const py::object& x, const char* name) {
  auto a = py::reinterpret_borrow<py::array>(x);
  if (!py::isinstance<py::array_t<T>>(a) || a.dtype().kind() != py::dtype::of<T>().kind() ||
      a.itemsize() != py::ssize_t(sizeof(T))) {
    throw py::type_error(std::string(kWhere) + ": " + name + " must be " +
                         dtype_str(py::dtype::of<T>()) + ", got " + dtype_str(a.dtype()));
  }
  return a;
}

/// The arguments both directions share.
struct Common {
  py::object keep, mask, bias, key_lengths;
  std::optional<double> scale;
  std::string causal, method;
};

template <class T>
struct Prepared {
  AttentionShape shape;
  AttentionMasks<T> masks;
  AttentionOptions options;
  std::vector<py::array> hold;  // keeps the mask arrays alive
  py::array_t<std::int64_t> lengths;
};

template <class T>
Prepared<T> prepare(const py::array& q, const py::array& k, const py::array& v, const Common& c) {
  Prepared<T> p;
  p.shape.batch = std::size_t(q.shape(0));
  p.shape.heads = std::size_t(q.shape(1));
  p.shape.seq_q = std::size_t(q.shape(2));
  p.shape.head_dim = std::size_t(q.shape(3));
  p.shape.kv_heads = std::size_t(k.shape(1));
  p.shape.seq_k = std::size_t(k.shape(2));
  p.shape.value_dim = std::size_t(v.shape(3));
  if (!c.keep.is_none()) {
    auto a = py::reinterpret_borrow<py::array>(c.keep);
    if (a.dtype().kind() != 'b') throw py::type_error(std::string(kWhere) + ": keep must be bool");
    p.hold.push_back(a);
    p.masks.keep = view_of<const std::uint8_t>(a, "mask");
  }
  if (!c.mask.is_none()) {
    p.hold.push_back(checked<T>(c.mask, "mask"));
    p.masks.mask = view_of<const T>(p.hold.back(), "mask");
  }
  if (!c.bias.is_none()) {
    p.hold.push_back(checked<T>(c.bias, "bias"));
    p.masks.bias = view_of<const T>(p.hold.back(), "bias");
  }
  if (!c.key_lengths.is_none()) {
    p.lengths =
        py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>::ensure(c.key_lengths);
    p.masks.key_lengths = {p.lengths.data(), std::size_t(p.lengths.size())};
  }
  p.options.scale = c.scale;
  p.options.causal = parse_name_or_throw<CausalMask>(c.causal, "causal");
  p.options.method = parse_name_or_throw<AttentionMethod>(c.method, "method");
  return p;
}

template <class T>
py::object forward(const py::object& qo, const py::object& ko, const py::object& vo,
                   const Common& c, bool return_lse) {
  const py::array q = checked<T>(qo, "q"), k = checked<T>(ko, "k"), v = checked<T>(vo, "v");
  Prepared<T> p = prepare<T>(q, k, v, c);
  const auto& s = p.shape;
  py::array_t<T> out(
      {py::ssize_t(s.batch), py::ssize_t(s.heads), py::ssize_t(s.seq_q), py::ssize_t(s.value_dim)});
  py::array_t<T> lse({py::ssize_t(s.batch), py::ssize_t(s.heads), py::ssize_t(s.seq_q)});
  AttentionForward<T> a;
  a.q = view_of<const T>(q, "q");
  a.k = view_of<const T>(k, "k");
  a.v = view_of<const T>(v, "v");
  a.out = dense_view<T>(out.mutable_data(), s.heads, s.seq_q, s.value_dim);
  a.lse = lse.mutable_data();
  {
    py::gil_scoped_release nogil;
    attention(s, a, p.masks, p.options);
  }
  if (return_lse) return py::make_tuple(out, lse);
  return out;
}

template <class T>
py::object backward(const py::object& go, const py::object& qo, const py::object& ko,
                    const py::object& vo, const py::object& oo, const py::object& lo,
                    const Common& c) {
  const py::array q = checked<T>(qo, "q"), k = checked<T>(ko, "k"), v = checked<T>(vo, "v");
  const py::array dout = checked<T>(go, "dout"), out = checked<T>(oo, "out");
  Prepared<T> p = prepare<T>(q, k, v, c);
  const auto& s = p.shape;
  const auto lse = py::array_t<T, py::array::c_style>::ensure(lo);
  if (!lse || std::size_t(lse.size()) != s.batch * s.heads * s.seq_q) {
    throw py::value_error(std::string(kWhere) +
                          "_backward: lse must hold batch x heads x seq_q "
                          "values of q's dtype (the forward's return_lse=True result)");
  }
  py::array_t<T> dq(
      {py::ssize_t(s.batch), py::ssize_t(s.heads), py::ssize_t(s.seq_q), py::ssize_t(s.head_dim)});
  py::array_t<T> dk({py::ssize_t(s.batch), py::ssize_t(s.kv_heads), py::ssize_t(s.seq_k),
                     py::ssize_t(s.head_dim)});
  py::array_t<T> dv({py::ssize_t(s.batch), py::ssize_t(s.kv_heads), py::ssize_t(s.seq_k),
                     py::ssize_t(s.value_dim)});
  AttentionBackward<T> a;
  a.q = view_of<const T>(q, "q");
  a.k = view_of<const T>(k, "k");
  a.v = view_of<const T>(v, "v");
  a.out = view_of<const T>(out, "out");
  a.dout = view_of<const T>(dout, "dout");
  a.lse = lse.data();
  a.dq = dense_view<T>(dq.mutable_data(), s.heads, s.seq_q, s.head_dim);
  a.dk = dense_view<T>(dk.mutable_data(), s.kv_heads, s.seq_k, s.head_dim);
  a.dv = dense_view<T>(dv.mutable_data(), s.kv_heads, s.seq_k, s.value_dim);
  {
    py::gil_scoped_release nogil;
    attention_backward(s, a, p.masks, p.options);
  }
  return py::make_tuple(dq, dk, dv);
}

bool is_f32(const py::object& q) {
  return py::reinterpret_borrow<py::array>(q).dtype().is(py::dtype::of<float>());
}

}  // namespace

void register_attention(py::module_& m) {
  using py::arg;
  m.def(
      "_attention",
      [](py::object q, py::object k, py::object v, py::object keep, py::object mask,
         py::object bias, py::object key_lengths, std::optional<double> scale, std::string causal,
         std::string method, bool return_lse) {
        const Common c{keep, mask, bias, key_lengths, scale, causal, method};
        return is_f32(q) ? forward<float>(q, k, v, c, return_lse)
                         : forward<double>(q, k, v, c, return_lse);
      },
      arg("q"), arg("k"), arg("v"), arg("keep"), arg("mask"), arg("bias"), arg("key_lengths"),
      arg("scale"), arg("causal"), arg("method"), arg("return_lse"),
      "The kernel behind softreg.attention (4-d arrays, shapes already checked).");
  m.def(
      "_attention_backward",
      [](py::object dout, py::object q, py::object k, py::object v, py::object out, py::object lse,
         py::object keep, py::object mask, py::object bias, py::object key_lengths,
         std::optional<double> scale, std::string causal, std::string method) {
        const Common c{keep, mask, bias, key_lengths, scale, causal, method};
        return is_f32(q) ? backward<float>(dout, q, k, v, out, lse, c)
                         : backward<double>(dout, q, k, v, out, lse, c);
      },
      arg("dout"), arg("q"), arg("k"), arg("v"), arg("out"), arg("lse"), arg("keep"), arg("mask"),
      arg("bias"), arg("key_lengths"), arg("scale"), arg("causal"), arg("method"),
      "The kernel behind softreg.attention_backward (4-d arrays, shapes already checked).");
}

}  // namespace softreg::python

// NumPy argument handling shared by the bindings: dtype dispatch, shapes, checked out= arrays.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "softreg/shape.hpp"

namespace softreg::python {

namespace py = pybind11;

/// The floating-point type an input is computed in.
enum class Precision { f32, f64 };

/// A C-contiguous float32 or float64 view of `x` (an ndarray or anything numpy.asarray takes).
/// Native float32 and float64 C-contiguous arrays are used as they are (no copy); other float32
/// and float64 arrays (strided, byte-swapped) are copied C-contiguous; bool, integer and float16
/// arrays are converted to float64, as scipy.special.softmax does. Anything else (complex,
/// long double, strings, objects) raises TypeError naming `where` and `name`.
py::array float_array(py::handle x, const char* where, const char* name);

/// "float64", ">f8", "complex128": a dtype as NumPy prints it.
std::string dtype_str(const py::dtype& d);

/// Precision of an array returned by float_array().
Precision precision_of(const py::array& a);

/// The shape of `a` as a softreg::Shape (ValueError through InvalidArgument past 8 dims).
Shape shape_of(const py::array& a);

/// The shape of `a` as NumPy dimensions.
std::vector<py::ssize_t> dims_of(const py::array& a);

/// An axis argument as Python gave it: any integer (or object with __index__), kept whole, so
/// that an axis beyond the C range is out of range (ValueError) rather than a type mismatch
/// (pybind11's TypeError for a plain int parameter).
struct Axis {
  long long value = -1;
  std::string huge;  // the decimal text of an integer beyond long long, else empty
};

/// `axis` (negative counts from the end) checked against ndim and made non-negative. Raises
/// ValueError naming `where` when it is out of range or the array is 0-d.
std::size_t normalize_axis(const Axis& axis, std::size_t ndim, const char* where);

/// Class indices as a C-contiguous int64 array: `x` must have an integer dtype (a float array
/// is a TypeError, never truncated) and uint64 values above 2^63 - 1 are a ValueError naming
/// the first one as written ("target[3] = 18446744073709551615"), not wrapped to negatives.
py::array_t<std::int64_t> index_array(py::handle x, const char* where, const char* name);

/// "(2, 3)", "(5,)", "()" as NumPy prints shapes.
std::string shape_str(std::span<const py::ssize_t> dims);

/// The output array of a kernel: a new C-contiguous array of `dims` when `out` is None,
/// otherwise `out` itself after checking that it is an ndarray (TypeError), of dtype T
/// (TypeError), of shape `dims`, C-contiguous and writeable (ValueError). Messages name
/// `where` and `name`, and give what was expected and what was found.
template <class T>
py::array_t<T> output_array(const py::object& out, const std::vector<py::ssize_t>& dims,
                            const char* where, const char* name = "out");

/// A span over the elements of a C-contiguous array (empty arrays give an empty span).
template <class T, int Flags>
std::span<const T> cspan(const py::array_t<T, Flags>& a) {
  return {a.data(), static_cast<std::size_t>(a.size())};
}
template <class T, int Flags>
std::span<T> mspan(py::array_t<T, Flags>& a) {
  return {a.mutable_data(), static_cast<std::size_t>(a.size())};
}

/// A NumPy array that takes ownership of `values` without copying: the vector moves into a
/// capsule that NumPy frees with the array.
template <class T>
py::array_t<T> adopt(std::vector<T>&& values, std::vector<py::ssize_t> dims) {
  auto owner = std::make_unique<std::vector<T>>(std::move(values));
  T* data = owner->data();
  py::capsule base(owner.get(), [](void* p) { delete static_cast<std::vector<T>*>(p); });
  owner.release();  // the capsule owns it now
  return py::array_t<T>(std::move(dims), data, base);
}

}  // namespace softreg::python

namespace pybind11::detail {

template <>
struct type_caster<softreg::python::Axis> {
  PYBIND11_TYPE_CASTER(softreg::python::Axis, const_name("int"));

  bool load(handle src, bool) {
    if (!src || PyFloat_Check(src.ptr())) return false;
    PyObject* index = PyNumber_Index(src.ptr());
    if (index == nullptr) {
      PyErr_Clear();
      return false;
    }
    int overflow = 0;
    value.value = PyLong_AsLongLongAndOverflow(index, &overflow);
    value.huge.clear();
    if (overflow != 0) value.huge = str(handle(index)).cast<std::string>();
    Py_DECREF(index);
    return true;
  }

  static handle cast(const softreg::python::Axis& axis, return_value_policy, handle) {
    return PyLong_FromLongLong(axis.value);
  }
};

}  // namespace pybind11::detail

// NumPy argument handling: which inputs are accepted, converted or refused, and why.
#include "arrays.hpp"

namespace softreg::python {

namespace {

std::string type_name(py::handle x) {
  return py::str(py::type::handle_of(x).attr("__name__")).cast<std::string>();
}

}  // namespace

std::string dtype_str(const py::dtype& d) {
  return py::str(py::handle(d)).cast<std::string>();
}

py::array float_array(py::handle x, const char* where, const char* name) {
  py::array a = py::array::ensure(x);
  if (!a) {
    throw py::type_error(std::string(where) + ": " + name +
                         " must be an array-like of numbers; got " + type_name(x));
  }
  if (py::isinstance<py::array_t<float>>(a)) {
    return py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(a);
  }
  if (py::isinstance<py::array_t<double>>(a)) {
    return py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(a);
  }
  const py::dtype dt = a.dtype();
  const char kind = dt.kind();
  const bool convertible =
      kind == 'b' || kind == 'i' || kind == 'u' ||
      (kind == 'f' && (dt.itemsize() == 2 || dt.itemsize() == 4 || dt.itemsize() == 8));
  if (!convertible) {
    throw py::type_error(std::string(where) + ": " + name +
                         " must have a real floating-point, integer or bool dtype (float32 and "
                         "float64 are computed as they are, others as float64); got dtype " +
                         dtype_str(dt));
  }
  if (kind == 'f' && dt.itemsize() == 4) {  // float32 in the other byte order
    return py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(a);
  }
  return py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(a);
}

Precision precision_of(const py::array& a) {
  return py::isinstance<py::array_t<float>>(a) ? Precision::f32 : Precision::f64;
}

std::vector<py::ssize_t> dims_of(const py::array& a) {
  return {a.shape(), a.shape() + a.ndim()};
}

Shape shape_of(const py::array& a) {
  std::vector<std::size_t> dims(a.shape(), a.shape() + a.ndim());
  return Shape(std::span<const std::size_t>(dims));
}

std::size_t normalize_axis(const Axis& given, std::size_t ndim, const char* where) {
  const auto n = static_cast<long long>(ndim);
  const long long axis = given.value;
  if (n == 0 || !given.huge.empty() || axis < -n || axis >= n) {
    throw py::value_error(
        std::string(where) + ": axis " + (given.huge.empty() ? std::to_string(axis) : given.huge) +
        " is out of range for an array of " + std::to_string(ndim) + " dimension" +
        (ndim == 1 ? "" : "s") + (n == 0 ? " (a 0-d array has no axis to reduce over)" : ""));
  }
  return static_cast<std::size_t>(axis < 0 ? axis + n : axis);
}

py::array_t<std::int64_t> index_array(py::handle x, const char* where, const char* name) {
  const py::array a = py::array::ensure(x);
  const char kind = a ? a.dtype().kind() : '?';
  if (kind != 'i' && kind != 'u') {
    throw py::type_error(std::string(where) + ": " + name +
                         " must be an array of integer class indices; got " +
                         (a ? "dtype " + dtype_str(a.dtype()) : std::string("a non-array")));
  }
  if (kind == 'u' && a.dtype().itemsize() == 8) {
    const auto u = py::array_t<std::uint64_t, py::array::c_style | py::array::forcecast>::ensure(a);
    const std::uint64_t* p = u.data();
    for (py::ssize_t i = 0; i < u.size(); ++i) {
      if (p[i] > std::uint64_t(INT64_MAX)) {
        throw py::value_error(std::string(where) + ": " + name + "[" + std::to_string(i) +
                              "] = " + std::to_string(p[i]) +
                              " is not a class index (it is beyond 2^63 - 1)");
      }
    }
  }
  return py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>::ensure(a);
}

std::string shape_str(std::span<const py::ssize_t> dims) {
  std::string s = "(";
  for (std::size_t i = 0; i < dims.size(); ++i) {
    if (i > 0) s += ", ";
    s += std::to_string(dims[i]);
  }
  if (dims.size() == 1) s += ",";
  return s + ")";
}

template <class T>
py::array_t<T> output_array(const py::object& out, const std::vector<py::ssize_t>& dims,
                            const char* where, const char* name) {
  if (out.is_none()) return py::array_t<T>(dims);
  const std::string who = std::string(where) + ": " + name;
  if (!py::isinstance<py::array>(out)) {
    throw py::type_error(who + " must be a numpy.ndarray or None; got " + type_name(out));
  }
  auto a = py::reinterpret_borrow<py::array>(out);
  if (!py::isinstance<py::array_t<T>>(a)) {
    throw py::type_error(who + " has dtype " + dtype_str(a.dtype()) + ", expected " +
                         dtype_str(py::dtype::of<T>()) + " (the dtype of the result)");
  }
  const auto got = dims_of(a);
  if (got != dims) {
    throw py::value_error(who + " has shape " + shape_str(got) + ", expected " + shape_str(dims));
  }
  if ((a.flags() & py::array::c_style) == 0) {
    throw py::value_error(who + " must be C-contiguous");
  }
  if (!a.writeable()) throw py::value_error(who + " is read-only");
  return py::reinterpret_borrow<py::array_t<T>>(a);
}

template py::array_t<float> output_array<float>(const py::object&, const std::vector<py::ssize_t>&,
                                                const char*, const char*);
template py::array_t<double> output_array<double>(const py::object&,
                                                  const std::vector<py::ssize_t>&, const char*,
                                                  const char*);
template py::array_t<std::int64_t> output_array<std::int64_t>(const py::object&,
                                                              const std::vector<py::ssize_t>&,
                                                              const char*, const char*);

}  // namespace softreg::python

// Binding of the library's dataset readers (IDX, CSV, LibSVM, .npy, gzipped or not).
#include "softreg/data.hpp"

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <variant>

#include "arrays.hpp"
#include "bindings.hpp"

namespace softreg::python {

namespace {

/// (X, labels, feature names, notices): X is a 2-D ndarray that takes over the reader's buffer
/// without a copy, or the CSR parts (data, indices, indptr, (rows, cols)); labels is a list of
/// strings (empty when the file carries none), the names those of a CSV header (else empty).
template <class T>
py::tuple read_typed(const std::string& path, const ReadOptions& options) {
  Dataset<T> data;
  {
    py::gil_scoped_release nogil;
    data = read_dataset<T>(path, options);
  }
  const auto rows = static_cast<py::ssize_t>(data.rows());
  const auto cols = static_cast<py::ssize_t>(data.cols());
  py::object x;
  if (auto* dense = std::get_if<DenseMatrix<T>>(&data.features)) {
    x = adopt(std::move(dense->data), {rows, cols});
  } else {
    auto& csr = std::get<CsrMatrix<T>>(data.features);
    const auto nnz = static_cast<py::ssize_t>(csr.nnz());
    x = py::make_tuple(adopt(std::move(csr.values), {nnz}), adopt(std::move(csr.indices), {nnz}),
                       adopt(std::move(csr.indptr), {rows + 1}), py::make_tuple(rows, cols));
  }
  return py::make_tuple(x, py::cast(data.labels), py::cast(data.feature_names),
                        py::cast(data.notices));
}

}  // namespace

void register_data(py::module_& m) {
  m.def(
      "read_dataset",
      [](const std::string& path, const std::string& format, const std::string& labels_path,
         const std::string& label_column, std::size_t n_features, const std::string& dtype,
         const std::string& index_base) {
        ReadOptions options;
        if (index_base == "zero") {
          options.index_base = IndexBase::zero;
        } else if (index_base == "one") {
          options.index_base = IndexBase::one;
        } else if (index_base != "auto") {
          throw py::value_error(
              "softreg.read_dataset: index_base must be 'auto', 'zero' or "
              "'one'; got '" +
              index_base + "'");
        }
        options.format = parse_format(format);
        options.labels_path = labels_path;
        options.label_column = label_column;
        options.n_features = n_features;
        if (dtype == "float32") return read_typed<float>(path, options);
        if (dtype == "float64") return read_typed<double>(path, options);
        throw py::value_error("softreg.read_dataset: dtype must be 'float32' or 'float64'; got '" +
                              dtype + "'");
      },
      py::arg("path"), py::arg("format") = "auto", py::arg("labels_path") = "",
      py::arg("label_column") = "", py::arg("n_features") = 0, py::arg("dtype") = "float32",
      py::arg("index_base") = "auto",
      "Reads a dataset with the library's readers; see softreg.read_dataset.");
}

}  // namespace softreg::python

// The softreg._core extension module: error mapping, the thread count, and the parts.
#include <pybind11/pybind11.h>

#include <exception>

#include "bindings.hpp"
#include "softreg/error.hpp"
#include "softreg/threads.hpp"

namespace py = pybind11;

PYBIND11_MODULE(_core, m) {
  m.doc() = "softreg's compiled core: softmax-family kernels and the softmax-regression model.";

  // Contract violations and bad file contents are ValueError; operating-system failures are
  // OSError; anything else the library reports is RuntimeError.
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const softreg::InvalidArgument& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const softreg::ParseError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const softreg::IoError& e) {
      PyErr_SetString(PyExc_OSError, e.what());
    } catch (const softreg::Error& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what());
    }
  });

  m.def("set_num_threads", &softreg::set_num_threads, py::arg("n"), R"doc(
Sets the number of worker threads of every softreg kernel, fit and prediction from now on, for
the whole process. ``n >= 1`` sets it; ``n == 0`` restores the default (the
``SOFTREG_NUM_THREADS`` environment variable if it holds a positive integer, else every core);
``n < 0`` raises ValueError. Results do not depend on the thread count.
)doc");
  m.def("get_num_threads", &softreg::get_num_threads, R"doc(
The current worker-thread count (always >= 1).
)doc");

  softreg::python::register_kernels(m);
  softreg::python::register_backward(m);
  softreg::python::register_model(m);
  softreg::python::register_data(m);
  softreg::python::register_sampling(m);
  softreg::python::register_attention(m);
  softreg::python::register_linear_loss(m);
  softreg::python::register_calibration(m);
}

// The parts of the softreg._core module, each registered by its own file.
#pragma once

#include <pybind11/pybind11.h>

namespace softreg::python {

void register_kernels(pybind11::module_& m);      // kernels.cpp
void register_backward(pybind11::module_& m);     // backward.cpp
void register_model(pybind11::module_& m);        // model.cpp
void register_data(pybind11::module_& m);         // data.cpp
void register_sampling(pybind11::module_& m);     // sampling.cpp
void register_attention(pybind11::module_& m);    // attention.cpp
void register_linear_loss(pybind11::module_& m);  // linear_loss.cpp
void register_calibration(pybind11::module_& m);  // calibration.cpp

}  // namespace softreg::python

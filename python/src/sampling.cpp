// softreg._core.sample: the NumPy face of softreg::sample (include/softreg/sampling.hpp). The
// Python wrapper softreg.sample (python/softreg/sampling.py) turns histories into CSR arrays
// and picks seeds; this file checks dtypes and shapes, reads the logits without a copy when
// they are C-contiguous float32 / float64, and runs the sampler without the GIL.
#include "softreg/sampling.hpp"

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>
#include <vector>

#include "arrays.hpp"
#include "bindings.hpp"
#include "softreg/names.hpp"

namespace softreg::python {
namespace {

constexpr const char* kWhere = "softreg.sample";

struct SampleArgs {
  SamplingOptions options;
  py::object history, history_offsets, logit_bias, streams, steps, uniforms, out;
  bool return_logprobs = false;
  std::size_t top_n = 0;
};

/// An optional 1-D C-contiguous array of U with `n` entries (n = npos: any length).
template <class U>
py::array_t<U> optional_vector(const py::object& x, const char* name, std::size_t n) {
  if (x.is_none()) return {};
  auto a = py::array_t<U, py::array::c_style | py::array::forcecast>::ensure(x);
  if (!a || a.ndim() != 1) {
    throw py::value_error(std::string(kWhere) + ": " + name + " must be a 1-D array");
  }
  if (n != std::size_t(-1) && std::size_t(a.shape(0)) != n) {
    throw py::value_error(std::string(kWhere) + ": " + name + " has " + std::to_string(a.shape(0)) +
                          " entries, expected " + std::to_string(n));
  }
  return a;
}

template <class T>
py::object sample_typed(const py::array& la, const SampleArgs& args) {
  const auto logits = py::reinterpret_borrow<py::array_t<T>>(la);
  if (logits.ndim() == 0) {
    throw py::value_error(std::string(kWhere) +
                          ": logits must have at least 1 dimension "
                          "(the vocabulary, last)");
  }
  std::vector<py::ssize_t> row_dims = dims_of(logits);
  const std::size_t vocab = std::size_t(row_dims.back());
  row_dims.pop_back();
  std::size_t rows = 1;
  for (const auto d : row_dims) rows *= std::size_t(d);

  const auto history = optional_vector<std::int64_t>(args.history, "history", std::size_t(-1));
  const auto offsets =
      optional_vector<std::uint64_t>(args.history_offsets, "history_offsets", std::size_t(-1));
  const auto bias = optional_vector<T>(args.logit_bias, "logit_bias", vocab);
  const auto streams = optional_vector<std::uint64_t>(args.streams, "streams", rows);
  const auto steps = optional_vector<std::uint64_t>(args.steps, "steps", rows);
  const auto uniforms = optional_vector<double>(args.uniforms, "uniforms", rows);
  SamplingInputs<T> in;
  if (bias) in.logit_bias = cspan(bias);
  if (history) in.history = cspan(history);
  if (offsets) {
    const auto o = cspan(offsets);
    in.history_offsets = {reinterpret_cast<const std::size_t*>(o.data()), o.size()};
  }
  if (streams) in.streams = cspan(streams);
  if (steps) in.steps = cspan(steps);
  if (uniforms) in.uniforms = cspan(uniforms);

  py::array_t<std::int64_t> tokens = output_array<std::int64_t>(args.out, row_dims, kWhere, "out");
  py::array_t<double> logprobs;
  if (args.return_logprobs) logprobs = py::array_t<double>(row_dims);
  std::vector<py::ssize_t> top_dims = row_dims;
  top_dims.push_back(py::ssize_t(args.top_n));
  py::array_t<std::int64_t> top_tokens;
  py::array_t<double> top_logprobs;
  if (args.top_n > 0) {
    top_tokens = py::array_t<std::int64_t>(top_dims);
    top_logprobs = py::array_t<double>(top_dims);
  }
  SamplingOutputs out;
  out.tokens = mspan(tokens);
  if (args.return_logprobs) out.logprobs = mspan(logprobs);
  out.top_n = args.top_n;
  if (args.top_n > 0) {
    out.top_tokens = mspan(top_tokens);
    out.top_logprobs = mspan(top_logprobs);
  }
  {
    py::gil_scoped_release nogil;
    sample(cspan(logits), rows, vocab, args.options, in, out);
  }
  return py::make_tuple(tokens, args.return_logprobs ? py::object(logprobs) : py::none(),
                        args.top_n > 0 ? py::object(top_tokens) : py::none(),
                        args.top_n > 0 ? py::object(top_logprobs) : py::none());
}

}  // namespace

void register_sampling(py::module_& m) {
  using py::arg;
  m.def(
      "sample",
      [](py::handle logits, double temperature, std::int64_t top_k, double top_p, double min_p,
         double repetition_penalty, double presence_penalty, double frequency_penalty, bool greedy,
         const std::string& order, std::uint64_t seed, std::uint64_t step, py::object history,
         py::object history_offsets, py::object logit_bias, py::object streams, py::object steps,
         py::object uniforms, py::object out, bool return_logprobs, std::size_t top_n,
         int threads) {
        SampleArgs a;
        SamplingOptions& o = a.options;
        o.temperature = temperature;
        o.top_k = top_k;
        o.top_p = top_p;
        o.min_p = min_p;
        o.repetition_penalty = repetition_penalty;
        o.presence_penalty = presence_penalty;
        o.frequency_penalty = frequency_penalty;
        o.greedy = greedy;
        o.order = parse_name_or_throw<SamplingOrder>(order, "softreg.sample: order");
        o.seed = seed;
        o.step = step;
        o.threads = threads;
        a.history = std::move(history);
        a.history_offsets = std::move(history_offsets);
        a.logit_bias = std::move(logit_bias);
        a.streams = std::move(streams);
        a.steps = std::move(steps);
        a.uniforms = std::move(uniforms);
        a.out = std::move(out);
        a.return_logprobs = return_logprobs;
        a.top_n = top_n;
        const py::array x = float_array(logits, kWhere, "logits");
        return precision_of(x) == Precision::f32 ? sample_typed<float>(x, a)
                                                 : sample_typed<double>(x, a);
      },
      arg("logits"), arg("temperature"), arg("top_k"), arg("top_p"), arg("min_p"),
      arg("repetition_penalty"), arg("presence_penalty"), arg("frequency_penalty"), arg("greedy"),
      arg("order"), arg("seed"), arg("step"), arg("history"), arg("history_offsets"),
      arg("logit_bias"), arg("streams"), arg("steps"), arg("uniforms"), arg("out"),
      arg("return_logprobs"), arg("top_n"), arg("threads") = 0,
      "The compiled sampler behind softreg.sample (see its docstring); returns (tokens, "
      "logprobs or None, top_tokens or None, top_logprobs or None).");
  m.def("sampling_uniform", &sampling_uniform, arg("seed"), arg("stream"), arg("step"),
        "The uniform in [0, 1) that softreg.sample draws for (seed, stream, step): "
        "Philox-4x32-10, 53 bits.");
}

}  // namespace softreg::python

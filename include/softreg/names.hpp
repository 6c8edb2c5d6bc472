// The one table of names of the option enums (solver, scaling, dtype, preconditioner,
// learning-rate schedule, reduction, data format, sampling order, causal mask, attention
// method, weight layout): the command line, the Python module and every message spell them
// from here.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "softreg/attention.hpp"
#include "softreg/data.hpp"
#include "softreg/linear_loss.hpp"
#include "softreg/loss.hpp"
#include "softreg/model.hpp"
#include "softreg/optim.hpp"
#include "softreg/sampling.hpp"

namespace softreg {

/// One spelling of one value. A value's first entry is its canonical name (printed, stored);
/// later entries of the same value are aliases accepted on input ("svm" for libsvm,
/// "inverse_sqrt" for inverse-sqrt).
template <class E>
struct NamedValue {
  E value;
  std::string_view name;
};

/// Every spelling of E's values, canonical names first in declaration order.
template <class E>
std::span<const NamedValue<E>> enum_names();

/// The canonical name of value (a null-terminated literal).
template <class E>
std::string_view name_of(E value);

/// The value named name (canonical or alias), or nullopt.
template <class E>
std::optional<E> parse_name(std::string_view name);

/// The value named name; throws InvalidArgument "<what> must be a, b or c; got \"x\"".
template <class E>
E parse_name_or_throw(std::string_view name, std::string_view what);

/// The canonical names for help texts and messages: "lbfgs, sgd or adam".
template <class E>
std::string name_list();

}  // namespace softreg

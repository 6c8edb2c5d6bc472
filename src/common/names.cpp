// The names of the option enums, one table each, and the lookups every front end uses.
#include "softreg/names.hpp"

#include <array>
#include <vector>

#include "softreg/error.hpp"

namespace softreg {
namespace {

constexpr std::array<NamedValue<Solver>, 6> kSolvers{{{Solver::automatic, "auto"},
                                                      {Solver::lbfgs, "lbfgs"},
                                                      {Solver::sgd, "sgd"},
                                                      {Solver::adam, "adam"},
                                                      {Solver::newton_cg, "newton-cg"},
                                                      {Solver::saga, "saga"}}};
constexpr std::array<NamedValue<Scaling>, 3> kScalings{
    {{Scaling::none, "none"}, {Scaling::standard, "standard"}, {Scaling::minmax, "minmax"}}};
constexpr std::array<NamedValue<DType>, 2> kDTypes{
    {{DType::float32, "float32"}, {DType::float64, "float64"}}};
constexpr std::array<NamedValue<Preconditioner>, 3> kPreconditioners{
    {{Preconditioner::automatic, "auto"},
     {Preconditioner::diagonal, "diagonal"},
     {Preconditioner::none, "none"}}};
// The command line has always spelled it with a hyphen; the Python module with an underscore.
// Both are accepted; the hyphen is canonical.
constexpr std::array<NamedValue<LrSchedule>, 4> kSchedules{
    {{LrSchedule::constant, "constant"},
     {LrSchedule::inverse_sqrt, "inverse-sqrt"},
     {LrSchedule::cosine, "cosine"},
     {LrSchedule::inverse_sqrt, "inverse_sqrt"}}};
constexpr std::array<NamedValue<Reduction>, 3> kReductions{
    {{Reduction::mean, "mean"}, {Reduction::sum, "sum"}, {Reduction::none, "none"}}};
// Hugging Face's warper order and llama.cpp's chain; underscores for Python keyword style.
constexpr std::array<NamedValue<SamplingOrder>, 6> kSamplingOrders{
    {{SamplingOrder::temperature_first, "temperature-first"},
     {SamplingOrder::temperature_last, "temperature-last"},
     {SamplingOrder::temperature_first, "temperature_first"},
     {SamplingOrder::temperature_last, "temperature_last"},
     {SamplingOrder::temperature_first, "huggingface"},
     {SamplingOrder::temperature_last, "llama.cpp"}}};
// PyTorch's names (is_causal's top-left, causal_lower_right's bottom-right), with underscores
// accepted for Python keyword style.
constexpr std::array<NamedValue<CausalMask>, 5> kCausalMasks{
    {{CausalMask::none, "none"},
     {CausalMask::top_left, "top-left"},
     {CausalMask::bottom_right, "bottom-right"},
     {CausalMask::top_left, "top_left"},
     {CausalMask::bottom_right, "bottom_right"}}};
constexpr std::array<NamedValue<AttentionMethod>, 2> kAttentionMethods{
    {{AttentionMethod::tiled, "tiled"}, {AttentionMethod::naive, "naive"}}};
// The weight's layout of the fused linear + cross-entropy: the seed's d x K, PyTorch's K x d.
constexpr std::array<NamedValue<WeightLayout>, 2> kWeightLayouts{
    {{WeightLayout::dk, "dk"}, {WeightLayout::kd, "kd"}}};
constexpr std::array<NamedValue<DataFormat>, 6> kFormats{{{DataFormat::automatic, "auto"},
                                                          {DataFormat::csv, "csv"},
                                                          {DataFormat::libsvm, "libsvm"},
                                                          {DataFormat::npy, "npy"},
                                                          {DataFormat::idx, "idx"},
                                                          {DataFormat::libsvm, "svm"}}};

/// Whether entry i is its value's first (canonical) spelling.
template <class E>
bool canonical(std::span<const NamedValue<E>> table, std::size_t i) {
  for (std::size_t j = 0; j < i; ++j) {
    if (table[j].value == table[i].value) return false;
  }
  return true;
}

}  // namespace

template <>
std::span<const NamedValue<Solver>> enum_names<Solver>() {
  return kSolvers;
}
template <>
std::span<const NamedValue<Scaling>> enum_names<Scaling>() {
  return kScalings;
}
template <>
std::span<const NamedValue<DType>> enum_names<DType>() {
  return kDTypes;
}
template <>
std::span<const NamedValue<Preconditioner>> enum_names<Preconditioner>() {
  return kPreconditioners;
}
template <>
std::span<const NamedValue<LrSchedule>> enum_names<LrSchedule>() {
  return kSchedules;
}
template <>
std::span<const NamedValue<Reduction>> enum_names<Reduction>() {
  return kReductions;
}
template <>
std::span<const NamedValue<SamplingOrder>> enum_names<SamplingOrder>() {
  return kSamplingOrders;
}
template <>
std::span<const NamedValue<CausalMask>> enum_names<CausalMask>() {
  return kCausalMasks;
}
template <>
std::span<const NamedValue<AttentionMethod>> enum_names<AttentionMethod>() {
  return kAttentionMethods;
}
template <>
std::span<const NamedValue<WeightLayout>> enum_names<WeightLayout>() {
  return kWeightLayouts;
}
template <>
std::span<const NamedValue<DataFormat>> enum_names<DataFormat>() {
  return kFormats;
}

template <class E>
std::string_view name_of(E value) {
  for (const auto& entry : enum_names<E>()) {
    if (entry.value == value) return entry.name;
  }
  return "?";
}

template <class E>
std::optional<E> parse_name(std::string_view name) {
  for (const auto& entry : enum_names<E>()) {
    if (entry.name == name) return entry.value;
  }
  return std::nullopt;
}

template <class E>
std::string name_list() {
  const auto table = enum_names<E>();
  std::vector<std::string_view> names;
  for (std::size_t i = 0; i < table.size(); ++i) {
    if (canonical(table, i)) names.push_back(table[i].name);
  }
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += i + 1 == names.size() ? " or " : ", ";
    out += names[i];
  }
  return out;
}

template <class E>
E parse_name_or_throw(std::string_view name, std::string_view what) {
  if (const auto value = parse_name<E>(name)) return *value;
  throw InvalidArgument(std::string(what) + " must be " + name_list<E>() + "; got \"" +
                        std::string(name) + "\"");
}

#define SOFTREG_NAMES(E)                                     \
  template std::string_view name_of<E>(E);                   \
  template std::optional<E> parse_name<E>(std::string_view); \
  template std::string name_list<E>();                       \
  template E parse_name_or_throw<E>(std::string_view, std::string_view);
SOFTREG_NAMES(Solver)
SOFTREG_NAMES(Scaling)
SOFTREG_NAMES(DType)
SOFTREG_NAMES(Preconditioner)
SOFTREG_NAMES(LrSchedule)
SOFTREG_NAMES(Reduction)
SOFTREG_NAMES(DataFormat)
SOFTREG_NAMES(SamplingOrder)
SOFTREG_NAMES(CausalMask)
SOFTREG_NAMES(AttentionMethod)
SOFTREG_NAMES(WeightLayout)
#undef SOFTREG_NAMES

// The older per-enum functions, now views of the tables.
const char* solver_name(Solver s) {
  return name_of(s).data();
}
const char* scaling_name(Scaling s) {
  return name_of(s).data();
}
const char* dtype_name(DType t) {
  return name_of(t).data();
}
const char* format_name(DataFormat f) {
  return name_of(f).data();
}

DataFormat parse_format(const std::string& name) {
  if (const auto f = parse_name<DataFormat>(name)) return *f;
  throw InvalidArgument("parse_format: unknown data format \"" + name +
                        "\"; expected one of auto, csv, libsvm, svm, npy, idx");
}

}  // namespace softreg

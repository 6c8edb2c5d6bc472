// save_model and load_model: softreg's binary model format (docs/FORMATS.md, "Model files").
#include <sys/stat.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "io/binary_out.hpp"
#include "softreg/atomic_file.hpp"
#include "softreg/error.hpp"
#include "softreg/model_io.hpp"

namespace softreg {
namespace {

using detail::append_f64;
using detail::append_le;

// The first byte has its high bit set so that a text file is never taken for a model, and a
// transfer that strips the eighth bit fails at byte 0 rather than somewhere in the weights.
constexpr std::string_view kMagic("\x89SRMODEL", 8);
constexpr std::uint32_t kFormatVersion = 3;

// Enum codes are spelled out rather than cast, so that reordering an enum cannot change files.
std::uint32_t dtype_code(DType t) {
  return t == DType::float32 ? 0 : 1;
}
std::uint32_t solver_code(Solver s) {
  switch (s) {
    case Solver::lbfgs:
      return 0;
    case Solver::sgd:
      return 1;
    case Solver::adam:
      return 2;
    case Solver::newton_cg:
      return 3;
    case Solver::saga:
      return 4;
    case Solver::automatic:
      break;
  }
  throw InvalidArgument(
      "softreg::save_model: the training record names no solver ('auto' is resolved when a fit "
      "starts)");
}
std::uint32_t scaling_code(Scaling s) {
  switch (s) {
    case Scaling::none:
      return 0;
    case Scaling::standard:
      return 1;
    case Scaling::minmax:
      return 2;
  }
  return 0;
}
constexpr DType kDTypes[] = {DType::float32, DType::float64};
constexpr Solver kSolvers[] = {Solver::lbfgs, Solver::sgd, Solver::adam, Solver::newton_cg,
                               Solver::saga};
constexpr Scaling kScalings[] = {Scaling::none, Scaling::standard, Scaling::minmax};

void put_string(std::string& out, const std::string& s, const char* what) {
  if (s.size() > UINT32_MAX) {
    throw InvalidArgument(std::string("softreg::save_model: ") + what + " is longer than 4 GiB");
  }
  append_le(out, s.size(), 4);
  out += s;
}

void put_f64s(AtomicFile& f, const std::vector<double>& v) {
  if constexpr (std::endian::native == std::endian::little) {
    f.write(v.data(), v.size() * sizeof(double));
  } else {
    std::string bytes;
    for (double x : v) append_f64(bytes, x);
    f.write(bytes);
  }
}

std::string hex32(std::uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

std::vector<unsigned char> read_file(const std::string& path) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) throw IoError(path + ": cannot open: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(::fileno(f.get()), &st) == 0 && S_ISDIR(st.st_mode)) {
    throw IoError(path + ": is a directory, not a model file");
  }
  std::vector<unsigned char> bytes;
  std::vector<unsigned char> chunk(1 << 16);
  for (;;) {
    const std::size_t got = std::fread(chunk.data(), 1, chunk.size(), f.get());
    bytes.insert(bytes.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(got));
    if (got < chunk.size()) break;
  }
  if (std::ferror(f.get())) throw IoError(path + ": read error: " + std::strerror(errno));
  return bytes;
}

/// Bounds-checked little-endian reads over the whole file, with errors that name the file, the
/// byte offset and the field.
class Reader {
 public:
  Reader(const std::string& path, std::span<const unsigned char> bytes)
      : path_(path), bytes_(bytes) {}

  std::uint64_t pos() const { return pos_; }
  std::uint64_t remaining() const { return bytes_.size() - pos_; }

  std::uint64_t uint(int n, std::string_view what) {
    const unsigned char* p = take(static_cast<std::uint64_t>(n), what);
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= std::uint64_t{p[i]} << (8 * i);
    return v;
  }
  std::uint32_t u32(std::string_view what) { return static_cast<std::uint32_t>(uint(4, what)); }
  std::uint64_t u64(std::string_view what) { return uint(8, what); }
  std::int32_t i32(std::string_view what) { return std::bit_cast<std::int32_t>(u32(what)); }
  double f64(std::string_view what) { return std::bit_cast<double>(uint(8, what)); }

  /// A u32 length and that many bytes. A length that runs past the end is reported at the
  /// length field, the byte that is wrong when the file is not simply truncated.
  std::string str(std::string_view what) {
    const std::uint64_t at = pos_;
    const auto n = u32(std::string("length of ").append(what));
    if (n > remaining()) past_end(at, n - remaining(), what);
    const unsigned char* p = take(n, what);
    return {reinterpret_cast<const char*>(p), n};
  }

  /// n float64 values; `at` is where a failure is reported (the count field, if there is one).
  std::vector<double> f64s(std::uint64_t n, std::string_view what, std::uint64_t at) {
    if (n > remaining() / 8) {
      if (n > UINT64_MAX / 8) {
        fail_at(at, "file ends at byte " + std::to_string(bytes_.size()) + ", but " +
                        std::string(what) + " claims " + std::to_string(n) + " values");
      }
      past_end(at, 8 * n - remaining(), what);
    }
    const unsigned char* p = take(n * 8, what);
    std::vector<double> v(n);
    if constexpr (std::endian::native == std::endian::little) {
      if (n > 0) std::memcpy(v.data(), p, n * 8);  // an empty vector's data() may be null
    } else {
      for (std::uint64_t i = 0; i < n; ++i) {
        std::uint64_t u = 0;
        for (int b = 0; b < 8; ++b) u |= std::uint64_t{p[8 * i + b]} << (8 * b);
        v[i] = std::bit_cast<double>(u);
      }
    }
    return v;
  }
  std::vector<double> f64s(std::uint64_t n, std::string_view what) { return f64s(n, what, pos_); }

  /// Throws ParseError at `offset`. Unless `plain`, says whether the checksum in the last four
  /// bytes matches, since a field that makes no sense usually means a damaged file.
  [[noreturn]] void fail_at(std::uint64_t offset, const std::string& msg,
                            bool plain = false) const {
    std::string text = path_ + ": byte " + std::to_string(offset) + ": " + msg;
    if (!plain && !whole_file_checksum_ok()) {
      text += " (the checksum does not match either: the file is truncated or corrupted)";
    }
    throw ParseError(text);
  }

 private:
  const unsigned char* take(std::uint64_t n, std::string_view what) {
    if (n > remaining()) past_end(pos_, n - remaining(), what);
    const unsigned char* p = bytes_.data() + pos_;
    pos_ += n;
    return p;
  }

  [[noreturn]] void past_end(std::uint64_t at, std::uint64_t missing, std::string_view what) const {
    fail_at(at, "file ends at byte " + std::to_string(bytes_.size()) + ", expected " +
                    std::to_string(missing) + " more bytes for " + std::string(what));
  }

  bool whole_file_checksum_ok() const {
    const std::size_t n = bytes_.size();
    if (n < 4) return false;
    std::uint32_t stored = 0;
    for (int i = 0; i < 4; ++i) stored |= std::uint32_t{bytes_[n - 4 + i]} << (8 * i);
    return stored == detail::crc32_update(0, bytes_.data(), n - 4);
  }

  const std::string& path_;
  std::span<const unsigned char> bytes_;
  std::uint64_t pos_ = 0;
};

template <class Enum, std::size_t N>
Enum decode(Reader& r, const Enum (&table)[N], const char* what, const char* expected) {
  const std::uint64_t at = r.pos();
  const std::uint32_t code = r.u32(what);
  if (code >= N) {
    r.fail_at(at, "unknown " + std::string(what) + " code " + std::to_string(code) + " (expected " +
                      expected + ")");
  }
  return table[code];
}

/// Reports the first non-finite value of an array that starts at byte `at`.
void check_finite(const Reader& r, std::uint64_t at, const std::vector<double>& v,
                  const std::string& what) {
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (!std::isfinite(v[i])) {
      r.fail_at(at + 8 * i,
                what + "[" + std::to_string(i) + "] is " + std::to_string(v[i]) +
                    "; a model's weights and preprocessing must be finite",
                true);
    }
  }
}

}  // namespace

void save_model(const SoftmaxRegression& model, const std::string& path) {
  const std::size_t d = model.n_features();
  const std::size_t k = model.n_classes();
  if (k == 0) {
    throw InvalidArgument("softreg::save_model: " + path +
                          ": the model is empty (no classes); fit or assemble one first");
  }
  const Preprocessing& pre = model.preprocessing();
  const TrainingInfo& info = model.info();

  std::string head(kMagic);
  append_le(head, kFormatVersion, 4);
  append_le(head, dtype_code(info.dtype), 4);
  append_le(head, solver_code(info.solver), 4);
  append_le(head, scaling_code(pre.kind), 4);
  append_le(head, d, 8);
  append_le(head, k, 8);
  for (std::size_t c = 0; c < k; ++c) {
    put_string(head, model.classes()[c], "a class label");
  }

  std::string meta;
  append_f64(meta, info.l2);
  append_le(meta, std::bit_cast<std::uint32_t>(static_cast<std::int32_t>(info.iterations)), 4);
  append_le(meta, std::bit_cast<std::uint32_t>(static_cast<std::int32_t>(info.evaluations)), 4);
  append_le(meta, info.converged ? 1 : 0, 4);
  append_f64(meta, info.final_loss);
  append_f64(meta, info.grad_norm);
  append_f64(meta, info.valid_loss);
  append_le(meta, info.n_train, 8);
  append_le(meta, info.n_valid, 8);
  append_f64(meta, info.seconds);
  put_string(meta, info.message, "the training message");
  append_le(meta, info.loss_history.size(), 8);

  // Version 2: the feature names and the training parameters, after the loss history.
  std::string names;
  append_le(names, model.feature_names().size(), 8);
  for (const std::string& name : model.feature_names()) put_string(names, name, "a feature name");
  append_le(names, info.parameters.size(), 8);
  for (const auto& [key, value] : info.parameters) {
    put_string(names, key, "a parameter name");
    put_string(names, value, "a parameter value");
  }

  // Version 3: the temperature, then the accuracy and validation histories (each 0 or H long).
  std::string calibration;
  append_f64(calibration, model.temperature());
  const std::vector<double>* histories[] = {&info.accuracy_history, &info.valid_loss_history,
                                            &info.valid_accuracy_history};
  const char* history_names[] = {"accuracy_history", "valid_loss_history",
                                 "valid_accuracy_history"};
  for (int h = 0; h < 3; ++h) {
    const std::vector<double>& v = *histories[h];
    if (!v.empty() && v.size() != info.loss_history.size()) {
      throw InvalidArgument("softreg::save_model: " + path + ": the training record's " +
                            history_names[h] + " has " + std::to_string(v.size()) +
                            " entries; expected 0 or the loss history's " +
                            std::to_string(info.loss_history.size()));
    }
    append_le(calibration, v.size(), 8);
    for (double x : v) append_f64(calibration, x);
  }

  AtomicFile file(path);
  file.write(head);
  if (pre.kind != Scaling::none) {
    put_f64s(file, pre.offset);
    put_f64s(file, pre.scale);
  }
  put_f64s(file, model.weights());
  put_f64s(file, model.bias());
  file.write(meta);
  put_f64s(file, info.loss_history);
  file.write(names);
  file.write(calibration);
  std::string crc;
  append_le(crc, file.crc(), 4);
  file.write(crc);
  file.commit();
}

namespace {

std::uint32_t read_magic_and_version(Reader& r, const std::vector<unsigned char>& bytes) {
  if (bytes.empty()) r.fail_at(0, "file is empty; expected a softreg model file", true);
  const std::size_t magic_len = std::min(bytes.size(), kMagic.size());
  if (magic_len > 0 && std::memcmp(bytes.data(), kMagic.data(), magic_len) != 0) {
    r.fail_at(0, "not a softreg model file (the magic number is wrong)", true);
  }
  r.uint(8, "the magic number");
  const std::uint32_t version = r.u32("the format version");
  if (version > kFormatVersion) {
    r.fail_at(8, "was written by a newer softreg (format version " + std::to_string(version) +
                     "; this build reads up to " + std::to_string(kFormatVersion) + ")");
  }
  if (version == 0) r.fail_at(8, "format version 0 does not exist (versions start at 1)");
  return version;
}

/// The class labels and where each starts (for the error that names a repeated one).
struct ClassLabels {
  std::vector<std::string> labels;
  std::vector<std::uint64_t> at;
};

ClassLabels read_classes(Reader& r, std::size_t file_size) {
  const std::uint64_t k_at = r.pos();
  const std::uint64_t k = r.u64("the class count K");
  // Each class takes at least a 4-byte label length and an 8-byte bias, so a damaged count
  // fails here instead of reserving memory for it.
  if (k == 0 || k > r.remaining() / 12) {
    r.fail_at(k_at, "class count K = " + std::to_string(k) + " is impossible in a file of " +
                        std::to_string(file_size) + " bytes");
  }
  ClassLabels out;
  out.labels.reserve(k);
  for (std::uint64_t c = 0; c < k; ++c) {
    out.at.push_back(r.pos());
    out.labels.push_back(r.str("class label " + std::to_string(c)));
  }
  return out;
}

/// l2 through the loss history: the training record after the weights.
void read_training_record(Reader& r, TrainingInfo& info) {
  info.l2 = r.f64("l2");
  info.iterations = r.i32("iterations");
  info.evaluations = r.i32("evaluations");
  const std::uint64_t converged_at = r.pos();
  const std::uint32_t converged = r.u32("converged");
  if (converged > 1) {
    r.fail_at(converged_at, "converged is " + std::to_string(converged) + "; expected 0 or 1");
  }
  info.converged = converged == 1;
  info.final_loss = r.f64("final_loss");
  info.grad_norm = r.f64("grad_norm");
  info.valid_loss = r.f64("valid_loss");
  info.n_train = r.u64("n_train");
  info.n_valid = r.u64("n_valid");
  info.seconds = r.f64("seconds");
  info.message = r.str("the training message");
  const std::uint64_t history_at = r.pos();
  const std::uint64_t history_size = r.u64("the loss history length");
  info.loss_history = r.f64s(history_size, "the loss history", history_at);
}

/// Version 2's feature names (0 or d of them, distinct and non-empty: the constructor checks
/// that, reported at `at`) and the training parameters (distinct names, in sorted order).
std::vector<std::string> read_names_and_parameters(Reader& r, std::uint64_t d, TrainingInfo& info,
                                                   std::uint64_t& names_at) {
  names_at = r.pos();
  const std::uint64_t f = r.u64("the feature name count");
  // Each name takes at least its 4-byte length.
  if ((f != 0 && f != d) || f > r.remaining() / 4) {
    r.fail_at(names_at, "feature name count " + std::to_string(f) +
                            " with d = " + std::to_string(d) + " features; expected 0 or d");
  }
  std::vector<std::string> names;
  names.reserve(f);
  for (std::uint64_t j = 0; j < f; ++j) names.push_back(r.str("feature name " + std::to_string(j)));
  const std::uint64_t p_at = r.pos();
  const std::uint64_t p = r.u64("the parameter count");
  if (p > r.remaining() / 8) {
    r.fail_at(p_at, "parameter count " + std::to_string(p) + " is impossible in the " +
                        std::to_string(r.remaining()) + " bytes that remain");
  }
  for (std::uint64_t i = 0; i < p; ++i) {
    const std::uint64_t at = r.pos();
    std::string key = r.str("parameter name " + std::to_string(i));
    std::string value = r.str("parameter value " + std::to_string(i));
    if (!info.parameters.empty() && !(std::prev(info.parameters.end())->first < key)) {
      r.fail_at(at, "parameter name \"" + key + "\" is out of order or repeats", true);
    }
    info.parameters.emplace_hint(info.parameters.end(), std::move(key), std::move(value));
  }
  return names;
}

/// Version 3's temperature (checked once the checksum has matched) and the three histories
/// that run alongside the loss history: each holds 0 or H values (reported at its count).
std::uint64_t read_calibration_and_histories(Reader& r, TrainingInfo& info, double& temperature) {
  const std::uint64_t temperature_at = r.pos();
  temperature = r.f64("the temperature");
  const std::uint64_t h = info.loss_history.size();
  std::vector<double>* histories[] = {&info.accuracy_history, &info.valid_loss_history,
                                      &info.valid_accuracy_history};
  const char* names[] = {"the accuracy history", "the validation loss history",
                         "the validation accuracy history"};
  for (int i = 0; i < 3; ++i) {
    const std::uint64_t at = r.pos();
    const std::uint64_t count = r.u64((std::string("the length of ") + names[i]).c_str());
    if (count != 0 && count != h) {
      r.fail_at(at, std::string(names[i]) + " has length " + std::to_string(count) +
                        "; expected 0 or the loss history's " + std::to_string(h));
    }
    *histories[i] = r.f64s(count, names[i], at);
  }
  return temperature_at;
}

void check_checksum_and_end(Reader& r, const std::vector<unsigned char>& bytes) {
  const std::uint64_t crc_at = r.pos();
  const std::uint32_t computed = detail::crc32_update(0, bytes.data(), crc_at);
  const std::uint32_t stored = r.u32("the checksum");
  if (stored != computed) {
    r.fail_at(crc_at,
              "checksum mismatch: stored " + hex32(stored) + ", computed " + hex32(computed) +
                  "; the file is corrupted",
              true);
  }
  if (r.remaining() != 0) {
    r.fail_at(r.pos(),
              std::to_string(r.remaining()) +
                  " unexpected bytes after the checksum (the file "
                  "should end here)",
              true);
  }
}

// The checksum matched, so a repeated label is a value a writer should never have produced.
void check_distinct(Reader& r, const ClassLabels& classes) {
  std::map<std::string, std::uint64_t> seen;
  for (std::uint64_t c = 0; c < classes.labels.size(); ++c) {
    const auto [it, fresh] = seen.emplace(classes.labels[c], c);
    if (!fresh) {
      r.fail_at(classes.at[c],
                "class label " + std::to_string(c) + " \"" + classes.labels[c] +
                    "\" repeats class label " + std::to_string(it->second),
                true);
    }
  }
}

}  // namespace

SoftmaxRegression load_model(const std::string& path) {
  const std::vector<unsigned char> bytes = read_file(path);
  Reader r(path, bytes);
  const std::uint32_t version = read_magic_and_version(r, bytes);

  TrainingInfo info;
  info.dtype = decode(r, kDTypes, "dtype", "0 float32 or 1 float64");
  info.solver = decode(r, kSolvers, "solver", "0 lbfgs, 1 sgd, 2 adam, 3 newton-cg or 4 saga");
  Preprocessing pre;
  pre.kind = decode(r, kScalings, "scaling", "0 none, 1 standard or 2 minmax");
  const std::uint64_t d = r.u64("the feature count d");
  ClassLabels classes = read_classes(r, bytes.size());
  const std::uint64_t k = classes.labels.size();
  const std::uint64_t per_feature = 8 * (k + (pre.kind != Scaling::none ? 2 : 0));
  if (r.remaining() < 8 * k || d > (r.remaining() - 8 * k) / per_feature) {
    r.fail_at(24, "feature count d = " + std::to_string(d) + " with K = " + std::to_string(k) +
                      " classes does not fit in the " + std::to_string(r.remaining()) +
                      " bytes after the class labels");
  }
  const std::uint64_t offset_at = r.pos();
  if (pre.kind != Scaling::none) {
    pre.offset = r.f64s(d, "the preprocessing offsets");
    pre.scale = r.f64s(d, "the preprocessing scales");
  }
  const std::uint64_t w_at = r.pos();
  std::vector<double> w = r.f64s(d * k, "the weights W");
  const std::uint64_t b_at = r.pos();
  std::vector<double> b = r.f64s(k, "the bias b");
  read_training_record(r, info);
  std::uint64_t names_at = r.pos();
  std::vector<std::string> feature_names;
  if (version >= 2) feature_names = read_names_and_parameters(r, d, info, names_at);
  double temperature = 1.0;
  std::uint64_t temperature_at = r.pos();
  if (version >= 3) temperature_at = read_calibration_and_histories(r, info, temperature);
  check_checksum_and_end(r, bytes);
  if (!(temperature > 0.0) || !std::isfinite(temperature)) {
    r.fail_at(temperature_at,
              "temperature is " + std::to_string(temperature) + "; it must be finite and > 0",
              true);
  }

  check_distinct(r, classes);
  check_finite(r, offset_at, pre.offset, "offset");
  check_finite(r, offset_at + 8 * pre.offset.size(), pre.scale, "scale");
  check_finite(r, w_at, w, "W");
  check_finite(r, b_at, b, "b");
  try {
    return SoftmaxRegression(std::move(classes.labels), d, std::move(w), std::move(b),
                             std::move(pre), std::move(info), std::move(feature_names),
                             temperature);
  } catch (const InvalidArgument& e) {
    // Sizes, labels and values were checked above, so only the feature names can be wrong.
    r.fail_at(names_at, e.what(), true);
  }
}

}  // namespace softreg

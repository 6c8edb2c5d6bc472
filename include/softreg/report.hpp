// The evaluation report: one self-contained HTML page (inline CSS and SVG, no scripts, no
// network) with a model's training curves, confusion matrix, per-class scores, reliability
// diagrams and, for images, the most confidently wrong predictions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "softreg/matrix.hpp"
#include "softreg/model.hpp"

namespace softreg {

struct ReportOptions {
  std::string title = "softreg evaluation report";
  std::string model_name;  // shown in the header (the model file), may be empty
  std::string data_name;   // shown in the header (the data file), may be empty
  /// Display names of the classes, in classes() order (K of them), or empty for the labels.
  std::vector<std::string> class_names;
  /// Equal-width bins of the reliability diagrams and of ECE / MCE (calibration_metrics).
  std::size_t bins = 15;
  /// Rows are images of image_height x image_width pixels (row-major, values in [0, 1]; IDX
  /// images read as pixel / 255 are): the report shows the max_images most confidently wrong
  /// predictions as a grid. 0 x 0: no grid. Their product must be the pixel count per image.
  std::size_t image_height = 0;
  std::size_t image_width = 0;
  std::size_t max_images = 24;
};

/// The HTML of the report of `model` on data x (n x d) with true class indices y (n entries in
/// [0, K)). It shows:
/// - a summary: rows, classes, accuracy, log loss, macro F1, the temperature, ECE before
///   (T = 1) and after (the model's T) calibration;
/// - the training curves from model.info(): loss and accuracy per iteration / epoch, training
///   against validation where the model recorded them (TrainingInfo histories), as
///   <svg class="curve loss"> and <svg class="curve accuracy"> with one <path class="train">
///   or <path class="valid"> per series;
/// - the confusion matrix as a heat map (<svg class="confusion">, a <rect class="cell"> per
///   entry, with its count as text when K <= 30);
/// - per-class precision, recall, F1 and support (<table class="per-class">);
/// - reliability diagrams before and after calibration (<svg class="reliability before"> and
///   <svg class="reliability after">, a <rect class="bar"> per non-empty bin, the diagonal);
///   only "before" when the model's temperature is 1;
/// - with image dimensions, the most confidently wrong rows as PNG images (data: URIs, in
///   <figure class="wrong">), each with its predicted and true label and probability.
/// Pixels come from `images` (n x image_height x image_width values in [0, 1], clamped) or,
/// when it is empty, from x itself (which must then be dense with d = height x width).
/// Throws InvalidArgument on mismatched sizes, labels outside [0, K), class_names of another
/// length than K, image dimensions that do not match, or NaN logits (naming the row); n == 0
/// is an InvalidArgument (nothing to report on). Deterministic: the same inputs give the same
/// bytes.
template <class T>
std::string report_html(const SoftmaxRegression& model, const FeatureMatrix<T>& x,
                        std::span<const std::int64_t> y, const ReportOptions& options = {},
                        std::span<const double> images = {}, int threads = 0);

/// report_html written to path through AtomicFile (a temporary file renamed over path).
template <class T>
void write_report(const std::string& path, const SoftmaxRegression& model,
                  const FeatureMatrix<T>& x, std::span<const std::int64_t> y,
                  const ReportOptions& options = {}, std::span<const double> images = {},
                  int threads = 0);

}  // namespace softreg

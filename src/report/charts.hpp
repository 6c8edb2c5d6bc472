// The report's inline SVG charts: line charts, the confusion heat map, reliability diagrams.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "softreg/metrics.hpp"

namespace softreg::detail {

/// Text for HTML and SVG: & < > " ' escaped.
std::string html_escape(std::string_view s);

/// v with `digits` decimals ("0.8412"); an en dash for NaN.
std::string fixed(double v, int digits);

/// All 17 significant digits, for data-value attributes that tests and scripts read back.
std::string exact(double v);

struct Series {
  std::string name;   // legend text
  std::string klass;  // the path's class: "train" or "valid"
  std::string color;
  std::vector<double> y;  // y[i] at x = i + 1; values < 0 or NaN are gaps (not recorded)
};

/// A line chart <svg class="curve {klass}"> over x = 1 .. the longest series, y ranging over
/// the values (within [y_min, y_max] when those are finite), with axes, ticks, a legend and
/// one <path class="{series.klass}"> per non-empty series.
std::string line_chart(const std::string& klass, const std::string& title,
                       const std::string& x_label, const std::string& y_label,
                       const std::vector<Series>& series, double y_min, double y_max);

/// The K x K confusion matrix as a heat map <svg class="confusion">: cell colour by the share
/// of the true class's row, the count in each cell when K <= 30, labels on both axes.
std::string confusion_heat_map(const std::vector<std::size_t>& confusion,
                               const std::vector<std::string>& labels);

/// A reliability diagram <svg class="reliability {which}">: per non-empty bin a bar of its
/// accuracy (<rect class="bar">) and the gap to its mean confidence (<rect class="gap">), the
/// diagonal (<line class="diagonal">), and the share of rows per bin along the bottom.
std::string reliability_diagram(const std::string& which, const std::string& title,
                                const Calibration& c);

}  // namespace softreg::detail

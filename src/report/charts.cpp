// The report's inline SVG charts. Every chart is an <svg viewBox> without a fixed size, so it
// scales with the page; colours are attributes (not only CSS) so a chart copied out of the page
// keeps them.
#include "report/charts.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace softreg::detail {
namespace {

std::string num(double v) {  // coordinates: 2 decimals are sub-pixel at any zoom that matters
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

/// Tick values 1, 2 or 5 x 10^k apart covering [lo, hi], about `want` of them.
std::vector<double> ticks(double lo, double hi, int want) {
  const double span = hi - lo;
  if (!(span > 0.0)) return {lo};
  const double raw = span / want;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double f : {1.0, 2.0, 5.0, 10.0}) {
    step = f * mag;
    if (step >= raw) break;
  }
  std::vector<double> out;
  for (double t = std::ceil(lo / step - 1e-9) * step; t <= hi + 1e-9 * span; t += step) {
    out.push_back(std::fabs(t) < 1e-12 * span ? 0.0 : t);
  }
  return out;
}

std::string tick_text(double v, double step) {
  const int digits = step >= 1.0 ? 0 : int(std::ceil(-std::log10(step) - 1e-9));
  return fixed(v, std::min(digits, 6));
}

}  // namespace

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string fixed(double v, int digits) {
  if (std::isnan(v)) return "\xe2\x80\x93";  // en dash
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string exact(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::string line_chart(const std::string& klass, const std::string& title,
                       const std::string& x_label, const std::string& y_label,
                       const std::vector<Series>& series, double y_min, double y_max) {
  constexpr double kW = 480, kH = 280, kLeft = 58, kRight = 14, kTop = 30, kBottom = 44;
  std::size_t n = 0;
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const Series& s : series) {
    for (std::size_t i = 0; i < s.y.size(); ++i) {
      if (!(s.y[i] >= 0.0) || !std::isfinite(s.y[i])) continue;
      n = std::max(n, i + 1);
      lo = std::min(lo, s.y[i]);
      hi = std::max(hi, s.y[i]);
    }
  }
  std::string out = "<svg class=\"curve " + klass + "\" viewBox=\"0 0 " + num(kW) + " " + num(kH) +
                    "\" role=\"img\" aria-label=\"" + html_escape(title) + "\">";
  out += "<text class=\"chart-title\" x=\"" + num(kLeft) + "\" y=\"18\" font-size=\"14\">" +
         html_escape(title) + "</text>";
  if (n == 0) {
    out += "<text x=\"" + num(kW / 2) + "\" y=\"" + num(kH / 2) +
           "\" text-anchor=\"middle\" font-size=\"13\" fill=\"#666\">not recorded</text></svg>";
    return out;
  }
  if (std::isfinite(y_min)) lo = std::max(lo, y_min);
  if (std::isfinite(y_max)) hi = std::min(hi, y_max);
  if (hi - lo < 1e-12) {
    lo -= 0.5 * std::max(std::fabs(lo), 1e-3) * 0.1;
    hi += 0.5 * std::max(std::fabs(hi), 1e-3) * 0.1;
  }
  const double pad = 0.05 * (hi - lo);
  lo -= pad;
  hi += pad;
  if (std::isfinite(y_min)) lo = std::max(lo, y_min);
  if (std::isfinite(y_max)) hi = std::min(hi, y_max);
  const double x1 = double(std::max<std::size_t>(n, 2));
  const auto px = [&](double x) { return kLeft + (x - 1.0) / (x1 - 1.0) * (kW - kLeft - kRight); };
  const auto py = [&](double y) { return kTop + (hi - y) / (hi - lo) * (kH - kTop - kBottom); };
  // Grid and y ticks.
  const auto yt = ticks(lo, hi, 5);
  const double ystep = yt.size() > 1 ? yt[1] - yt[0] : 1.0;
  for (double t : yt) {
    out += "<line class=\"grid\" x1=\"" + num(kLeft) + "\" x2=\"" + num(kW - kRight) + "\" y1=\"" +
           num(py(t)) + "\" y2=\"" + num(py(t)) + "\" stroke=\"#e3e3e3\"/>";
    out += "<text x=\"" + num(kLeft - 6) + "\" y=\"" + num(py(t) + 4) +
           "\" text-anchor=\"end\" font-size=\"11\">" + tick_text(t, ystep) + "</text>";
  }
  for (double t : ticks(1.0, x1, 6)) {
    if (t < 1.0 || std::fabs(t - std::round(t)) > 1e-9) continue;
    out += "<line x1=\"" + num(px(t)) + "\" x2=\"" + num(px(t)) + "\" y1=\"" + num(kH - kBottom) +
           "\" y2=\"" + num(kH - kBottom + 4) + "\" stroke=\"#444\"/>";
    out += "<text x=\"" + num(px(t)) + "\" y=\"" + num(kH - kBottom + 16) +
           "\" text-anchor=\"middle\" font-size=\"11\">" + fixed(t, 0) + "</text>";
  }
  out += "<line class=\"axis\" x1=\"" + num(kLeft) + "\" x2=\"" + num(kW - kRight) + "\" y1=\"" +
         num(kH - kBottom) + "\" y2=\"" + num(kH - kBottom) + "\" stroke=\"#444\"/>";
  out += "<line class=\"axis\" x1=\"" + num(kLeft) + "\" x2=\"" + num(kLeft) + "\" y1=\"" +
         num(kTop) + "\" y2=\"" + num(kH - kBottom) + "\" stroke=\"#444\"/>";
  out += "<text x=\"" + num((kLeft + kW - kRight) / 2) + "\" y=\"" + num(kH - 8) +
         "\" text-anchor=\"middle\" font-size=\"12\">" + html_escape(x_label) + "</text>";
  out += "<text transform=\"translate(14 " + num((kTop + kH - kBottom) / 2) +
         ") rotate(-90)\" text-anchor=\"middle\" font-size=\"12\">" + html_escape(y_label) +
         "</text>";
  // The series: a path per run of recorded values, markers when there are few points.
  double legend_x = kW - kRight;
  for (auto it = series.rbegin(); it != series.rend(); ++it) {
    const Series& s = *it;
    std::string d;
    std::string markers;
    bool pen_down = false;
    for (std::size_t i = 0; i < s.y.size(); ++i) {
      const double v = s.y[i];
      if (!(v >= 0.0) || !std::isfinite(v)) {
        pen_down = false;
        continue;
      }
      const double yv = std::clamp(v, lo, hi);
      d +=
          (pen_down ? " L" : (d.empty() ? "M" : " M")) + num(px(double(i + 1))) + " " + num(py(yv));
      pen_down = true;
      if (n <= 40) {
        markers += "<circle cx=\"" + num(px(double(i + 1))) + "\" cy=\"" + num(py(yv)) +
                   "\" r=\"2.5\" fill=\"" + s.color + "\"/>";
      }
    }
    if (d.empty()) continue;
    out += "<path class=\"" + s.klass + "\" d=\"" + d + "\" fill=\"none\" stroke=\"" + s.color +
           "\" stroke-width=\"2\"><title>" + html_escape(s.name) + "</title></path>" + markers;
    // Legend, right-aligned in the title row.
    const double w = 14.0 + 6.5 * double(s.name.size());
    legend_x -= w + 10;
    out += "<rect x=\"" + num(legend_x) + "\" y=\"10\" width=\"10\" height=\"10\" fill=\"" +
           s.color + "\"/><text x=\"" + num(legend_x + 14) + "\" y=\"19\" font-size=\"11\">" +
           html_escape(s.name) + "</text>";
  }
  out += "</svg>";
  return out;
}

std::string confusion_heat_map(const std::vector<std::size_t>& confusion,
                               const std::vector<std::string>& labels) {
  const std::size_t k = labels.size();
  const double cell = std::clamp(440.0 / double(k), 6.0, 44.0);
  const double left = 104, top = 34, size = cell * double(k);
  const double w = left + size + 10, h = top + size + 34;
  const bool counts = k <= 30, names = k <= 60;
  std::string out = "<svg class=\"confusion\" viewBox=\"0 0 " + num(w) + " " + num(h) +
                    "\" role=\"img\" aria-label=\"confusion matrix\">";
  out += "<text x=\"" + num(left + size / 2) +
         "\" y=\"12\" text-anchor=\"middle\" font-size=\"12\">predicted class</text>";
  out += "<text transform=\"translate(12 " + num(top + size / 2) +
         ") rotate(-90)\" text-anchor=\"middle\" font-size=\"12\">true class</text>";
  const double font = std::min(11.0, cell * 0.36);
  for (std::size_t r = 0; r < k; ++r) {
    std::size_t row_total = 0;
    for (std::size_t c = 0; c < k; ++c) row_total += confusion[r * k + c];
    for (std::size_t c = 0; c < k; ++c) {
      const std::size_t v = confusion[r * k + c];
      const double share = row_total ? double(v) / double(row_total) : 0.0;
      // White to a deep blue by the share of the row (the true class's recall on the diagonal).
      const int red = int(std::lround(255 - share * (255 - 8)));
      const int green = int(std::lround(255 - share * (255 - 69)));
      const int blue = int(std::lround(255 - share * (255 - 148)));
      char fill[16];
      std::snprintf(fill, sizeof fill, "#%02x%02x%02x", red, green, blue);
      const double x = left + double(c) * cell, y = top + double(r) * cell;
      out += "<rect class=\"cell" + std::string(r == c ? " diagonal" : "") + "\" x=\"" + num(x) +
             "\" y=\"" + num(y) + "\" width=\"" + num(cell) + "\" height=\"" + num(cell) +
             "\" fill=\"" + fill + "\" stroke=\"#fff\" stroke-width=\"0.5\" data-count=\"" +
             std::to_string(v) + "\"><title>true " + html_escape(labels[r]) + ", predicted " +
             html_escape(labels[c]) + ": " + std::to_string(v) + "</title></rect>";
      if (counts && v > 0) {
        out += "<text class=\"count\" x=\"" + num(x + cell / 2) + "\" y=\"" +
               num(y + cell / 2 + font * 0.35) + "\" text-anchor=\"middle\" font-size=\"" +
               num(font) + "\" fill=\"" + (share > 0.5 ? "#fff" : "#222") + "\">" +
               std::to_string(v) + "</text>";
      }
    }
  }
  if (names) {
    const double label_font = std::min(11.0, cell * 0.8);
    for (std::size_t c = 0; c < k; ++c) {
      const std::string name = html_escape(labels[c].substr(0, 14));
      out += "<text x=\"" + num(left - 4) + "\" y=\"" +
             num(top + (double(c) + 0.5) * cell + label_font * 0.35) +
             "\" text-anchor=\"end\" font-size=\"" + num(label_font) + "\">" + name + "</text>";
      out += "<text transform=\"translate(" + num(left + (double(c) + 0.5) * cell) + " " +
             num(top + size + 6) + ") rotate(30)\" font-size=\"" + num(label_font) + "\">" +
             html_escape(labels[c].substr(0, 10)) + "</text>";
    }
  }
  out += "</svg>";
  return out;
}

std::string reliability_diagram(const std::string& which, const std::string& title,
                                const Calibration& c) {
  constexpr double kW = 340, kH = 330, kLeft = 48, kRight = 12, kTop = 28, kPlot = 240;
  const auto px = [&](double v) { return kLeft + v * (kW - kLeft - kRight); };
  const auto py = [&](double v) { return kTop + (1.0 - v) * kPlot; };
  std::string out = "<svg class=\"reliability " + which + "\" viewBox=\"0 0 " + num(kW) + " " +
                    num(kH) + "\" role=\"img\" aria-label=\"" + html_escape(title) + "\">";
  out += "<text class=\"chart-title\" x=\"" + num(kLeft) + "\" y=\"17\" font-size=\"13\">" +
         html_escape(title) + "</text>";
  for (double t : {0.0, 0.25, 0.5, 0.75, 1.0}) {
    out += "<line class=\"grid\" x1=\"" + num(px(0)) + "\" x2=\"" + num(px(1)) + "\" y1=\"" +
           num(py(t)) + "\" y2=\"" + num(py(t)) + "\" stroke=\"#e3e3e3\"/>";
    out += "<text x=\"" + num(kLeft - 5) + "\" y=\"" + num(py(t) + 4) +
           "\" text-anchor=\"end\" font-size=\"10\">" + fixed(t, 2) + "</text>";
    out += "<text x=\"" + num(px(t)) + "\" y=\"" + num(kTop + kPlot + 14) +
           "\" text-anchor=\"middle\" font-size=\"10\">" + fixed(t, 2) + "</text>";
  }
  std::size_t most = 0;
  for (const ReliabilityBin& b : c.bins) most = std::max(most, b.count);
  const double hist_top = kTop + kPlot + 22, hist_h = kH - hist_top - 20;
  for (const ReliabilityBin& b : c.bins) {
    if (b.count == 0) continue;
    const double x = px(b.lower) + 0.5, w = std::max(px(b.upper) - px(b.lower) - 1.0, 0.5);
    const std::string tip = "<title>confidence " + fixed(b.lower, 2) + "\xe2\x80\x93" +
                            fixed(b.upper, 2) + ": " + std::to_string(b.count) +
                            " rows, accuracy " + fixed(b.accuracy, 3) + ", mean confidence " +
                            fixed(b.confidence, 3) + "</title>";
    out += "<rect class=\"bar\" x=\"" + num(x) + "\" y=\"" + num(py(b.accuracy)) + "\" width=\"" +
           num(w) + "\" height=\"" + num(py(0) - py(b.accuracy)) +
           "\" fill=\"#2b6cb0\" data-accuracy=\"" + exact(b.accuracy) + "\" data-confidence=\"" +
           exact(b.confidence) + "\" data-count=\"" + std::to_string(b.count) + "\">" + tip +
           "</rect>";
    const double top = std::max(b.accuracy, b.confidence),
                 bottom = std::min(b.accuracy, b.confidence);
    out += "<rect class=\"gap\" x=\"" + num(x) + "\" y=\"" + num(py(top)) + "\" width=\"" + num(w) +
           "\" height=\"" + num(py(bottom) - py(top)) +
           "\" fill=\"#e53e3e\" fill-opacity=\"0.35\" stroke=\"#e53e3e\" stroke-width=\"0.6\"/>";
    // The share of rows in the bin, as a small bar under the axis.
    const double hh = most ? hist_h * double(b.count) / double(most) : 0.0;
    out += "<rect class=\"count\" x=\"" + num(x) + "\" y=\"" + num(hist_top + hist_h - hh) +
           "\" width=\"" + num(w) + "\" height=\"" + num(hh) + "\" fill=\"#a0aec0\"/>";
  }
  out += "<line class=\"diagonal\" x1=\"" + num(px(0)) + "\" y1=\"" + num(py(0)) + "\" x2=\"" +
         num(px(1)) + "\" y2=\"" + num(py(1)) + "\" stroke=\"#444\" stroke-dasharray=\"4 3\"/>";
  out += "<line class=\"axis\" x1=\"" + num(px(0)) + "\" x2=\"" + num(px(1)) + "\" y1=\"" +
         num(py(0)) + "\" y2=\"" + num(py(0)) + "\" stroke=\"#444\"/>";
  out += "<text transform=\"translate(12 " + num(kTop + kPlot / 2) +
         ") rotate(-90)\" text-anchor=\"middle\" font-size=\"11\">accuracy</text>";
  out += "<text x=\"" + num(px(0.5)) + "\" y=\"" + num(kH - 4) +
         "\" text-anchor=\"middle\" font-size=\"11\">confidence (bars below: rows per bin)</text>";
  out += "</svg>";
  return out;
}

}  // namespace softreg::detail

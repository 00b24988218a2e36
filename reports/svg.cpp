#include "reports/svg.h"

#include <algorithm>

#include <fmt/format.h>

namespace yardstick {

namespace {

// Layout shared by the horizontal charts: a label column, a plot area, a row per value.
constexpr double kLabelWidth = 200, kPlotWidth = 460, kRowHeight = 24, kTop = 34, kBottom = 30, kRight = 60;

// A colour-blind-safe palette (Okabe-Ito) for series.
constexpr const char* kPalette[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"};

double clamp01(double v) { return std::clamp(v, 0.0, 1.0); }
double x_of(double v) { return kLabelWidth + kPlotWidth * clamp01(v); }

std::string header(const std::string& id, const std::string& title, double width, double height) {
  return fmt::format(
      "<svg class=\"chart\" id=\"{}\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{:.0f}\" height=\"{:.0f}\" "
      "viewBox=\"0 0 {:.0f} {:.0f}\" role=\"img\" aria-label=\"{}\" font-family=\"sans-serif\" font-size=\"12\">"
      "<title>{}</title><text x=\"4\" y=\"18\" font-size=\"14\" font-weight=\"bold\">{}</text>",
      xml_escape(id), width, height, width, height, xml_escape(title), xml_escape(title), xml_escape(title));
}

// Vertical grid lines and their percent labels under the plot.
std::string percent_axis(double plot_bottom) {
  std::string out;
  for (int p = 0; p <= 100; p += 20) {
    double x = x_of(p / 100.0);
    out += fmt::format("<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#ddd\"/>", x, kTop - 4, x,
                       plot_bottom);
    out += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\" fill=\"#555\">{}%</text>", x,
                       plot_bottom + 16, p);
  }
  return out;
}

std::string row_label(const std::string& label, double y) {
  std::string shown = label.size() > 30 ? label.substr(0, 28) + "…" : label;
  return fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\">{}<title>{}</title></text>", kLabelWidth - 8,
                     y + 4, xml_escape(shown), xml_escape(label));
}

std::string whisker(const ChartRow& r, double y) {
  double lo = x_of(r.ci_low), hi = x_of(r.ci_high);
  return fmt::format(
      "<g class=\"whisker\"><line x1=\"{0:.1f}\" y1=\"{2:.1f}\" x2=\"{1:.1f}\" y2=\"{2:.1f}\" stroke=\"#222\"/>"
      "<line x1=\"{0:.1f}\" y1=\"{3:.1f}\" x2=\"{0:.1f}\" y2=\"{4:.1f}\" stroke=\"#222\"/>"
      "<line x1=\"{1:.1f}\" y1=\"{3:.1f}\" x2=\"{1:.1f}\" y2=\"{4:.1f}\" stroke=\"#222\"/></g>",
      lo, hi, y, y - 5, y + 5);
}

std::string value_text(const ChartRow& r, double y) {
  return fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" fill=\"#333\">{:.1f}</text>", kLabelWidth + kPlotWidth + 6, y + 4,
                     100.0 * r.value);
}

}  // namespace

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string svg_interval_chart(const std::string& id, const std::string& title, const std::vector<ChartRow>& rows,
                               const std::string& reference_name) {
  double plot_bottom = kTop + kRowHeight * static_cast<double>(rows.size());
  double height = plot_bottom + kBottom + 18;
  std::string out = header(id, title, kLabelWidth + kPlotWidth + kRight, height) + percent_axis(plot_bottom);
  for (size_t i = 0; i < rows.size(); ++i) {
    const ChartRow& r = rows[i];
    double y = kTop + kRowHeight * (static_cast<double>(i) + 0.5);
    out += row_label(r.label, y) + whisker(r, y);
    out += fmt::format("<circle class=\"ours\" cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"5\" fill=\"{}\"/>", x_of(r.value), y,
                       kPalette[0]);
    if (r.reference) {
      double x = x_of(*r.reference);
      out += fmt::format(
          "<path class=\"reference\" d=\"M{0:.1f} {1:.1f} l6 6 l-6 6 l-6 -6 z\" fill=\"none\" stroke=\"{2}\" "
          "stroke-width=\"2\"><title>{3} {4:.1f}%</title></path>",
          x, y - 6, kPalette[1], xml_escape(reference_name), 100.0 * *r.reference);
    }
    out += value_text(r, y);
  }
  double ly = height - 8;
  out += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"5\" fill=\"{}\"/><text x=\"{:.1f}\" y=\"{:.1f}\">ours "
                     "(95% interval)</text>",
                     kLabelWidth, ly - 4, kPalette[0], kLabelWidth + 10, ly);
  if (!reference_name.empty())
    out += fmt::format("<path d=\"M{0:.1f} {1:.1f} l6 6 l-6 6 l-6 -6 z\" fill=\"none\" stroke=\"{2}\" "
                       "stroke-width=\"2\"/><text x=\"{3:.1f}\" y=\"{4:.1f}\">{5}</text>",
                       kLabelWidth + 170, ly - 10, kPalette[1], kLabelWidth + 180, ly, xml_escape(reference_name));
  return out + "</svg>";
}

std::string svg_bar_chart(const std::string& id, const std::string& title, const std::vector<ChartRow>& rows) {
  double plot_bottom = kTop + kRowHeight * static_cast<double>(rows.size());
  std::string out = header(id, title, kLabelWidth + kPlotWidth + kRight, plot_bottom + kBottom) + percent_axis(plot_bottom);
  for (size_t i = 0; i < rows.size(); ++i) {
    const ChartRow& r = rows[i];
    double y = kTop + kRowHeight * (static_cast<double>(i) + 0.5);
    out += row_label(r.label, y);
    out += fmt::format("<rect class=\"bar\" x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"{}\" "
                       "fill-opacity=\"0.75\"/>",
                       kLabelWidth, y - kRowHeight * 0.35, x_of(r.value) - kLabelWidth, kRowHeight * 0.7, kPalette[0]);
    out += whisker(r, y) + value_text(r, y);
  }
  return out + "</svg>";
}

std::string svg_line_chart(const std::string& id, const std::string& title, const std::vector<std::string>& x_labels,
                           const std::vector<ChartSeries>& series) {
  constexpr double left = 50, top = 34, plot_w = 560, plot_h = 220, legend_w = 180;
  double width = left + plot_w + legend_w, height = top + plot_h + 50;
  std::string out = header(id, title, width, height);
  auto y_of = [&](double v) { return top + plot_h * (1.0 - clamp01(v)); };
  size_t n = std::max<size_t>(x_labels.size(), 1);
  auto x_at = [&](size_t i) { return left + (n == 1 ? plot_w / 2 : plot_w * static_cast<double>(i) / static_cast<double>(n - 1)); };
  for (int p = 0; p <= 100; p += 20) {
    double y = y_of(p / 100.0);
    out += fmt::format("<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#ddd\"/>"
                       "<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\" fill=\"#555\">{}%</text>",
                       left, y, left + plot_w, y, left - 6, y + 4, p);
  }
  for (size_t i = 0; i < x_labels.size(); ++i) {
    std::string shown = x_labels[i].size() > 18 ? x_labels[i].substr(0, 16) + "…" : x_labels[i];
    out += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\" fill=\"#333\">{}<title>{}</title></text>",
                       x_at(i), top + plot_h + 18, xml_escape(shown), xml_escape(x_labels[i]));
  }
  for (size_t s = 0; s < series.size(); ++s) {
    const char* colour = kPalette[s % std::size(kPalette)];
    std::string points;
    for (size_t i = 0; i < series[s].values.size() && i < x_labels.size(); ++i)
      if (series[s].values[i]) {
        double x = x_at(i), y = y_of(*series[s].values[i]);
        points += fmt::format("{:.1f},{:.1f} ", x, y);
        out += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"4\" fill=\"{}\"><title>{} {}: {:.1f}%</title></circle>",
                           x, y, colour, xml_escape(series[s].name), xml_escape(x_labels[i]),
                           100.0 * *series[s].values[i]);
      }
    out += fmt::format("<polyline class=\"series\" points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"/>", points,
                       colour);
    double ly = top + 10 + 18 * static_cast<double>(s);
    out += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"12\" height=\"3\" fill=\"{}\"/><text x=\"{:.1f}\" "
                       "y=\"{:.1f}\">{}</text>",
                       left + plot_w + 14, ly - 4, colour, left + plot_w + 32, ly, xml_escape(series[s].name));
  }
  return out + "</svg>";
}

}  // namespace yardstick

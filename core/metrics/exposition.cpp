// OpenMetrics / Prometheus text rendering.
#include "core/metrics/exposition.h"

#include <charconv>
#include <cmath>
#include <limits>

namespace mailroom::metrics {

namespace {

// Backslash and line feed escaped, and the double quote when `quote` (label values, and HELP
// text in OpenMetrics).
std::string escape(std::string_view text, bool quote) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quote) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

// {a="x",b="y"} with an optional extra label (a histogram's le) last; nothing without labels.
void append_labels(std::string& out, const std::vector<std::string>& names, const std::vector<std::string>& values,
                   std::string_view extra_name = {}, std::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty()) return;
  out += '{';
  bool first = true;
  for (std::size_t i = 0; i < names.size() && i < values.size(); ++i) {
    if (!first) out += ',';
    first = false;
    out += names[i];
    out += "=\"";
    out += escape_label_value(values[i]);
    out += '"';
  }
  if (!extra_name.empty()) {
    if (!first) out += ',';
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out += '"';
  }
  out += '}';
}

void append_line(std::string& out, std::string_view name, const std::vector<std::string>& label_names,
                 const std::vector<std::string>& labels, const std::string& value, std::string_view extra_name = {},
                 std::string_view extra_value = {}) {
  out += name;
  append_labels(out, label_names, labels, extra_name, extra_value);
  out += ' ';
  out += value;
  out += '\n';
}

// A bucket bound as the `le` label: floats keep a fraction ("1.0"), as Prometheus clients write them.
std::string bound_text(double bound) {
  std::string text = format_value(bound);
  if (std::isfinite(bound) && text.find_first_of(".e") == std::string::npos) text += ".0";
  return text;
}

const char* type_name(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "unknown";
}

void render_family(std::string& out, const Family& f, TextFormat format) {
  // Prometheus 0.0.4 names a counter's family by its sample name (with _total).
  const std::string total = f.name + "_total";
  const std::string& declared = f.type == MetricType::kCounter && format == TextFormat::kPrometheus ? total : f.name;
  out += "# HELP " + declared + ' ' + escape(f.help, format == TextFormat::kOpenMetrics) + '\n';
  out += "# TYPE " + declared + ' ' + type_name(f.type) + '\n';
  if (f.type != MetricType::kHistogram) {
    const std::string& sample_name = f.type == MetricType::kCounter ? total : f.name;
    for (const Sample& s : f.samples) append_line(out, sample_name, f.label_names, s.labels, format_value(s.value));
    return;
  }
  const std::string bucket = f.name + "_bucket";
  for (const HistogramSample& h : f.histograms) {
    uint64_t cumulative = 0;
    for (std::size_t i = 0; i <= f.bounds.size(); ++i) {
      if (i < h.buckets.size()) cumulative += h.buckets[i];
      const std::string le = i < f.bounds.size() ? bound_text(f.bounds[i]) : "+Inf";
      append_line(out, bucket, f.label_names, h.labels, std::to_string(cumulative), "le", le);
    }
    append_line(out, f.name + "_sum", f.label_names, h.labels, format_value(h.sum));
    append_line(out, f.name + "_count", f.label_names, h.labels, std::to_string(h.count));
  }
}

}  // namespace

std::string_view content_type(TextFormat format) {
  return format == TextFormat::kOpenMetrics ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
                                            : "text/plain; version=0.0.4; charset=utf-8";
}

std::string escape_label_value(std::string_view value) { return escape(value, true); }

std::string format_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::trunc(value) && std::fabs(value) < 1e15) {
    return std::to_string(static_cast<int64_t>(value));
  }
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  if (ec != std::errc()) return "NaN";  // cannot happen: 64 bytes hold any double
  return std::string(buf, end);
}

std::string render(const std::vector<Family>& families, TextFormat format) {
  std::string out;
  for (const Family& f : families) render_family(out, f, format);
  if (format == TextFormat::kOpenMetrics) out += "# EOF\n";
  return out;
}

}  // namespace mailroom::metrics

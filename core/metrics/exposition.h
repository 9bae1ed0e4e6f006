// The text a scraper reads: metric families as plain values (what the registry and the daemon's
// collectors produce), rendered in the OpenMetrics 1.0 text format or in Prometheus' older text
// format 0.0.4. Pure: no registry, no clock, no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mailroom::metrics {

enum class MetricType { kCounter, kGauge, kHistogram };

// One series of a counter or gauge: its label values (in the family's label order) and value.
struct Sample {
  std::vector<std::string> labels;
  double value = 0;
};

// One series of a histogram: counts per bucket (not cumulative; one more than the family's
// bounds, the last for +Inf), the sum and the count of the observed values.
struct HistogramSample {
  std::vector<std::string> labels;
  std::vector<uint64_t> buckets;
  double sum = 0;
  uint64_t count = 0;
};

// One metric family. `name` is the family's name: a counter's samples get `_total` appended, a
// histogram's `_bucket`, `_sum` and `_count`.
struct Family {
  std::string name;
  std::string help;
  MetricType type = MetricType::kCounter;
  std::vector<std::string> label_names;
  std::vector<double> bounds;  // histogram bucket upper bounds, increasing (+Inf implied)
  std::vector<Sample> samples;
  std::vector<HistogramSample> histograms;
};

enum class TextFormat {
  kOpenMetrics,  // application/openmetrics-text; version=1.0.0 (ends with "# EOF")
  kPrometheus,   // text/plain; version=0.0.4
};

// The Content-Type header value of `format`.
std::string_view content_type(TextFormat format);

// Label values escaped for the exposition: backslash, double quote and line feed.
std::string escape_label_value(std::string_view value);

// A number as the exposition writes it: integers without a fraction ("3"), others in the
// shortest form that reads back the same ("0.25", "1.5e+21"), "+Inf", "-Inf", "NaN".
std::string format_value(double value);

// Every family, in order, with its # HELP and # TYPE lines.
std::string render(const std::vector<Family>& families, TextFormat format);

}  // namespace mailroom::metrics

// Metric cells, families and the registry.
#include "core/metrics/registry.h"

#include <algorithm>
#include <stdexcept>

namespace mailroom::metrics {

void Gauge::add(double delta) { value_.fetch_add(delta, std::memory_order_relaxed); }

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1)) {}

void Histogram::observe(double v) {
  // The first bucket whose bound is >= v (`le`); past the last bound, the +Inf bucket.
  const auto i = static_cast<std::size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

HistogramSample Histogram::sample() const {
  HistogramSample s;
  s.buckets.reserve(bounds_.size() + 1);
  for (std::size_t i = 0; i <= bounds_.size(); ++i) s.buckets.push_back(buckets_[i].load(std::memory_order_relaxed));
  s.sum = sum_.load(std::memory_order_relaxed);
  s.count = count_.load(std::memory_order_relaxed);
  return s;
}

template <typename Cell>
Family FamilyOf<Cell>::snapshot(MetricType type) const {
  Family f{name_, help_, type, label_names_, bounds_, {}, {}};
  std::lock_guard lock(mutex_);
  for (const auto& [labels, cell] : series_) {
    if constexpr (std::is_same_v<Cell, Histogram>) {
      HistogramSample s = cell->sample();
      s.labels = labels;
      f.histograms.push_back(std::move(s));
    } else {
      f.samples.push_back(Sample{labels, static_cast<double>(cell->value())});
    }
  }
  return f;
}

template class FamilyOf<Counter>;
template class FamilyOf<Gauge>;
template class FamilyOf<Histogram>;

template <typename F>
F& Registry::declare(std::deque<F>& store, const std::string& name, const std::string& help,
                     std::vector<std::string> labels, std::vector<double> bounds) {
  std::lock_guard lock(mutex_);
  if (auto it = by_name_.find(name); it != by_name_.end()) {
    F* const* existing = std::get_if<F*>(&it->second.family);
    if (existing == nullptr || it->second.labels != labels || it->second.bounds != bounds) {
      throw std::logic_error("metric " + name + " declared twice with different kinds or labels");
    }
    return **existing;
  }
  if (!std::is_sorted(bounds.begin(), bounds.end())) throw std::logic_error("metric " + name + ": unsorted buckets");
  F& family = store.emplace_back(name, help, labels, bounds);
  by_name_.emplace(name, Entry{std::move(labels), std::move(bounds), &family});
  order_.push_back(&family);
  return family;
}

CounterFamily& Registry::counter(const std::string& name, const std::string& help, std::vector<std::string> labels) {
  return declare(counters_, name, help, std::move(labels), {});
}

GaugeFamily& Registry::gauge(const std::string& name, const std::string& help, std::vector<std::string> labels) {
  return declare(gauges_, name, help, std::move(labels), {});
}

HistogramFamily& Registry::histogram(const std::string& name, const std::string& help, std::vector<std::string> labels,
                                     std::vector<double> bounds) {
  return declare(histograms_, name, help, std::move(labels), std::move(bounds));
}

std::vector<Family> Registry::collect() const {
  std::vector<FamilyRef> order;
  {
    std::lock_guard lock(mutex_);
    order = order_;
  }
  std::vector<Family> out;
  out.reserve(order.size());
  for (const FamilyRef& ref : order) {
    std::visit(
        [&out](auto* family) {
          using F = std::remove_pointer_t<decltype(family)>;
          constexpr MetricType type = std::is_same_v<F, CounterFamily> ? MetricType::kCounter
                                      : std::is_same_v<F, GaugeFamily> ? MetricType::kGauge
                                                                       : MetricType::kHistogram;
          out.push_back(family->snapshot(type));
        },
        ref);
  }
  return out;
}

Registry& process_registry() {
  static Registry registry;
  return registry;
}

}  // namespace mailroom::metrics

// The metrics registry: counters, gauges and histograms, each declared once with its name, help
// text and label names. Safe from any thread: a value is an atomic (updating one is a relaxed
// atomic add); finding the series of a label set takes the family's mutex, so a caller on a hot
// path keeps the reference it got (series are never freed while the registry lives).
//
// Bounded: label values must come from fixed sets (service names, mechanism names, outcomes),
// never from a client (no address, no user name). Should a bug feed one anyway, a family keeps
// at most kMaxSeries series; later label sets all share one series that is not exported.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include "core/metrics/exposition.h"

namespace mailroom::metrics {

class Counter {
 public:
  void inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void add(double delta);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  // `bounds`: the buckets' upper bounds, increasing (+Inf is implied).
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);
  HistogramSample sample() const;  // labels left empty

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_.size() + 1
  std::atomic<double> sum_{0};
  std::atomic<uint64_t> count_{0};
};

// One family: the series of each label set. `Cell` is Counter, Gauge or Histogram.
template <typename Cell>
class FamilyOf {
 public:
  static constexpr std::size_t kMaxSeries = 512;

  FamilyOf(std::string name, std::string help, std::vector<std::string> label_names, std::vector<double> bounds = {})
      : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)), bounds_(std::move(bounds)) {}

  // The series of these label values (one per label name, in declaration order); created at its
  // first use. A wrong number of values is a programming error: it gets the unexported series.
  Cell& with(std::initializer_list<std::string_view> values) {
    std::vector<std::string> key(values.begin(), values.end());
    std::lock_guard lock(mutex_);
    if (key.size() != label_names_.size()) return overflow();
    auto it = series_.find(key);
    if (it != series_.end()) return *it->second;
    if (series_.size() >= kMaxSeries) return overflow();
    return *series_.emplace(std::move(key), make_cell()).first->second;
  }
  const std::string& name() const { return name_; }
  Family snapshot(MetricType type) const;

 private:
  std::unique_ptr<Cell> make_cell() const {
    if constexpr (std::is_same_v<Cell, Histogram>) {
      return std::make_unique<Cell>(bounds_);
    } else {
      return std::make_unique<Cell>();
    }
  }
  Cell& overflow() {
    if (!overflow_) overflow_ = make_cell();
    return *overflow_;
  }

  std::string name_, help_;
  std::vector<std::string> label_names_;
  std::vector<double> bounds_;
  mutable std::mutex mutex_;
  std::map<std::vector<std::string>, std::unique_ptr<Cell>> series_;
  std::unique_ptr<Cell> overflow_;
};

using CounterFamily = FamilyOf<Counter>;
using GaugeFamily = FamilyOf<Gauge>;
using HistogramFamily = FamilyOf<Histogram>;

class Registry {
 public:
  // Declares a family, or returns the one already declared under `name` (same kind and labels;
  // anything else throws std::logic_error: two meanings for one name is a programming error).
  // Counter names are given without `_total`. Families are exported in declaration order.
  CounterFamily& counter(const std::string& name, const std::string& help, std::vector<std::string> labels = {});
  GaugeFamily& gauge(const std::string& name, const std::string& help, std::vector<std::string> labels = {});
  HistogramFamily& histogram(const std::string& name, const std::string& help, std::vector<std::string> labels,
                             std::vector<double> bounds);

  // Every family with its current values.
  std::vector<Family> collect() const;

 private:
  using FamilyRef = std::variant<CounterFamily*, GaugeFamily*, HistogramFamily*>;
  struct Entry {
    std::vector<std::string> labels;
    std::vector<double> bounds;
    FamilyRef family;
  };
  template <typename F>
  F& declare(std::deque<F>& store, const std::string& name, const std::string& help, std::vector<std::string> labels,
             std::vector<double> bounds);

  mutable std::mutex mutex_;
  std::map<std::string, Entry> by_name_;
  std::vector<FamilyRef> order_;
  std::deque<CounterFamily> counters_;  // deques: references stay valid as families are added
  std::deque<GaugeFamily> gauges_;
  std::deque<HistogramFamily> histograms_;
};

// The process's registry: what the daemon's metrics endpoint exports.
Registry& process_registry();

}  // namespace mailroom::metrics

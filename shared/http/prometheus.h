// MetricsText: writes metrics in the Prometheus text exposition format 0.0.4.
//
// Each family gets "# HELP" and "# TYPE" once, before its first sample; samples of one family
// must be written together (a family name seen again later is a programming error and throws
// std::logic_error). Label values and help text are escaped as the format requires.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

namespace meridian::http {

inline constexpr const char* kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

class MetricsText {
 public:
  using Labels = std::vector<std::pair<std::string_view, std::string_view>>;

  void Counter(std::string_view name, std::string_view help, double value,
               const Labels& labels = {});
  void Gauge(std::string_view name, std::string_view help, double value, const Labels& labels = {});
  void Untyped(std::string_view name, std::string_view help, double value,
               const Labels& labels = {});

  const std::string& text() const { return out_; }
  std::string Take() { return std::move(out_); }

 private:
  void Sample(std::string_view type, std::string_view name, std::string_view help, double value,
              const Labels& labels);
  std::string out_;
  std::string current_family_;
  std::unordered_set<std::string> finished_families_;
};

}  // namespace meridian::http

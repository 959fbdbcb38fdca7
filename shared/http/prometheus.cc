#include "http/prometheus.h"

#include <charconv>
#include <cmath>
#include <stdexcept>

namespace meridian::http {

namespace {

void AppendEscaped(std::string& out, std::string_view text, bool quote) {
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (quote && c == '"') {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

void AppendValue(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "NaN";
  } else if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
  } else if (value == std::floor(value) && std::fabs(value) < 1e15) {
    out += std::to_string(static_cast<int64_t>(value));
  } else {
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
    out.append(buf, end);
  }
}

bool ValidName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

}  // namespace

void MetricsText::Counter(std::string_view name, std::string_view help, double value,
                          const Labels& labels) {
  Sample("counter", name, help, value, labels);
}

void MetricsText::Gauge(std::string_view name, std::string_view help, double value,
                        const Labels& labels) {
  Sample("gauge", name, help, value, labels);
}

void MetricsText::Untyped(std::string_view name, std::string_view help, double value,
                          const Labels& labels) {
  Sample("untyped", name, help, value, labels);
}

void MetricsText::Sample(std::string_view type, std::string_view name, std::string_view help,
                         double value, const Labels& labels) {
  if (name != current_family_) {
    if (!ValidName(name)) {
      throw std::logic_error("\"" + std::string(name) +
                             "\" is not a valid Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)");
    }
    if (finished_families_.count(std::string(name))) {
      throw std::logic_error("metric family \"" + std::string(name) +
                             "\" was already written; write all its samples together");
    }
    if (!current_family_.empty()) finished_families_.insert(current_family_);
    current_family_ = std::string(name);
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    AppendEscaped(out_, help, false);
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }
  out_ += name;
  if (!labels.empty()) {
    out_ += '{';
    bool first = true;
    for (const auto& [k, v] : labels) {
      if (!ValidName(k) || k.find(':') != std::string_view::npos) {
        throw std::logic_error("\"" + std::string(k) + "\" is not a valid Prometheus label name");
      }
      if (!first) out_ += ',';
      first = false;
      out_ += k;
      out_ += "=\"";
      AppendEscaped(out_, v, true);
      out_ += '"';
    }
    out_ += '}';
  }
  out_ += ' ';
  AppendValue(out_, value);
  out_ += '\n';
}

}  // namespace meridian::http

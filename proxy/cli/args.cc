#include "cli/args.h"

#include <array>

namespace meridian::cli {

namespace {
constexpr std::array<std::string_view, 19> kValueFlags = {
    "server", "user",    "password",    "token",    "context", "context-file", "count",
    "header", "timeout", "tag",         "replicas", "tlscert", "tlskey",       "tlsca",
    "queue",  "cluster", "description", "file",     "out"};

std::string ExpandShort(char c) {
  switch (c) {
    case 's':
      return "server";
    case 'h':
      return "help";
    case 'H':
      return "header";
    default:
      return {};
  }
}
}  // namespace

bool FlagTakesValue(std::string_view flag) {
  for (auto f : kValueFlags) {
    if (f == flag) return true;
  }
  return false;
}

Args Args::Parse(const std::vector<std::string>& argv) {
  Args a;
  bool only_words = false;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& t = argv[i];
    if (only_words || t.size() < 2 || t[0] != '-' || t == "-") {
      a.words_.push_back(t);
      continue;
    }
    if (t == "--") {
      only_words = true;
      continue;
    }
    std::string name;
    std::optional<std::string> value;
    if (t[1] == '-') {
      std::string body = t.substr(2);
      size_t eq = body.find('=');
      if (eq != std::string::npos) {
        name = body.substr(0, eq);
        value = body.substr(eq + 1);
      } else {
        name = body;
      }
    } else {
      if (t.size() != 2 || (name = ExpandShort(t[1])).empty()) {
        // A negative number or other text starting with '-' is a word (e.g. a body).
        a.words_.push_back(t);
        continue;
      }
    }
    if (FlagTakesValue(name) && !value) {
      if (i + 1 >= argv.size()) {
        a.error_ = "the flag --" + name + " needs a value";
        return a;
      }
      value = argv[++i];
    }
    a.flags_[name].push_back(value.value_or("true"));
  }
  return a;
}

bool Args::Has(std::string_view flag) const {
  return flags_.find(flag) != flags_.end();
}

std::optional<std::string> Args::Get(std::string_view flag) const {
  auto it = flags_.find(flag);
  if (it == flags_.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

std::vector<std::string> Args::GetAll(std::string_view flag) const {
  auto it = flags_.find(flag);
  if (it == flags_.end()) return {};
  return it->second;
}

std::vector<std::string> Args::FlagNames() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : flags_) out.push_back(k);
  return out;
}

}  // namespace meridian::cli

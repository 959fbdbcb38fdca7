#include "config/reader.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>

namespace meridian::config {

struct Document::Impl {
  std::string name;
  toml::table root;
  std::vector<ConfigIssue> issues;
  std::unordered_set<const toml::node*> used;
  std::unordered_map<const toml::table*, std::vector<std::string>> asked;

  void Add(const toml::source_region& where, std::string key, std::string message) {
    issues.push_back(ConfigIssue{name, static_cast<int>(where.begin.line),
                                 static_cast<int>(where.begin.column), std::move(key),
                                 std::move(message)});
  }
};

namespace {

const toml::table& AsTable(const void* p) {
  return *static_cast<const toml::table*>(p);
}

bool IsBareKey(std::string_view key) {
  if (key.empty()) return false;
  return std::all_of(key.begin(), key.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

std::string ChildPath(const std::string& parent, std::string_view key) {
  std::string k = IsBareKey(key) ? std::string(key) : "\"" + std::string(key) + "\"";
  return parent.empty() ? k : parent + "." + k;
}

std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string Describe(const toml::node& n) {
  if (auto s = n.as_string()) return "string " + Quote(s->get());
  if (auto i = n.as_integer()) return "integer " + std::to_string(i->get());
  if (auto f = n.as_floating_point()) {
    std::ostringstream os;
    os << f->get();
    return "number " + os.str();
  }
  if (auto b = n.as_boolean()) return b->get() ? "true" : "false";
  if (n.is_table()) return "a table";
  if (n.is_array()) return "an array";
  return "a date/time";
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// Reads one TOML value as T; on a bad value records why and returns false.
class Converter {
 public:
  Converter(Document::Impl& impl) : impl_(impl) {}  // NOLINT

  template <typename T>
  bool Read(const toml::node& n, const std::string& path, T& out) {
    if constexpr (std::is_same_v<T, bool>) {
      if (auto b = n.as_boolean()) return out = b->get(), true;
      return Bad(n, path, "expected true or false");
    } else if constexpr (std::is_integral_v<T>) {
      auto i = n.as_integer();
      if (!i) return Bad(n, path, "expected an integer");
      const int64_t v = i->get();
      if constexpr (std::is_unsigned_v<T>) {
        if (v < 0 || static_cast<uint64_t>(v) > std::numeric_limits<T>::max()) {
          return Bad(n, path,
                     "is out of range (0.." + std::to_string(std::numeric_limits<T>::max()) + ")");
        }
      } else {
        if (v < std::numeric_limits<T>::min() || v > std::numeric_limits<T>::max()) {
          return Bad(n, path, "is out of range");
        }
      }
      return out = static_cast<T>(v), true;
    } else if constexpr (std::is_same_v<T, double>) {
      if (auto f = n.as_floating_point()) return out = f->get(), true;
      if (auto i = n.as_integer()) return out = static_cast<double>(i->get()), true;
      return Bad(n, path, "expected a number");
    } else if constexpr (std::is_same_v<T, std::string>) {
      if (auto s = n.as_string()) return out = s->get(), true;
      return Bad(n, path, "expected a string");
    } else if constexpr (std::is_same_v<T, std::chrono::nanoseconds>) {
      auto s = n.as_string();
      auto d = s ? ParseDuration(s->get()) : std::nullopt;
      if (!d) return Bad(n, path, "expected a duration such as \"30s\", \"2m\" or \"1h30m\"");
      return out = *d, true;
    } else if constexpr (std::is_same_v<T, ByteSize>) {
      if (auto i = n.as_integer(); i && i->get() >= 0) {
        return out = ByteSize{static_cast<uint64_t>(i->get())}, true;
      }
      auto s = n.as_string();
      auto b = s ? ParseByteSize(s->get()) : std::nullopt;
      if (!b) return Bad(n, path, "expected a size such as \"64MiB\", \"1GB\" or 4096 (bytes)");
      return out = *b, true;
    } else if constexpr (std::is_same_v<T, HostPort>) {
      auto s = n.as_string();
      if (!s) return Bad(n, path, "expected an address host:port");
      auto hp = ParseHostPort(s->get());
      if (!hp) return Plain(n, path, Quote(s->get()) + " is not an address (expected host:port)");
      return out = std::move(*hp), true;
    } else if constexpr (std::is_same_v<T, NatsUrl>) {
      auto s = n.as_string();
      if (!s) return Bad(n, path, "expected a URL nats://host:port");
      auto url = ParseNatsUrl(s->get());
      if (!url) {
        return Plain(n, path, Quote(s->get()) + " is not a URL (expected nats://host:port)");
      }
      return out = std::move(*url), true;
    } else {
      using E = typename T::value_type;
      auto arr = n.as_array();
      if (!arr) return Bad(n, path, "expected an array");
      out.clear();
      bool ok = true;
      for (size_t i = 0; i < arr->size(); ++i) {
        E e{};
        if (Read((*arr)[i], path + "[" + std::to_string(i) + "]", e)) {
          out.push_back(std::move(e));
        } else {
          ok = false;
        }
      }
      return ok;
    }
  }

 private:
  bool Bad(const toml::node& n, const std::string& path, std::string_view what) {
    return Plain(n, path, std::string(what) + ", got " + Describe(n));
  }
  bool Plain(const toml::node& n, const std::string& path, std::string message) {
    impl_.Add(n.source(), path, std::move(message));
    return false;
  }
  Document::Impl& impl_;
};

}  // namespace

// ---- ConfigIssue / ConfigError ----------------------------------------------------------

std::string ConfigIssue::ToString() const {
  std::string out = file;
  if (line > 0) {
    out += ":" + std::to_string(line);
    if (column > 0) out += ":" + std::to_string(column);
  }
  out += ": ";
  if (!key.empty()) out += key + ": ";
  return out + message;
}

namespace {
std::string JoinIssues(const std::vector<ConfigIssue>& issues) {
  std::string out;
  for (const auto& issue : issues) {
    if (!out.empty()) out += '\n';
    out += issue.ToString();
  }
  return out;
}
}  // namespace

ConfigError::ConfigError(std::vector<ConfigIssue> issues)
    : std::runtime_error(JoinIssues(issues)), issues_(std::move(issues)) {}

// ---- Table ------------------------------------------------------------------------------

namespace {
const toml::node* Lookup(Document::Impl& impl, const void* table, std::string_view key) {
  const toml::table& t = AsTable(table);
  impl.asked[&t].emplace_back(key);
  const toml::node* n = t.get(key);
  if (n) impl.used.insert(n);
  return n;
}
}  // namespace

template <typename T>
std::optional<T> Table::Get(std::string_view key) const {
  const toml::node* n = Lookup(*doc_->impl_, table_, key);
  if (!n) return std::nullopt;
  T out{};
  if (!Converter(*doc_->impl_).Read(*n, ChildPath(path_, key), out)) return std::nullopt;
  return out;
}

template <typename T>
T Table::Required(std::string_view key) const {
  if (!Has(key)) {
    Lookup(*doc_->impl_, table_, key);  // counts as known, for suggestions
    if (placeholder_) return T{};
    doc_->impl_->Add(AsTable(table_).source(), ChildPath(path_, key), "is required but missing");
    return T{};
  }
  auto v = Get<T>(key);
  return v ? std::move(*v) : T{};
}

std::optional<Table> Table::GetTable(std::string_view key) const {
  const toml::node* n = Lookup(*doc_->impl_, table_, key);
  if (!n) return std::nullopt;
  const std::string path = ChildPath(path_, key);
  if (!n->is_table()) {
    doc_->impl_->Add(n->source(), path, "expected a table, got " + Describe(*n));
    return std::nullopt;
  }
  return Table(doc_, n->as_table(), path);
}

Table Table::RequiredTable(std::string_view key) const {
  if (!Has(key) && !placeholder_) {
    doc_->impl_->Add(AsTable(table_).source(), ChildPath(path_, key),
                     "is required but missing (a table)");
  }
  if (auto t = GetTable(key)) return *t;
  static const toml::table kEmpty;
  return Table(doc_, &kEmpty, ChildPath(path_, key), /*placeholder=*/true);
}

std::vector<Table> Table::TableArray(std::string_view key) const {
  const toml::node* n = Lookup(*doc_->impl_, table_, key);
  std::vector<Table> out;
  if (!n) return out;
  const std::string path = ChildPath(path_, key);
  const toml::array* arr = n->as_array();
  if (!arr) {
    doc_->impl_->Add(n->source(), path, "expected an array of tables, got " + Describe(*n));
    return out;
  }
  for (size_t i = 0; i < arr->size(); ++i) {
    const toml::node& e = (*arr)[i];
    const std::string element_path = path + "[" + std::to_string(i) + "]";
    if (!e.is_table()) {
      doc_->impl_->Add(e.source(), element_path, "expected a table, got " + Describe(e));
      continue;
    }
    doc_->impl_->used.insert(&e);
    out.push_back(Table(doc_, e.as_table(), element_path));
  }
  return out;
}

bool Table::Has(std::string_view key) const {
  return AsTable(table_).contains(key);
}

std::vector<std::string> Table::Keys() const {
  std::vector<std::pair<toml::source_position, std::string>> keys;
  for (const auto& [k, v] : AsTable(table_))
    keys.emplace_back(k.source().begin, std::string(k.str()));
  std::stable_sort(keys.begin(), keys.end(), [](const auto& a, const auto& b) {
    return a.first.line != b.first.line ? a.first.line < b.first.line
                                        : a.first.column < b.first.column;
  });
  std::vector<std::string> out;
  for (auto& [pos, k] : keys) out.push_back(std::move(k));
  return out;
}

void Table::Fail(std::string_view key, std::string message) const {
  const toml::node* n = AsTable(table_).get(key);
  doc_->impl_->Add(n ? n->source() : AsTable(table_).source(),
                   key.empty() ? path_ : ChildPath(path_, key), std::move(message));
}

#define MERIDIAN_CONFIG_INSTANTIATE(T)                             \
  template std::optional<T> Table::Get<T>(std::string_view) const; \
  template T Table::Required<T>(std::string_view) const;

MERIDIAN_CONFIG_INSTANTIATE(bool)
MERIDIAN_CONFIG_INSTANTIATE(int)
MERIDIAN_CONFIG_INSTANTIATE(int64_t)
MERIDIAN_CONFIG_INSTANTIATE(uint16_t)
MERIDIAN_CONFIG_INSTANTIATE(uint32_t)
MERIDIAN_CONFIG_INSTANTIATE(uint64_t)
MERIDIAN_CONFIG_INSTANTIATE(double)
MERIDIAN_CONFIG_INSTANTIATE(std::string)
MERIDIAN_CONFIG_INSTANTIATE(std::chrono::nanoseconds)
MERIDIAN_CONFIG_INSTANTIATE(ByteSize)
MERIDIAN_CONFIG_INSTANTIATE(HostPort)
MERIDIAN_CONFIG_INSTANTIATE(NatsUrl)
MERIDIAN_CONFIG_INSTANTIATE(std::vector<std::string>)
MERIDIAN_CONFIG_INSTANTIATE(std::vector<int64_t>)
MERIDIAN_CONFIG_INSTANTIATE(std::vector<HostPort>)
MERIDIAN_CONFIG_INSTANTIATE(std::vector<NatsUrl>)
#undef MERIDIAN_CONFIG_INSTANTIATE

// ---- Document ---------------------------------------------------------------------------

Document::Document(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Document::Document(Document&&) noexcept = default;
Document& Document::operator=(Document&&) noexcept = default;
Document::~Document() = default;

Document Document::FromString(std::string_view text, std::string name) {
  auto impl = std::make_unique<Impl>();
  impl->name = std::move(name);
  try {
    impl->root = toml::parse(text, impl->name);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    throw ConfigError(
        {ConfigIssue{impl->name, static_cast<int>(where.line), static_cast<int>(where.column), "",
                     "invalid TOML: " + std::string(e.description())}});
  }
  return Document(std::move(impl));
}

Document Document::FromFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw ConfigError({ConfigIssue{path, 0, 0, "",
                                   std::string("cannot read the file: ") + std::strerror(errno)}});
  }
  std::ostringstream text;
  text << in.rdbuf();
  return FromString(text.str(), path);
}

Table Document::Root() {
  return Table(this, &impl_->root, "");
}

const std::string& Document::name() const {
  return impl_->name;
}

namespace {
void FindUnknown(const Document::Impl& impl, const toml::table& table, const std::string& path,
                 std::vector<ConfigIssue>& out) {
  for (const auto& [key, node] : table) {
    const std::string child = ChildPath(path, key.str());
    if (!impl.used.contains(&node)) {
      std::string message = "unknown key";
      if (auto it = impl.asked.find(&table); it != impl.asked.end()) {
        std::string best;
        size_t best_distance = std::numeric_limits<size_t>::max();
        for (const std::string& known : it->second) {
          const size_t d = EditDistance(key.str(), known);
          if (d < best_distance) {
            best_distance = d;
            best = known;
          }
        }
        const size_t limit = std::max<size_t>(1, std::min<size_t>(3, key.str().size() / 3));
        // A one-letter key is "close" to every other one-letter key: require some overlap.
        const size_t shorter = std::min(key.str().size(), best.size());
        if (!best.empty() && best_distance <= limit && best_distance < shorter) {
          message += " (did you mean \"" + best + "\"?)";
        }
      }
      const auto& where = key.source().begin;
      out.push_back(ConfigIssue{impl.name, static_cast<int>(where.line),
                                static_cast<int>(where.column), child, std::move(message)});
      continue;
    }
    if (const toml::table* sub = node.as_table()) {
      FindUnknown(impl, *sub, child, out);
    } else if (const toml::array* arr = node.as_array()) {
      for (size_t i = 0; i < arr->size(); ++i) {
        const toml::node& e = (*arr)[i];
        if (e.is_table() && impl.used.contains(&e)) {
          FindUnknown(impl, *e.as_table(), child + "[" + std::to_string(i) + "]", out);
        }
      }
    }
  }
}
}  // namespace

std::vector<ConfigIssue> Document::Check() const {
  std::vector<ConfigIssue> out = impl_->issues;
  FindUnknown(*impl_, impl_->root, "", out);
  std::stable_sort(out.begin(), out.end(), [](const ConfigIssue& a, const ConfigIssue& b) {
    return a.line != b.line ? a.line < b.line : a.column < b.column;
  });
  return out;
}

void Document::Finish() const {
  auto issues = Check();
  if (!issues.empty()) throw ConfigError(std::move(issues));
}

}  // namespace meridian::config

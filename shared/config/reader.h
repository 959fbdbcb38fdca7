// A small reader over TOML documents that programs use to fill their own config structs.
//
//   config::Document doc = config::Document::FromFile("sidecar.toml");  // throws on syntax
//   config::Table root = doc.Root();
//   opts.listen = root.Required<config::HostPort>("listen");
//   opts.timeout = root.Optional<std::chrono::nanoseconds>("timeout", 30s);
//   for (config::Table s : root.TableArray("region")) { ... s.Required<std::string>("name") ... }
//   doc.Finish();  // throws ConfigError listing every problem, unknown keys included
//
// Getters never throw: a missing required key or a bad value is recorded (with file, line,
// column and the full dotted key) and a default is returned, so one run reports every
// problem. Every key a getter asked for counts as known; Finish() reports each key in the
// file that nobody asked for, suggesting the nearest known key when one is close.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "config/values.h"

namespace meridian::config {

// One problem found in a config file. line/column are 1-based; 0 when unknown.
struct ConfigIssue {
  std::string file;
  int line = 0;
  int column = 0;
  std::string key;  // full dotted key, e.g. "upstream.servers[2]"; empty for the document
  std::string message;
  // "sidecar.toml:14:5: upstream.servers[2]: \"nats//x\" is not a URL (...)"
  std::string ToString() const;
};

// Thrown by Document::FromFile/FromString (unreadable file, TOML syntax error) and by
// Document::Finish (every recorded issue, one per line in what()).
class ConfigError : public std::runtime_error {
 public:
  explicit ConfigError(std::vector<ConfigIssue> issues);
  const std::vector<ConfigIssue>& issues() const { return issues_; }

 private:
  std::vector<ConfigIssue> issues_;
};

class Document;

// A view of one TOML table inside a Document; cheap to copy, valid while its Document lives.
// Supported T for Required/Optional/Get: bool, int, int64_t, uint16_t, uint32_t, uint64_t,
// double, std::string, std::chrono::nanoseconds (duration text), ByteSize, HostPort, NatsUrl,
// and std::vector of std::string, int64_t, HostPort or NatsUrl.
class Table {
 public:
  // The value of `key`, or nullopt when absent. A present value of the wrong shape is
  // recorded as an issue and gives nullopt.
  template <typename T>
  std::optional<T> Get(std::string_view key) const;
  // As Get, recording "is required" when absent and returning T{}.
  template <typename T>
  T Required(std::string_view key) const;
  template <typename T>
  T Optional(std::string_view key, T fallback) const {
    auto v = Get<T>(key);
    return v ? std::move(*v) : std::move(fallback);
  }

  // Sub-tables: absent gives nullopt (Required: records an issue and returns an empty table).
  std::optional<Table> GetTable(std::string_view key) const;
  Table RequiredTable(std::string_view key) const;
  // An array of tables ([[key]] blocks or key = [{...}, ...]); empty when absent.
  std::vector<Table> TableArray(std::string_view key) const;

  bool Has(std::string_view key) const;
  // The keys present in this table, in file order (for tables keyed by name, e.g. regions).
  // Listing keys does not mark them as known; reading them does.
  std::vector<std::string> Keys() const;

  // Records a program-level problem at `key`'s position (or the table's, when the key is
  // absent), e.g. Fail("servers", "region \"west\" lists no servers").
  void Fail(std::string_view key, std::string message) const;
  // The table's own dotted path ("" for the root, "upstream", "region[1]").
  const std::string& path() const { return path_; }

 private:
  friend class Document;
  Table(Document* doc, const void* table, std::string path, bool placeholder = false)
      : doc_(doc), table_(table), path_(std::move(path)), placeholder_(placeholder) {}
  Document* doc_;
  const void* table_;  // toml::table
  std::string path_;
  // Stands in for a missing required table: its own missing keys are not reported again.
  bool placeholder_ = false;
};

// A parsed TOML document plus the issues and key usage recorded while reading it.
class Document {
 public:
  // Throws ConfigError naming the file when it cannot be read or is not valid TOML.
  static Document FromFile(const std::string& path);
  // `name` is used as the file name in issues (e.g. "sidecar.toml" or "<flags>").
  static Document FromString(std::string_view text, std::string name);

  Document(Document&&) noexcept;
  Document& operator=(Document&&) noexcept;
  ~Document();

  Table Root();
  const std::string& name() const;

  // Every issue so far plus every unknown key; does not throw.
  std::vector<ConfigIssue> Check() const;
  // Throws ConfigError when Check() is not empty.
  void Finish() const;

  struct Impl;  // opaque: the parsed toml::table and the bookkeeping, in reader.cc

 private:
  friend class Table;
  explicit Document(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace meridian::config

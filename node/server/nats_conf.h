// A parser for nats-server's configuration-file format: `key: value`, `key = value` and
// `key value`; blocks `{}`, arrays `[]`; `#` and `//` comments; quoted and bare strings;
// numbers with size suffixes (1K = 1000, 1KB = 1024, as nats-server); booleans
// true/false/yes/no/on/off; `$VAR` variables taken from enclosing blocks, then the
// environment; `include file` relative to the including file. It yields a tree of values that
// remember their file and line; nats_config_load.h maps the tree onto Options.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace meridian::server {

struct NatsConfEntry;

struct NatsConfValue {
  enum class Type { kString, kInteger, kFloat, kBool, kMap, kArray };
  Type type = Type::kString;
  std::string string;  // kString
  int64_t integer = 0;
  double real = 0;
  bool boolean = false;
  std::vector<NatsConfEntry> map;  // kMap, in file order
  std::vector<NatsConfValue> array;
  std::string file;
  int line = 0;

  // The entry whose key equals `key` ignoring case (nats-server's keys are case-insensitive),
  // the last one when repeated; nullptr when absent or this is not a map.
  const NatsConfEntry* Find(std::string_view key) const;
  // "string", "integer", "map", ... for messages.
  const char* TypeName() const;
};

struct NatsConfEntry {
  std::string key;
  NatsConfValue value;
  std::string file;
  int line = 0;
  // Referenced as $key somewhere: such entries are variables, not settings.
  bool used_as_variable = false;
};

// Parses a whole file (includes resolved relative to its folder). Throws config::ConfigError
// naming file:line and what is wrong.
NatsConfValue ParseNatsConfFile(const std::string& path);
// The same from text; `name` is used in messages, includes resolve relative to `dir`.
NatsConfValue ParseNatsConfText(std::string_view text, const std::string& name,
                                const std::string& dir = ".");

}  // namespace meridian::server

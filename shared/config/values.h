// Value syntaxes shared by every Meridian config file (and usable for command-line flags):
// durations, byte sizes, host:port addresses and nats:// URLs.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace meridian::config {

// "30s", "2m", "1h30m", "250ms", "1.5s", "10us", "0": Go's duration syntax (units ns, us, µs,
// ms, s, m, h; a sign is not allowed). nullopt when malformed or out of range.
std::optional<std::chrono::nanoseconds> ParseDuration(std::string_view text);
std::string FormatDuration(std::chrono::nanoseconds d);

// A byte count. Text forms: "512", "512B", "64KB"/"64MB"/"1GB"/"1TB" (powers of 1000),
// "64KiB"/"64MiB"/"1GiB"/"1TiB" (powers of 1024); unit letters are case-insensitive, a
// space between number and unit is allowed. A bare TOML integer means bytes.
struct ByteSize {
  uint64_t bytes = 0;
  bool operator==(const ByteSize&) const = default;
};
std::optional<ByteSize> ParseByteSize(std::string_view text);

// "host:port", "[v6addr]:port". The host may be a name or an address; port 0..65535 (0 means
// "choose a free port" to whoever binds it).
struct HostPort {
  std::string host;
  uint16_t port = 0;
  std::string ToString() const;
  bool operator==(const HostPort&) const = default;
};
std::optional<HostPort> ParseHostPort(std::string_view text);

// "nats://[user[:password]@]host[:port]" or "tls://..."; the port defaults to 4222.
struct NatsUrl {
  std::string scheme;  // "nats" or "tls"
  std::string user;
  std::string password;
  HostPort address;
  // Without credentials.
  std::string ToString() const;
  bool operator==(const NatsUrl&) const = default;
};
std::optional<NatsUrl> ParseNatsUrl(std::string_view text);

}  // namespace meridian::config

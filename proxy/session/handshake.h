// The two JSON ops of a NATS handshake as the sidecar passes them on: the upstream's INFO
// (adjusted so the client learns no way around its sidecar) and the client's CONNECT
// (options tracked; credentials replaced when the sidecar supplies its own).
//
// Both are parsed as JSON (once per connection, or per async INFO), never byte-matched;
// fields the sidecar does not know survive.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace meridian::session {

// What the sidecar needs from an upstream INFO.
struct UpstreamInfo {
  std::string server_name;
  std::string version;
  std::string cluster;  // empty when the server is not clustered
  std::uint64_t max_payload = 1024 * 1024;
  bool headers = false;
  bool tls_required = false;
  bool auth_required = false;
  bool has_nonce = false;
};

// nullopt when `json` is not a JSON object.
std::optional<UpstreamInfo> ReadUpstreamInfo(std::string_view json);

struct InfoAdjustment {
  std::string host;  // the sidecar listener's host and port, as the client connected to it
  int port = 0;
  std::string client_ip;  // the client's address as the sidecar sees it; empty: drop the field
  // The sidecar authenticates upstream itself, so clients need no credentials.
  bool credentials_supplied = false;
};

// The INFO to send the client: connect_urls/ws_connect_urls/ldm removed, TLS fields
// describing the sidecar's plaintext listener, host/port/client_ip of the sidecar side,
// auth_required dropped when credentials are supplied; nonce, version, headers, max_payload,
// server identity and unknown fields kept. nullopt when `json` is not a JSON object.
std::optional<std::string> AdjustInfo(std::string_view json, const InfoAdjustment& adjust);

// The CONNECT options the sidecar acts on, with nats-server's defaults for absent fields.
struct ClientOptions {
  bool verbose = true;
  bool pedantic = true;
  bool echo = true;
  bool headers = false;
  bool no_responders = false;
  std::int64_t protocol = 0;
};

// Credentials the sidecar presents upstream instead of the client's.
struct UpstreamCredentials {
  std::string user;
  std::string password;
  std::string token;
  bool empty() const { return user.empty() && password.empty() && token.empty(); }
};

struct ConnectRewrite {
  ClientOptions options;
  std::string upstream_json;  // the CONNECT JSON to send upstream
  // The upstream copy carries the client's signature of the server's nonce (`sig`): it
  // cannot be replayed to another server, whose nonce differs.
  bool signed_nonce = false;
};

// Reads the client's CONNECT JSON. The upstream copy has verbose:false (the sidecar answers
// +OK itself, so local answers keep the count right) and, when `credentials` is not empty,
// the client's user/pass/auth_token/nkey/sig/jwt replaced by them. nullopt when `json` is
// not a JSON object (forward it unchanged: the server decides).
std::optional<ConnectRewrite> RewriteConnect(std::string_view json,
                                             const UpstreamCredentials& credentials);

}  // namespace meridian::session

#include "session/handshake.h"

#include <nlohmann/json.hpp>

namespace meridian::session {
namespace {

using Json = nlohmann::json;

std::optional<Json> ParseObject(std::string_view text) {
  Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return j;
}

bool BoolField(const Json& j, const char* key, bool fallback) {
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() ? it->get<bool>() : fallback;
}

std::string StringField(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

std::optional<UpstreamInfo> ReadUpstreamInfo(std::string_view json) {
  auto j = ParseObject(json);
  if (!j) return std::nullopt;
  UpstreamInfo info;
  info.server_name = StringField(*j, "server_name");
  info.version = StringField(*j, "version");
  info.cluster = StringField(*j, "cluster");
  if (auto it = j->find("max_payload"); it != j->end() && it->is_number_unsigned()) {
    info.max_payload = it->get<std::uint64_t>();
  }
  info.headers = BoolField(*j, "headers", false);
  info.tls_required = BoolField(*j, "tls_required", false);
  info.auth_required = BoolField(*j, "auth_required", false);
  info.has_nonce = !StringField(*j, "nonce").empty();
  return info;
}

std::optional<std::string> AdjustInfo(std::string_view json, const InfoAdjustment& adjust) {
  auto j = ParseObject(json);
  if (!j) return std::nullopt;
  // Every way around the sidecar goes: other cluster members and lame-duck hints (the
  // sidecar handles a server that goes away; its clients stay connected to it).
  j->erase("connect_urls");
  j->erase("ws_connect_urls");
  j->erase("ldm");
  // The client talks plaintext to the sidecar, whatever the upstream link uses.
  j->erase("tls_required");
  j->erase("tls_verify");
  j->erase("tls_available");
  j->erase("ip");
  (*j)["host"] = adjust.host;
  (*j)["port"] = adjust.port;
  if (adjust.client_ip.empty()) {
    j->erase("client_ip");
  } else {
    (*j)["client_ip"] = adjust.client_ip;
  }
  if (adjust.credentials_supplied) j->erase("auth_required");
  return j->dump();
}

std::optional<ConnectRewrite> RewriteConnect(std::string_view json,
                                             const UpstreamCredentials& credentials) {
  auto j = ParseObject(json);
  if (!j) return std::nullopt;
  ConnectRewrite out;
  ClientOptions& o = out.options;
  o.verbose = BoolField(*j, "verbose", true);
  o.pedantic = BoolField(*j, "pedantic", true);
  o.echo = BoolField(*j, "echo", true);
  o.headers = BoolField(*j, "headers", false);
  o.no_responders = BoolField(*j, "no_responders", false);
  if (auto it = j->find("protocol"); it != j->end() && it->is_number_integer()) {
    o.protocol = it->get<std::int64_t>();
  }
  (*j)["verbose"] = false;
  if (!credentials.empty()) {
    for (const char* key : {"user", "pass", "auth_token", "nkey", "sig", "jwt"}) j->erase(key);
    if (!credentials.user.empty()) (*j)["user"] = credentials.user;
    if (!credentials.password.empty()) (*j)["pass"] = credentials.password;
    if (!credentials.token.empty()) (*j)["auth_token"] = credentials.token;
  }
  if (auto it = j->find("sig"); it != j->end() && it->is_string() && !it->empty()) {
    out.signed_nonce = true;
  }
  out.upstream_json = j->dump();
  return out;
}

}  // namespace meridian::session

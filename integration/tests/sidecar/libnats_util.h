// RAII wrappers and small helpers over the NATS C client (libnats 3.4.1) for the sidecar tests
// and the sidecar benchmark: connections, raw requests with headers, JSON API calls.
#pragma once

#include <nats/nats.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace meridian::sidecar_it {

struct ConnectionDeleter {
  void operator()(natsConnection* c) const { natsConnection_Destroy(c); }
};
struct SubscriptionDeleter {
  void operator()(natsSubscription* s) const { natsSubscription_Destroy(s); }
};
struct MsgDeleter {
  void operator()(natsMsg* m) const { natsMsg_Destroy(m); }
};
struct JsDeleter {
  void operator()(jsCtx* j) const { jsCtx_Destroy(j); }
};
using Connection = std::unique_ptr<natsConnection, ConnectionDeleter>;
using Subscription = std::unique_ptr<natsSubscription, SubscriptionDeleter>;
using Msg = std::unique_ptr<natsMsg, MsgDeleter>;
using JetStream = std::unique_ptr<jsCtx, JsDeleter>;

inline void Check(natsStatus s, const std::string& what) {
  if (s != NATS_OK) {
    throw std::runtime_error(what + " failed: " + natsStatus_GetText(s) + " (" +
                             nats_GetLastError(nullptr) + ")");
  }
}

struct ConnectOptions {
  bool send_asap = false;
  bool allow_reconnect = true;
  int64_t timeout_ms = 5000;
};

// Connects to a comma-separated list of URLs (no credentials: the servers run without auth).
inline Connection Connect(const std::string& urls, const std::string& name, ConnectOptions o = {}) {
  natsOptions* opts = nullptr;
  Check(natsOptions_Create(&opts), "natsOptions_Create");
  std::unique_ptr<natsOptions, void (*)(natsOptions*)> guard(opts, natsOptions_Destroy);
  // natsOptions_SetURL with a comma-separated list fails in libnats 3.4.1: pass an array.
  std::vector<std::string> list;
  for (size_t start = 0; start <= urls.size();) {
    size_t comma = std::min(urls.find(',', start), urls.size());
    if (comma > start) list.push_back(urls.substr(start, comma - start));
    start = comma + 1;
  }
  std::vector<const char*> servers;
  for (const auto& u : list) servers.push_back(u.c_str());
  Check(natsOptions_SetServers(opts, servers.data(), static_cast<int>(servers.size())),
        "natsOptions_SetServers");
  Check(natsOptions_SetName(opts, name.c_str()), "natsOptions_SetName");
  Check(natsOptions_SetTimeout(opts, o.timeout_ms), "natsOptions_SetTimeout");
  Check(natsOptions_SetAllowReconnect(opts, o.allow_reconnect), "SetAllowReconnect");
  if (o.send_asap) Check(natsOptions_SetSendAsap(opts, true), "natsOptions_SetSendAsap");
  natsConnection* nc = nullptr;
  Check(natsConnection_Connect(&nc, opts), "connect to " + urls + " as " + name);
  return Connection(nc);
}

inline JetStream JetStreamOf(natsConnection* nc) {
  jsCtx* js = nullptr;
  Check(natsConnection_JetStream(&js, nc, nullptr), "natsConnection_JetStream");
  return JetStream(js);
}

inline std::string DataOf(natsMsg* m) {
  return std::string(natsMsg_GetData(m), static_cast<size_t>(natsMsg_GetDataLength(m)));
}

inline std::string HeaderOf(natsMsg* m, const char* key) {
  const char* v = nullptr;
  if (natsMsgHeader_Get(m, key, &v) != NATS_OK || v == nullptr) return "";
  return v;
}

// A core request with optional headers; nullptr-message on timeout/no responders (the status
// is returned in `status`).
inline Msg Request(natsConnection* nc, const std::string& subject, const std::string& body,
                   const std::vector<std::pair<std::string, std::string>>& headers = {},
                   int64_t timeout_ms = 5000, natsStatus* status = nullptr) {
  natsMsg* req = nullptr;
  Check(natsMsg_Create(&req, subject.c_str(), nullptr, body.data(), static_cast<int>(body.size())),
        "natsMsg_Create");
  Msg req_guard(req);
  for (const auto& [k, v] : headers) {
    Check(natsMsgHeader_Add(req, k.c_str(), v.c_str()), "natsMsgHeader_Add " + k);
  }
  natsMsg* reply = nullptr;
  natsStatus s = natsConnection_RequestMsg(&reply, nc, req, timeout_ms);
  if (status != nullptr) *status = s;
  if (s != NATS_OK) return Msg();
  return Msg(reply);
}

// Decodes standard base64 (as the JetStream API encodes message data and headers).
inline std::string Base64Decode(const std::string& in) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
  };
  std::string out;
  int bits = 0, acc = 0;
  for (char c : in) {
    int v = value(c);
    if (v < 0) continue;
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

}  // namespace meridian::sidecar_it

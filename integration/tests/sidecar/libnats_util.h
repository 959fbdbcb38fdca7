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

#include "harness/libnats_ptr.h"

namespace meridian::sidecar_it {

using Connection = harness::Nc;
using Subscription = harness::Sub;
using Msg = harness::Msg;
using JetStream = harness::Js;

inline void Check(natsStatus s, const std::string& what) {
  harness::CheckNats(s, what);
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
  harness::SetServerList(opts, urls);
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

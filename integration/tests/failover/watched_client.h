// A libnats connection to the sidecar that counts its disconnections (the callback must never
// fire in these tests) and PINGs every second, so lost PONGs would show as a stale
// connection.
#pragma once

#include <atomic>
#include <string>

#include "../sidecar/libnats_util.h"

namespace meridian::failover_it {

struct WatchedClient {
  sidecar_it::Connection nc;
  std::atomic<int> disconnects{0};
};

inline void CountDisconnect(natsConnection*, void* closure) {
  static_cast<std::atomic<int>*>(closure)->fetch_add(1);
}

inline void ConnectWatched(WatchedClient& client, const std::string& url, const std::string& name) {
  natsOptions* opts = nullptr;
  sidecar_it::Check(natsOptions_Create(&opts), "natsOptions_Create");
  std::unique_ptr<natsOptions, void (*)(natsOptions*)> guard(opts, natsOptions_Destroy);
  sidecar_it::Check(natsOptions_SetURL(opts, url.c_str()), "natsOptions_SetURL");
  sidecar_it::Check(natsOptions_SetName(opts, name.c_str()), "natsOptions_SetName");
  sidecar_it::Check(natsOptions_SetPingInterval(opts, 1000), "SetPingInterval");
  sidecar_it::Check(natsOptions_SetMaxPingsOut(opts, 3), "SetMaxPingsOut");
  sidecar_it::Check(natsOptions_SetAllowReconnect(opts, true), "SetAllowReconnect");
  sidecar_it::Check(natsOptions_SetReconnectWait(opts, 100), "SetReconnectWait");
  sidecar_it::Check(natsOptions_SetDisconnectedCB(opts, CountDisconnect, &client.disconnects),
                    "SetDisconnectedCB");
  natsConnection* nc = nullptr;
  sidecar_it::Check(natsConnection_Connect(&nc, opts), "connect to " + url + " as " + name);
  client.nc.reset(nc);
}

// A JetStream publish as a core request; returns the PubAck JSON (or {"error":...} with
// "timeout" when no reply came).
inline nlohmann::json PublishForAck(natsConnection* nc, const std::string& subject,
                                    const std::string& payload, int64_t timeout_ms = 10000) {
  natsStatus st = NATS_OK;
  sidecar_it::Msg reply = sidecar_it::Request(nc, subject, payload, {}, timeout_ms, &st);
  if (!reply) return {{"error", std::string("no reply: ") + natsStatus_GetText(st)}};
  nlohmann::json j = nlohmann::json::parse(sidecar_it::DataOf(reply.get()), nullptr, false);
  if (j.is_discarded()) return {{"error", "not JSON: " + sidecar_it::DataOf(reply.get())}};
  return j;
}

}  // namespace meridian::failover_it

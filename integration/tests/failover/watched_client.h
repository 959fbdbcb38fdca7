// A libnats connection to the sidecar that counts its disconnections (the callback must never
// fire in these tests) and PINGs every second, so lost PONGs would show as a stale
// connection.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "../sidecar/libnats_util.h"

namespace meridian::failover_it {

// libnats runs the disconnected and closed callbacks on its own callback thread, and
// natsConnection_Destroy only posts them: they may run after the WatchedClient is gone. So
// what they touch is shared with the callbacks and freed by the last one (the closed
// callback, which libnats runs once, after every other).
struct WatchCounters {
  std::atomic<int> disconnects{0};
};

struct WatchedClient {
  std::shared_ptr<WatchCounters> counters = std::make_shared<WatchCounters>();
  sidecar_it::Connection nc;

  int disconnects() const { return counters->disconnects.load(); }

  // Sets the callbacks on `opts` before the connection is made.
  void Watch(natsOptions* opts) const {
    auto* held = new std::shared_ptr<WatchCounters>(counters);
    sidecar_it::Check(natsOptions_SetDisconnectedCB(opts, OnDisconnected, held),
                      "SetDisconnectedCB");
    sidecar_it::Check(natsOptions_SetClosedCB(opts, OnClosed, held), "SetClosedCB");
  }

 private:
  static void OnDisconnected(natsConnection*, void* closure) {
    (*static_cast<std::shared_ptr<WatchCounters>*>(closure))->disconnects.fetch_add(1);
  }
  static void OnClosed(natsConnection*, void* closure) {
    delete static_cast<std::shared_ptr<WatchCounters>*>(closure);
  }
};

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
  client.Watch(opts);
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

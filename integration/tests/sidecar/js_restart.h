// The nats.js sidecar-restart check (js/rebind_client.mjs), shared by the suite over stock
// nats-servers (js_client_test.cc) and the suite over meridian-node (sidecar_node_test.cc).
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "harness/sidecar_process.h"
#include "libnats_util.h"

namespace meridian::sidecar_it {

struct JsRestartWorld {
  std::filesystem::path run_dir;
  // The app's own sidecar: started, stopped and started again by the check.
  harness::SidecarSpec sidecar;
  std::vector<std::string> regions;
  // A connection through `region`'s sidecar (publishes of every batch go through these).
  std::function<Connection(const std::string& region, const std::string& name)> connect;
};

// A nats.js app that created a durable push consumer on stream `foo` filtered on foo.test (its
// own _INBOX deliver subject) lives through a restart of the sidecar it uses: nats.js
// reconnects and re-sends only SUB on its inbox; the new sidecar process finds the consumer by
// the deliver subject (registry refresh) and binds it again. Messages published in every
// region before, during and after the restart arrive, each once: a repeat only as a flagged
// redelivery of a delivery whose ack was never confirmed. Reports with gtest assertions.
void CheckNatsJsFilteredDurableAcrossSidecarRestart(const JsRestartWorld& world);

}  // namespace meridian::sidecar_it

// The rate of sourcing and mirroring through an external API prefix, across accounts on one
// server: account ORIG holds stream O with N messages (128 B, file storage), account READ
// imports ORIG's `$JS.API.>` as `$JS.orig.API.>` (plus `$JS.FC.>` and the delivery prefix)
// and creates R sourcing O and M mirroring O, both `external`; measured from the create
// requests until each holds all N (both copy at once), on meridian-node (its default sync
// "always": nats.conf has no sync setting) and on the stock nats-server, with the same
// nats.conf, in the same run. Prints figures and ratios; asserts nothing about time.
//
// Usage: node_external_sourcing_bench [messages, default 100000]
#include <nats/nats.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "harness/binaries.h"
#include "harness/health.h"
#include "harness/ports.h"
#include "harness/process.h"
#include "harness/run_dir.h"
#include "bench_servers.h"

namespace {

using namespace meridian;
using Clock = std::chrono::steady_clock;
using bench::Check;
using bench::Request;

natsConnection* Connect(uint16_t port, const std::string& user) {
  natsOptions* opts = nullptr;
  natsOptions_Create(&opts);
  std::string url = "nats://" + user + ":" + user + "@127.0.0.1:" + std::to_string(port);
  natsOptions_SetURL(opts, url.c_str());
  natsOptions_SetAllowReconnect(opts, false);
  natsConnection* nc = nullptr;
  Check(natsConnection_Connect(&nc, opts), "connect " + user);
  natsOptions_Destroy(opts);
  return nc;
}

uint64_t StoredMsgs(jsCtx* js, const char* stream) {
  jsStreamInfo* si = nullptr;
  Check(js_GetStreamInfo(&si, js, stream, nullptr, nullptr), std::string("info ") + stream);
  uint64_t n = si->State.Msgs;
  jsStreamInfo_Destroy(si);
  return n;
}

std::unique_ptr<harness::Process> Start(const harness::RunDir& dir, const std::string& kind,
                                        uint16_t* port) {
  *port = harness::FreeLoopbackPort();
  const uint16_t http = harness::FreeLoopbackPort();
  auto conf = dir / ("external-" + kind + ".conf");
  std::ofstream(conf) << "listen: 127.0.0.1:" << *port << "\nhttp: 127.0.0.1:" << http
                      << "\njetstream { store_dir: \"" << (dir / ("store-" + kind)).string()
                      << "\" }\n"
                      << R"(accounts {
  ORIG {
    jetstream: enabled
    users: [{user: orig, password: orig}]
    exports: [{service: "$JS.API.>"}, {service: "$JS.FC.>"}, {stream: "deliver.orig.>"}]
  }
  READ {
    jetstream: enabled
    users: [{user: read, password: read}]
    imports: [
      {service: {account: ORIG, subject: "$JS.API.>"}, to: "$JS.orig.API.>"}
      {service: {account: ORIG, subject: "$JS.FC.>"}}
      {stream: {account: ORIG, subject: "deliver.orig.>"}}
    ]
  }
}
)";
  harness::ProcessSpec spec;
  spec.argv = {kind == "node" ? harness::OurBinary("meridian-node").string()
                              : harness::NatsServerBinary().string(),
               "-c", conf.string()};
  spec.log_path = dir / ("server-" + kind + ".log");
  auto p = std::make_unique<harness::Process>(spec);
  harness::WaitForHealthz(*p, http);
  return p;
}

struct Result {
  double source_msgs_per_s = 0, mirror_msgs_per_s = 0;
};

Result Measure(uint16_t port, int n) {
  natsConnection* orig = Connect(port, "orig");
  natsConnection* read = Connect(port, "read");
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = 30000;
  jo.PublishAsync.MaxPending = 8192;
  jo.PublishAsync.StallWait = 60000;
  jsCtx* ojs = nullptr;
  jsCtx* rjs = nullptr;
  Check(natsConnection_JetStream(&ojs, orig, &jo), "jetstream orig");
  Check(natsConnection_JetStream(&rjs, read, &jo), "jetstream read");
  Request(orig, "$JS.API.STREAM.CREATE.O", R"({"name":"O","subjects":["o.>"],"storage":"file"})");
  const std::string payload(128, 'x');
  for (int i = 0; i < n; ++i) {
    Check(js_PublishAsync(ojs, "o.data", payload.data(), static_cast<int>(payload.size()),
                          nullptr),
          "async publish");
  }
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = 120000;
  Check(js_PublishAsyncComplete(ojs, &po), "async publish complete");

  const uint64_t total = static_cast<uint64_t>(n);
  auto t0 = Clock::now();
  Request(read, "$JS.API.STREAM.CREATE.R",
          R"({"name":"R","storage":"file","sources":[{"name":"O","external":)"
          R"({"api":"$JS.orig.API","deliver":"deliver.orig.r"}}]})");
  Request(read, "$JS.API.STREAM.CREATE.M",
          R"({"name":"M","storage":"file","mirror":{"name":"O","external":)"
          R"({"api":"$JS.orig.API","deliver":"deliver.orig.m"}}})");
  auto limit = t0 + std::chrono::seconds(600);
  Result r;
  while (r.source_msgs_per_s == 0 || r.mirror_msgs_per_s == 0) {
    if (Clock::now() > limit) throw std::runtime_error("not copied after 10 minutes");
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    if (r.source_msgs_per_s == 0 && StoredMsgs(rjs, "R") >= total) {
      r.source_msgs_per_s = static_cast<double>(total) / secs;
    }
    if (r.mirror_msgs_per_s == 0 && StoredMsgs(rjs, "M") >= total) {
      r.mirror_msgs_per_s = static_cast<double>(total) / secs;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  jsCtx_Destroy(ojs);
  jsCtx_Destroy(rjs);
  natsConnection_Destroy(orig);
  natsConnection_Destroy(read);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const int n = argc > 1 ? std::atoi(argv[1]) : 100000;
    if (n <= 0) throw std::runtime_error("messages must be positive");
    harness::RunDir dir("node_external_sourcing_bench");
    std::vector<std::pair<std::string, Result>> runs;
    for (const std::string kind : {"node", "nats-server"}) {
      uint16_t port = 0;
      auto p = Start(dir, kind, &port);
      runs.emplace_back(kind == "node" ? "meridian-node" : kind, Measure(port, n));
      p->Stop();
    }
    std::printf(
        "%d messages (128 B, file storage) sourced and mirrored at once across accounts "
        "through an external API prefix\n",
        n);
    std::printf("%-14s %18s %18s\n", "server", "source msgs/s", "mirror msgs/s");
    for (const auto& [name, r] : runs) {
      std::printf("%-14s %18.0f %18.0f\n", name.c_str(), r.source_msgs_per_s,
                  r.mirror_msgs_per_s);
    }
    const Result& a = runs[0].second;
    const Result& b = runs[1].second;
    std::printf("node / nats-server: source %.2f, mirror %.2f\n",
                b.source_msgs_per_s == 0 ? 0.0 : a.source_msgs_per_s / b.source_msgs_per_s,
                b.mirror_msgs_per_s == 0 ? 0.0 : a.mirror_msgs_per_s / b.mirror_msgs_per_s);
    nats_Close();
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "node_external_sourcing_bench: %s\n", e.what());
    return 1;
  }
}

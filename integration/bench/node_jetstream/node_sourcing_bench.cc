// The sourcing rate: three write streams holding N messages each are sourced into one read
// stream, and the read stream's fill rate (messages per second, from the create request to
// the last message stored) is measured on meridian-node (sync "always" and a 2 min interval)
// and on the stock nats-server in the same run. nats-server sources through one goroutine
// per stream and tops out near 20K msg/s (nats-io/nats-server#8612); the goal for
// meridian-node is ten times that. That ceiling is a clustered figure (every sourced message
// goes through Raft), so the same run also starts stock nats-server as a 3-node cluster
// (routes on loopback, the seeds' layout inside one region) with R3 write streams and an R3
// read stream, filled with fewer messages (its rate is far lower), and prints our rate divided
// by that one beside the ratio to the standalone nats-server. Prints figures and ratios;
// asserts nothing about time.
//
// Usage: node_sourcing_bench [messages per write stream, default 200000]
//                            [messages per write stream for the cluster, default 20000]
#include <nats/nats.h>

#include <algorithm>
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
#include "harness/nats_cluster.h"
#include "harness/ports.h"
#include "harness/process.h"
#include "harness/run_dir.h"
#include "bench_servers.h"

namespace {

using namespace meridian;
using Clock = std::chrono::steady_clock;
using bench::Check;
using bench::Request;

uint64_t StoredMsgs(jsCtx* js, const char* stream) {
  jsStreamInfo* si = nullptr;
  Check(js_GetStreamInfo(&si, js, stream, nullptr, nullptr), std::string("info ") + stream);
  uint64_t n = si->State.Msgs;
  jsStreamInfo_Destroy(si);
  return n;
}

struct Result {
  double fill_msgs_per_s = 0;
  double publish_msgs_per_s = 0;  // filling the write streams (context only)
};

// `url`: one server, or every server of a cluster (comma-separated); `replicas` for every
// stream.
Result Measure(const std::string& url, int n, int replicas) {
  natsOptions* opts = nullptr;
  natsOptions_Create(&opts);
  std::vector<std::string> urls;
  for (size_t start = 0; start <= url.size();) {
    size_t comma = std::min(url.find(',', start), url.size());
    urls.push_back(url.substr(start, comma - start));
    start = comma + 1;
  }
  std::vector<const char*> servers;
  for (const auto& u : urls) servers.push_back(u.c_str());
  natsOptions_SetServers(opts, servers.data(), static_cast<int>(servers.size()));
  natsOptions_SetAllowReconnect(opts, false);
  natsConnection* nc = nullptr;
  Check(natsConnection_Connect(&nc, opts), "connect");
  natsOptions_Destroy(opts);
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = 30000;
  jo.PublishAsync.MaxPending = 8192;
  jo.PublishAsync.StallWait = 60000;  // a loaded disk may hold acks back for a while
  jsCtx* js = nullptr;
  Check(natsConnection_JetStream(&js, nc, &jo), "jetstream");
  const std::string payload(128, 'x');
  Result r;
  auto t0 = Clock::now();
  for (int w = 1; w <= 3; ++w) {
    const std::string name = "W" + std::to_string(w);
    Request(nc, "$JS.API.STREAM.CREATE." + name,
            R"({"name":")" + name + R"(","subjects":["w)" + std::to_string(w) +
                R"(.>"],"storage":"file","num_replicas":)" + std::to_string(replicas) + "}");
    const std::string subject = "w" + std::to_string(w) + ".data";
    for (int i = 0; i < n; ++i) {
      Check(js_PublishAsync(js, subject.c_str(), payload.data(), static_cast<int>(payload.size()),
                            nullptr),
            "async publish");
    }
  }
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = 120000;
  Check(js_PublishAsyncComplete(js, &po), "async publish complete");
  r.publish_msgs_per_s = 3.0 * n / std::chrono::duration<double>(Clock::now() - t0).count();
  for (const char* w : {"W1", "W2", "W3"}) {
    if (StoredMsgs(js, w) != static_cast<uint64_t>(n)) {
      throw std::runtime_error(std::string(w) + " does not hold every message");
    }
  }

  // The measured part: from the read stream's create request until it holds all 3N.
  const uint64_t total = 3ull * static_cast<uint64_t>(n);
  t0 = Clock::now();
  Request(nc, "$JS.API.STREAM.CREATE.READ",
          R"({"name":"READ","storage":"file","num_replicas":)" + std::to_string(replicas) +
              R"(,"sources":[{"name":"W1"},{"name":"W2"},{"name":"W3"}]})");
  auto limit = t0 + std::chrono::seconds(600);
  uint64_t have = 0;
  while ((have = StoredMsgs(js, "READ")) < total) {
    if (Clock::now() > limit) {
      throw std::runtime_error("the read stream holds " + std::to_string(have) + " of " +
                               std::to_string(total) + " after 10 minutes");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  r.fill_msgs_per_s =
      static_cast<double>(total) / std::chrono::duration<double>(Clock::now() - t0).count();
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
  return r;
}

// Stock nats-server as a 3-node cluster with R3 streams: the sourcing rate of nats-io/
// nats-server#8612's setting.
Result MeasureCluster(const harness::RunDir& dir, int n) {
  harness::SuperClusterOptions o;
  o.regions = {"c"};
  o.servers_per_region = 3;
  o.accounts = false;  // the global account has JetStream, as in the standalone runs
  o.max_file_store = 4LL << 30;
  harness::NatsSuperCluster cluster(dir.path() / "cluster", o);
  cluster.Start();
  Result r = Measure(cluster.ClientUrls("c"), n, 3);
  cluster.StopAll();
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const int n = argc > 1 ? std::atoi(argv[1]) : 200000;
    const int cluster_n = argc > 2 ? std::atoi(argv[2]) : 20000;
    if (n <= 0 || cluster_n <= 0) {
      throw std::runtime_error("messages per write stream must be positive");
    }
    harness::RunDir dir("node_sourcing_bench");
    struct Run {
      std::string name;
      Result result;
    };
    std::vector<Run> runs;
    for (const std::string kind : bench::kServerKinds) {
      uint16_t port = 0;
      auto p = bench::StartJetStreamServer(dir, kind, &port);
      runs.push_back(
          {bench::ServerLabel(kind), Measure("nats://127.0.0.1:" + std::to_string(port), n, 1)});
      p->Stop();
    }
    const Result clustered = MeasureCluster(dir, cluster_n);
    const double ns = runs[2].result.fill_msgs_per_s;
    const double nsc = clustered.fill_msgs_per_s;
    auto ratio = [](double a, double b) { return b == 0 ? 0.0 : a / b; };
    std::printf(
        "three write streams x %d messages (128 B, file storage) sourced into one read "
        "stream; the 3-node cluster (R3 streams) with %d per write stream\n",
        n, cluster_n);
    std::printf("%-22s %18s %22s %10s %12s\n", "server", "sourcing msgs/s",
                "write publish msgs/s", "vs ns", "vs ns R3");
    for (const auto& r : runs) {
      std::printf("%-22s %18.0f %22.0f %10.2f %12.2f\n", r.name.c_str(),
                  r.result.fill_msgs_per_s, r.result.publish_msgs_per_s,
                  ratio(r.result.fill_msgs_per_s, ns), ratio(r.result.fill_msgs_per_s, nsc));
    }
    std::printf("%-22s %18.0f %22.0f %10.2f %12.2f\n", "nats-server R3 cluster", nsc,
                clustered.publish_msgs_per_s, ratio(nsc, ns), 1.0);
    std::printf("goal: node sourcing >= 10x nats-server (node always: %.1fx a standalone "
                "nats-server, %.1fx a 3-node cluster with R3 streams)\n",
                ratio(runs[0].result.fill_msgs_per_s, ns),
                ratio(runs[0].result.fill_msgs_per_s, nsc));
    nats_Close();
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "node_sourcing_bench: %s\n", e.what());
    return 1;
  }
}

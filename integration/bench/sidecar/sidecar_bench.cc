// meridian-sidecar against the stock nats-server it fronts, in one run, on the same servers:
// core publish throughput, request/reply round trip, JetStream async publish into the virtual
// stream vs straight into the write stream, and the sidecar's memory. Prints a table with both
// figures and their ratio next to the goal. Never fails on a number; exits non-zero only when
// the setup itself fails (a server or the sidecar does not start).
//
// Layout: the 3-region super-cluster of the integration tests (3 stock servers per region);
// streams foo-write-<r>/foo-read-<r> are R1 pinned to <r>-1 (tag az:1), and both the sidecar
// and the direct clients talk to west-1 only, so both paths end on the same server.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "harness/nats_cluster.h"
#include "harness/run_dir.h"
#include "harness/sidecar_process.h"
#include "libnats_util.h"

namespace meridian::sidecar_bench {
namespace {

using namespace meridian::sidecar_it;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

const std::vector<std::string> kRegions = {"east", "central", "west"};
// Each figure is measured this many times, direct and sidecar alternating; the best counts
// (the machine is shared, so the best run is the one least disturbed by others).
constexpr int kRounds = 3;

double Seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

// --- setup ---------------------------------------------------------------------------------

void CreateStreams(natsConnection* nc) {
  auto create = [&](const json& cfg) {
    const std::string name = cfg["name"];
    Msg reply = Request(nc, "$JS.API.STREAM.CREATE." + name, cfg.dump(), {}, 15000);
    if (!reply || DataOf(reply.get()).find("\"error\"") != std::string::npos) {
      throw std::runtime_error("creating " + name + " failed: " +
                               (reply ? DataOf(reply.get()) : std::string("no reply")));
    }
  };
  for (const auto& r : kRegions) {
    create({{"name", "foo-write-" + r},
            {"subjects", {"foo." + r + ".>"}},
            {"storage", "file"},
            {"num_replicas", 1},
            {"placement", {{"cluster", r}, {"tags", {"az:1"}}}}});
  }
  for (const auto& r : kRegions) {
    json sources = json::array();
    for (const auto& o : kRegions) {
      sources.push_back({{"name", "foo-write-" + o}, {"filter_subject", "foo." + o + ".>"}});
    }
    create({{"name", "foo-read-" + r},
            {"storage", "file"},
            {"num_replicas", 1},
            {"allow_direct", true},
            {"placement", {{"cluster", r}, {"tags", {"az:1"}}}},
            {"sources", sources}});
  }
}

// --- core publish throughput ---------------------------------------------------------------

struct CoreCounter {
  std::atomic<int64_t> received{0};
  std::atomic<int64_t> last_ns{0};
};

void OnCoreMsg(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  auto* c = static_cast<CoreCounter*>(closure);
  c->received.fetch_add(1, std::memory_order_relaxed);
  c->last_ns.store(Clock::now().time_since_epoch().count(), std::memory_order_relaxed);
  natsMsg_Destroy(msg);
}

// msgs/s received, publisher and subscriber both on `url`.
double CoreThroughput(const std::string& url, int64_t count, std::chrono::seconds limit) {
  Connection sub_nc = Connect(url, "bench-core-sub");
  Connection pub_nc = Connect(url, "bench-core-pub");
  CoreCounter counter;
  natsSubscription* raw = nullptr;
  Check(natsConnection_Subscribe(&raw, sub_nc.get(), "bench.core", OnCoreMsg, &counter),
        "subscribe");
  Subscription sub(raw);
  Check(natsSubscription_SetPendingLimits(raw, -1, -1), "SetPendingLimits");
  Check(natsConnection_Flush(sub_nc.get()), "flush");
  // Interest must have reached the publisher's path (through the sidecar: its own upstream).
  Check(natsConnection_Flush(pub_nc.get()), "flush");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const char payload[16] = "0123456789abcde";
  const int64_t window = 50000;
  const auto start = Clock::now();
  const auto deadline = start + limit;
  int64_t sent = 0;
  while (sent < count && Clock::now() < deadline) {
    if (sent - counter.received.load(std::memory_order_relaxed) >= window) {
      std::this_thread::yield();
      continue;
    }
    Check(natsConnection_Publish(pub_nc.get(), "bench.core", payload, 16), "publish");
    ++sent;
  }
  natsConnection_Flush(pub_nc.get());
  while (counter.received.load() < sent && Clock::now() < deadline + std::chrono::seconds(2)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const int64_t got = counter.received.load();
  const auto last = Clock::time_point(Clock::duration(counter.last_ns.load()));
  if (got == 0) return 0;
  return static_cast<double>(got) / Seconds(last - start);
}

// --- request/reply -------------------------------------------------------------------------

void OnRequest(natsConnection* nc, natsSubscription*, natsMsg* msg, void*) {
  if (natsMsg_GetReply(msg) != nullptr) {
    natsConnection_Publish(nc, natsMsg_GetReply(msg), natsMsg_GetData(msg),
                           natsMsg_GetDataLength(msg));
  }
  natsMsg_Destroy(msg);
}

struct Latency {
  double p50_us = 0, p99_us = 0, rate = 0;
  int64_t count = 0;
};

Latency RequestReply(const std::string& url, int count, std::chrono::seconds limit) {
  ConnectOptions asap;
  asap.send_asap = true;
  Connection responder = Connect(url, "bench-responder", asap);
  Connection requester = Connect(url, "bench-requester", asap);
  natsSubscription* raw = nullptr;
  Check(natsConnection_Subscribe(&raw, responder.get(), "bench.req", OnRequest, nullptr),
        "subscribe");
  Subscription sub(raw);
  Check(natsConnection_Flush(responder.get()), "flush");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const char payload[16] = "0123456789abcde";
  for (int i = 0; i < 200; ++i) {  // warm-up, unmeasured
    natsMsg* reply = nullptr;
    if (natsConnection_Request(&reply, requester.get(), "bench.req", payload, 16, 2000) ==
        NATS_OK) {
      natsMsg_Destroy(reply);
    }
  }
  std::vector<double> us;
  us.reserve(static_cast<size_t>(count));
  const auto start = Clock::now();
  const auto deadline = start + limit;
  while (static_cast<int>(us.size()) < count && Clock::now() < deadline) {
    natsMsg* reply = nullptr;
    const auto t0 = Clock::now();
    natsStatus s = natsConnection_Request(&reply, requester.get(), "bench.req", payload, 16, 2000);
    const auto t1 = Clock::now();
    if (s != NATS_OK) continue;
    natsMsg_Destroy(reply);
    us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  Latency out;
  out.count = static_cast<int64_t>(us.size());
  if (us.empty()) return out;
  const double elapsed = Seconds(Clock::now() - start);
  std::sort(us.begin(), us.end());
  out.p50_us = us[us.size() / 2];
  out.p99_us = us[std::min(us.size() - 1, us.size() * 99 / 100)];
  out.rate = static_cast<double>(us.size()) / elapsed;
  return out;
}

// --- JetStream async publish ---------------------------------------------------------------

std::atomic<int64_t> g_async_errors{0};
std::string g_first_async_error;

void OnAsyncError(jsCtx*, jsPubAckErr* pae, void*) {
  if (g_async_errors.fetch_add(1) == 0 && pae->ErrText != nullptr) {
    g_first_async_error = pae->ErrText;
  }
}

struct JsRate {
  double rate = 0;
  int64_t errors = 0;
};

JsRate JsAsyncPublish(const std::string& url, const std::string& subject, int count,
                      std::chrono::seconds limit) {
  Connection nc = Connect(url, "bench-js");
  jsOptions o;
  jsOptions_Init(&o);
  o.PublishAsync.MaxPending = 256;
  o.PublishAsync.ErrHandler = OnAsyncError;
  jsCtx* raw = nullptr;
  Check(natsConnection_JetStream(&raw, nc.get(), &o), "JetStream");
  JetStream js(raw);
  std::string payload(128, 'x');
  for (int i = 0; i < 200; ++i) {  // warm-up
    Check(js_PublishAsync(js.get(), subject.c_str(), payload.data(), 128, nullptr), "publish");
  }
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = 10000;
  js_PublishAsyncComplete(js.get(), &po);
  g_async_errors = 0;
  const auto start = Clock::now();
  const auto deadline = start + limit;
  int sent = 0;
  while (sent < count && Clock::now() < deadline) {
    Check(js_PublishAsync(js.get(), subject.c_str(), payload.data(), 128, nullptr), "publish");
    ++sent;
  }
  natsStatus s = js_PublishAsyncComplete(js.get(), &po);
  JsRate out;
  out.rate = static_cast<double>(sent) / Seconds(Clock::now() - start);
  out.errors = g_async_errors.load();
  if (s != NATS_OK) out.errors += 1;
  return out;
}

// --- memory --------------------------------------------------------------------------------

// Opens `n` idle NATS clients (CONNECT + PING, PONG received) to `port`; returns the sockets.
std::vector<int> OpenIdleClients(uint16_t port, int n) {
  std::vector<int> fds;
  for (int i = 0; i < n; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd);
      break;
    }
    const std::string hello =
        "CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\"protocol\":1}\r\n"
        "PING\r\n";
    if (::send(fd, hello.data(), hello.size(), MSG_NOSIGNAL) < 0) {
      ::close(fd);
      break;
    }
    fds.push_back(fd);
  }
  // Wait for each PONG, so every session is fully established upstream too.
  for (int fd : fds) {
    std::string got;
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    while (got.find("PONG") == std::string::npos && Clock::now() < deadline) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 200) <= 0) continue;
      char buf[4096];
      ssize_t r = ::recv(fd, buf, sizeof buf, 0);
      if (r <= 0) break;
      got.append(buf, static_cast<size_t>(r));
    }
  }
  return fds;
}

// --- report --------------------------------------------------------------------------------

std::string Fmt(double v, const char* unit) {
  char buf[64];
  if (v >= 1e6) {
    std::snprintf(buf, sizeof buf, "%.2f M%s", v / 1e6, unit);
  } else if (v >= 1e4) {
    std::snprintf(buf, sizeof buf, "%.1f k%s", v / 1e3, unit);
  } else {
    std::snprintf(buf, sizeof buf, "%.0f %s", v, unit);
  }
  return buf;
}

void Row(const std::string& figure, const std::string& direct, const std::string& sidecar,
         double ratio, const std::string& goal) {
  char r[32] = "";
  if (ratio > 0) std::snprintf(r, sizeof r, "%.2f", ratio);
  std::printf("| %-44s | %14s | %14s | %6s | %-22s |\n", figure.c_str(), direct.c_str(),
              sidecar.c_str(), r, goal.c_str());
}

int Run() {
  harness::RunDir dir("SidecarBench");
  harness::SuperClusterOptions opts;
  opts.accounts = false;
  harness::NatsSuperCluster cluster(dir.path(), opts);
  std::cout << "[bench] starting 9 stock nats-servers (3 regions x 3)\n" << std::flush;
  try {
    cluster.Start();
  } catch (const std::exception& e) {
    dir.Keep();
    std::cerr << "the super-cluster did not start: " << e.what() << "\n";
    return 1;
  }
  const std::string direct = cluster.server("west-1").ClientUrl();
  {
    Connection admin = Connect(direct, "bench-admin");
    CreateStreams(admin.get());
  }
  harness::SidecarSpec spec;
  spec.region = "west";
  spec.upstream_urls = {direct};
  for (const auto& r : kRegions) {
    harness::RegionSpec rs{r, {}};
    for (const auto* s : cluster.ServersIn(r)) rs.servers.push_back(s->ClientUrl());
    spec.regions.push_back(rs);
  }
  spec.streams = {{"foo", {"foo.>"}, kRegions}};
  harness::SidecarProcess sidecar(dir.path(), spec);
  try {
    sidecar.Start();
  } catch (const std::exception& e) {
    dir.Keep();
    std::cerr << "meridian-sidecar did not start: " << e.what() << "\n";
    return 1;
  }
  const std::string via = sidecar.ClientUrl();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));

  // Memory first, before load grows any buffer.
  const long rss_idle = sidecar.RssKib();
  const int kIdleClients = 200;
  std::vector<int> fds = OpenIdleClients(sidecar.client_port(), kIdleClients);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const long rss_conns = sidecar.RssKib();
  for (int fd : fds) ::close(fd);
  const int opened = static_cast<int>(fds.size());
  // The same for the stock server itself, for scale.
  const pid_t west1 = cluster.process("west-1").pid();
  const long server_idle = harness::ProcessRssKib(west1);
  std::vector<int> server_fds = OpenIdleClients(cluster.server("west-1").client_port, kIdleClients);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const long server_conns = harness::ProcessRssKib(west1);
  for (int fd : server_fds) ::close(fd);
  const int server_opened = static_cast<int>(server_fds.size());
  // The sidecar gives the memory of closed connections back within about a second.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  const long rss_left = sidecar.RssKib();

  std::cout << "[bench] core publish throughput\n" << std::flush;
  double core_direct = 0, core_sidecar = 0;
  for (int round = 0; round < kRounds; ++round) {
    core_direct = std::max(core_direct, CoreThroughput(direct, 300000, std::chrono::seconds(6)));
    core_sidecar = std::max(core_sidecar, CoreThroughput(via, 300000, std::chrono::seconds(6)));
  }
  std::cout << "[bench] request/reply\n" << std::flush;
  Latency rr_direct, rr_sidecar;
  for (int round = 0; round < kRounds; ++round) {
    Latency d = RequestReply(direct, 3000, std::chrono::seconds(6));
    Latency s = RequestReply(via, 3000, std::chrono::seconds(6));
    if (round == 0 || d.p50_us < rr_direct.p50_us) rr_direct = d;
    if (round == 0 || s.p50_us < rr_sidecar.p50_us) rr_sidecar = s;
  }
  std::cout << "[bench] JetStream async publish\n" << std::flush;
  JsRate js_direct, js_sidecar;
  for (int round = 0; round < kRounds; ++round) {
    JsRate d = JsAsyncPublish(direct, "foo.west.bench", 20000, std::chrono::seconds(8));
    JsRate s = JsAsyncPublish(via, "foo.bench", 20000, std::chrono::seconds(8));
    if (d.rate > js_direct.rate) js_direct = d;
    if (s.rate > js_sidecar.rate) js_sidecar = s;
  }
  const long rss_after = sidecar.RssKib();

  std::printf(
      "\nmeridian-sidecar vs direct to stock nats-server 2.9.10 (west-1), libnats, "
      "same servers, one run (best of 3 alternating rounds)\n\n");
  std::printf("| %-44s | %14s | %14s | %6s | %-22s |\n", "figure", "direct", "sidecar", "ratio",
              "goal");
  std::printf("|%s|%s|%s|%s|%s|\n", std::string(46, '-').c_str(), std::string(16, '-').c_str(),
              std::string(16, '-').c_str(), std::string(8, '-').c_str(),
              std::string(24, '-').c_str());
  auto ratio = [](double a, double b) { return b > 0 ? a / b : 0.0; };
  Row("core pub->sub 16 B (msgs/s)", Fmt(core_direct, "msg/s"), Fmt(core_sidecar, "msg/s"),
      ratio(core_sidecar, core_direct), "sidecar/direct >= 0.9");
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.0f us", rr_direct.p50_us);
  std::string d50 = buf;
  std::snprintf(buf, sizeof buf, "%.0f us", rr_sidecar.p50_us);
  Row("request/reply RTT p50, 16 B, SendAsap", d50, buf, ratio(rr_sidecar.p50_us, rr_direct.p50_us),
      "sidecar/direct <= 1.3");
  std::snprintf(buf, sizeof buf, "%.0f us", rr_direct.p99_us);
  std::string d99 = buf;
  std::snprintf(buf, sizeof buf, "%.0f us", rr_sidecar.p99_us);
  Row("request/reply RTT p99", d99, buf, ratio(rr_sidecar.p99_us, rr_direct.p99_us),
      "sidecar/direct <= 1.3");
  Row("request/reply rate (req/s)", Fmt(rr_direct.rate, "req/s"), Fmt(rr_sidecar.rate, "req/s"),
      ratio(rr_sidecar.rate, rr_direct.rate), "");
  Row("JS async publish 128 B, R1, window 256", Fmt(js_direct.rate, "msg/s"),
      Fmt(js_sidecar.rate, "msg/s"), ratio(js_sidecar.rate, js_direct.rate),
      "sidecar/direct >= 0.9");
  Row("  direct foo.west.bench, sidecar foo.bench", "", "", 0, "");
  Row("sidecar RSS idle", "", std::to_string(rss_idle) + " KiB", 0, "");
  Row("sidecar RSS with " + std::to_string(opened) + " idle clients", "",
      std::to_string(rss_conns) + " KiB", 0, "");
  const double per_client = opened > 0 ? static_cast<double>(rss_conns - rss_idle) / opened : 0.0;
  const double server_per_client =
      server_opened > 0 ? static_cast<double>(server_conns - server_idle) / server_opened : 0.0;
  std::string server_cell = buf;
  std::snprintf(buf, sizeof buf, "%.1f KiB", server_per_client);
  server_cell = buf;
  std::snprintf(buf, sizeof buf, "%.1f KiB", per_client);
  Row("RSS per idle client (direct: nats-server)", server_cell, buf,
      ratio(per_client, server_per_client), "");
  Row("sidecar RSS after the idle clients left", "", std::to_string(rss_left) + " KiB", 0, "");
  Row("sidecar RSS after the load", "", std::to_string(rss_after) + " KiB", 0, "");
  Row("west-1 nats-server RSS idle", std::to_string(server_idle) + " KiB", "", 0, "");
  std::printf("\nJS async publish errors: direct %lld, sidecar %lld%s%s\n",
              static_cast<long long>(js_direct.errors), static_cast<long long>(js_sidecar.errors),
              g_first_async_error.empty() ? "" : "; first: ", g_first_async_error.c_str());
  std::printf("request/reply samples: direct %lld, sidecar %lld\n",
              static_cast<long long>(rr_direct.count), static_cast<long long>(rr_sidecar.count));
  std::fflush(stdout);
  sidecar.Stop();
  cluster.StopAll(std::chrono::seconds(5));
  return 0;
}

}  // namespace
}  // namespace meridian::sidecar_bench

int main() {
  try {
    return meridian::sidecar_bench::Run();
  } catch (const std::exception& e) {
    std::cerr << "sidecar benchmark setup failed: " << e.what() << "\n";
    return 1;
  }
}

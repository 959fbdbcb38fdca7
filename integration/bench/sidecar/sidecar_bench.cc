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
#include <cstdlib>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "harness/nats_cluster.h"
#include "harness/ports.h"
#include "harness/process.h"
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

// Environment knobs, for A/B runs by hand (ctest sets none of them):
//   SIDECAR_BENCH_ROUNDS=n           rounds per figure (default 3)
//   SIDECAR_BENCH_ONLY=rr            only request/reply (no memory, core or JetStream figures)
//   SIDECAR_BENCH_ALT_SIDECAR=path   a second meridian-sidecar binary (e.g. an older build),
//                                    measured in the same alternating request/reply rounds
std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::string(v) : std::string();
}

int Rounds() {
  const std::string v = Env("SIDECAR_BENCH_ROUNDS");
  const int n = v.empty() ? kRounds : std::atoi(v.c_str());
  return n > 0 ? n : kRounds;
}

// Waits until something accepts TCP connections on 127.0.0.1:port.
bool WaitListening(uint16_t port, std::chrono::seconds limit) {
  const auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    if (ok) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

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

// A requester and a responder on one path (direct, bare forwarder, sidecar), kept for the
// whole measurement so that paths can be alternated in short slices.
struct RrClients {
  Connection responder;
  Connection requester;
  Subscription sub;
};

std::unique_ptr<RrClients> OpenRrClients(const std::string& url) {
  ConnectOptions asap;
  asap.send_asap = true;
  auto c = std::make_unique<RrClients>();
  c->responder = Connect(url, "bench-responder", asap);
  c->requester = Connect(url, "bench-requester", asap);
  natsSubscription* raw = nullptr;
  Check(natsConnection_Subscribe(&raw, c->responder.get(), "bench.req", OnRequest, nullptr),
        "subscribe");
  c->sub.reset(raw);
  Check(natsConnection_Flush(c->responder.get()), "flush");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const char payload[16] = "0123456789abcde";
  for (int i = 0; i < 200; ++i) {  // warm-up, unmeasured
    natsMsg* reply = nullptr;
    if (natsConnection_Request(&reply, c->requester.get(), "bench.req", payload, 16, 2000) ==
        NATS_OK) {
      natsMsg_Destroy(reply);
    }
  }
  return c;
}

// Appends the round-trip times (us) of `count` requests, or fewer when `limit` passes.
void RequestSlice(RrClients& c, int count, Clock::time_point limit, std::vector<double>& us) {
  const char payload[16] = "0123456789abcde";
  for (int i = 0; i < count && Clock::now() < limit; ++i) {
    natsMsg* reply = nullptr;
    const auto t0 = Clock::now();
    natsStatus s =
        natsConnection_Request(&reply, c.requester.get(), "bench.req", payload, 16, 2000);
    const auto t1 = Clock::now();
    if (s != NATS_OK) continue;
    natsMsg_Destroy(reply);
    us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
}

double Percentile(std::vector<double>& v, int pct) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, v.size() * static_cast<size_t>(pct) / 100)];
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

// --- request/reply over several paths ---------------------------------------------------------

// One path: its samples over all rounds (the table's percentiles), and each round's p50/p99
// (printed below the table, to show how much the machine moved during the run).
struct RrPath {
  std::string name;
  std::string url;
  std::unique_ptr<RrClients> clients;
  std::vector<double> all;
  std::vector<double> p50, p99;
  double busy_s = 0;  // time spent in this path's slices
  double P50() { return Percentile(all, 50); }
  double P99() { return Percentile(all, 99); }
  double Rate() const { return busy_s > 0 ? static_cast<double>(all.size()) / busy_s : 0; }
};

// Each round sends 3000 requests per path in slices of 500, the paths alternating slice by
// slice, so a disturbance from the rest of the machine falls on all of them alike.
void MeasureRequestReply(std::vector<RrPath>& paths, int rounds) {
  constexpr int kPerRound = 3000, kSlice = 500;
  for (RrPath& p : paths) p.clients = OpenRrClients(p.url);
  for (int round = 0; round < rounds; ++round) {
    std::vector<std::vector<double>> got(paths.size());
    const auto limit = Clock::now() + std::chrono::seconds(12);
    for (int slice = 0; slice < kPerRound / kSlice; ++slice) {
      for (size_t k = 0; k < paths.size(); ++k) {
        const size_t i = (k + static_cast<size_t>(slice + round)) % paths.size();
        const auto t0 = Clock::now();
        RequestSlice(*paths[i].clients, kSlice, limit, got[i]);
        paths[i].busy_s += Seconds(Clock::now() - t0);
      }
    }
    for (size_t i = 0; i < paths.size(); ++i) {
      if (got[i].empty()) continue;
      paths[i].all.insert(paths[i].all.end(), got[i].begin(), got[i].end());
      paths[i].p50.push_back(Percentile(got[i], 50));
      paths[i].p99.push_back(Percentile(got[i], 99));
    }
  }
  for (RrPath& p : paths) p.clients.reset();
}

std::string Us(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f us", v);
  return buf;
}

std::string JoinRounds(const std::vector<double>& v) {
  std::string out;
  char buf[32];
  for (double x : v) {
    std::snprintf(buf, sizeof buf, "%s%.0f", out.empty() ? "" : " ", x);
    out += buf;
  }
  return out;
}

// paths: direct, trivial forwarder, sidecar, then optionally the alternative sidecar.
void RequestReplyRows(std::vector<RrPath>& paths) {
  auto ratio = [](double a, double b) { return b > 0 ? a / b : 0.0; };
  RrPath& d = paths[0];
  RrPath& f = paths[1];
  RrPath& s = paths[2];
  Row("request/reply RTT p50, 16 B, SendAsap", Us(d.P50()), Us(s.P50()), ratio(s.P50(), d.P50()),
      "sidecar/direct <= 1.3");
  Row("request/reply RTT p99", Us(d.P99()), Us(s.P99()), ratio(s.P99(), d.P99()),
      "sidecar/direct <= 1.3");
  Row("request/reply rate (req/s)", Fmt(d.Rate(), "req/s"), Fmt(s.Rate(), "req/s"),
      ratio(s.Rate(), d.Rate()), "");
  Row("  bare forwarder RTT p50 (in sidecar column)", Us(d.P50()), Us(f.P50()),
      ratio(f.P50(), d.P50()), "lower bound of a hop");
  Row("  bare forwarder RTT p99", Us(d.P99()), Us(f.P99()), ratio(f.P99(), d.P99()), "");
  Row("  sidecar p50 / bare forwarder p50", "", "", ratio(s.P50(), f.P50()), "");
  // A round trip crosses the proxy 4 times (request in and out, reply in and out).
  Row("  p50 added per crossing: forwarder, sidecar", Us((f.P50() - d.P50()) / 4),
      Us((s.P50() - d.P50()) / 4), 0, "");
  for (size_t i = 3; i < paths.size(); ++i) {
    RrPath& a = paths[i];
    Row(a.name + " RTT p50", Us(d.P50()), Us(a.P50()), ratio(a.P50(), d.P50()), "");
    Row(a.name + " RTT p99", Us(d.P99()), Us(a.P99()), ratio(a.P99(), d.P99()), "");
  }
}

void PrintRequestReplyRounds(const std::vector<RrPath>& paths) {
  std::printf("request/reply per round, p50 | p99 in us:\n");
  for (const RrPath& p : paths) {
    std::printf("  %-16s %s | %s (%zu samples)\n", p.name.c_str(), JoinRounds(p.p50).c_str(),
                JoinRounds(p.p99).c_str(), p.all.size());
  }
}

void TableHeader(const char* title) {
  std::printf("\n%s\n\n", title);
  std::printf("| %-44s | %14s | %14s | %6s | %-22s |\n", "figure", "direct", "sidecar", "ratio",
              "goal");
  std::printf("|%s|%s|%s|%s|%s|\n", std::string(46, '-').c_str(), std::string(16, '-').c_str(),
              std::string(16, '-').c_str(), std::string(8, '-').c_str(),
              std::string(24, '-').c_str());
}

// The request/reply paths: direct, bare forwarder, sidecar, then the optional ones (empty
// url: not measured).
struct RrUrls {
  std::string direct, forwarder, sidecar, alt;
};

std::vector<RrPath> RrPaths(const RrUrls& u) {
  std::vector<RrPath> paths;
  for (const auto& [name, url] : std::vector<std::pair<std::string, std::string>>{
           {"direct", u.direct},
           {"bare forwarder", u.forwarder},
           {"sidecar", u.sidecar},
           {"alt sidecar", u.alt}}) {
    if (url.empty()) continue;
    paths.emplace_back();
    paths.back().name = name;
    paths.back().url = url;
  }
  return paths;
}

int RequestReplyOnly(const RrUrls& urls, int rounds) {
  std::vector<RrPath> paths = RrPaths(urls);
  std::cout << "[bench] request/reply only, " << rounds << " rounds\n" << std::flush;
  MeasureRequestReply(paths, rounds);
  char title[256];
  std::snprintf(title, sizeof title,
                "request/reply: direct to stock nats-server 2.9.10 (west-1) vs through a bare "
                "forwarder vs the sidecar (all samples of %d rounds, paths alternating every 500 requests)",
                rounds);
  TableHeader(title);
  RequestReplyRows(paths);
  std::printf("\n");
  PrintRequestReplyRounds(paths);
  std::fflush(stdout);
  return 0;
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
  // The lower bound: the same path through a bare forwarder process (trivial_forwarder.cc).
  const uint16_t fwd_port = harness::FreeLoopbackPort();
  harness::ProcessSpec fwd_spec;
  fwd_spec.argv = {SIDECAR_BENCH_FORWARDER, std::to_string(fwd_port),
                   std::to_string(cluster.server("west-1").client_port)};
  fwd_spec.log_path = dir.path() / "logs" / "trivial_forwarder.log";
  harness::Process forwarder(fwd_spec);
  if (!WaitListening(fwd_port, std::chrono::seconds(10))) {
    dir.Keep();
    std::cerr << "trivial_forwarder did not start: " << forwarder.LogTail() << "\n";
    return 1;
  }
  const std::string via_fwd = "nats://127.0.0.1:" + std::to_string(fwd_port);
  // Optionally a second sidecar binary, for A/B comparisons in the same minutes.
  const std::string alt_binary = Env("SIDECAR_BENCH_ALT_SIDECAR");
  std::unique_ptr<harness::SidecarProcess> alt;
  if (!alt_binary.empty()) {
    harness::SidecarSpec alt_spec = spec;
    alt_spec.name = "sidecar-alt";
    alt_spec.binary = alt_binary;
    alt = std::make_unique<harness::SidecarProcess>(dir.path(), alt_spec);
    try {
      alt->Start();
    } catch (const std::exception& e) {
      dir.Keep();
      std::cerr << "the alternative sidecar did not start: " << e.what() << "\n";
      return 1;
    }
  }
  const RrUrls rr_urls{direct, via_fwd, via, alt ? alt->ClientUrl() : ""};
  const bool only_rr = Env("SIDECAR_BENCH_ONLY") == "rr";
  const int rounds = Rounds();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  if (only_rr) return RequestReplyOnly(rr_urls, rounds);

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
  // Three paths alternating: direct, the sidecar, and the bare forwarder (what any extra
  // process on the path costs in CPU and wake-ups on this machine, whatever it does).
  double core_direct = 0, core_sidecar = 0, core_fwd = 0;
  for (int round = 0; round < rounds; ++round) {
    core_direct = std::max(core_direct, CoreThroughput(direct, 300000, std::chrono::seconds(6)));
    core_sidecar = std::max(core_sidecar, CoreThroughput(via, 300000, std::chrono::seconds(6)));
    core_fwd = std::max(core_fwd, CoreThroughput(via_fwd, 300000, std::chrono::seconds(6)));
  }
  std::cout << "[bench] request/reply\n" << std::flush;
  std::vector<RrPath> rr = RrPaths(rr_urls);
  MeasureRequestReply(rr, rounds);
  std::cout << "[bench] JetStream async publish\n" << std::flush;
  JsRate js_direct, js_sidecar, js_fwd;
  for (int round = 0; round < rounds; ++round) {
    JsRate d = JsAsyncPublish(direct, "foo.west.bench", 20000, std::chrono::seconds(8));
    JsRate s = JsAsyncPublish(via, "foo.bench", 20000, std::chrono::seconds(8));
    JsRate f = JsAsyncPublish(via_fwd, "foo.west.bench", 20000, std::chrono::seconds(8));
    if (d.rate > js_direct.rate) js_direct = d;
    if (s.rate > js_sidecar.rate) js_sidecar = s;
    if (f.rate > js_fwd.rate) js_fwd = f;
  }
  const long rss_after = sidecar.RssKib();

  char title[256];
  std::snprintf(title, sizeof title,
                "meridian-sidecar vs direct to stock nats-server 2.9.10 (west-1), libnats, same "
                "servers, one run (throughput: best of %d alternating rounds; request/reply: "
                "%d rounds, paths alternating every 500 requests)",
                rounds, rounds);
  TableHeader(title);
  auto ratio = [](double a, double b) { return b > 0 ? a / b : 0.0; };
  Row("core pub->sub 16 B (msgs/s)", Fmt(core_direct, "msg/s"), Fmt(core_sidecar, "msg/s"),
      ratio(core_sidecar, core_direct), "sidecar/direct >= 0.9");
  Row("  bare forwarder (in sidecar column)", "", Fmt(core_fwd, "msg/s"),
      ratio(core_fwd, core_direct), "");
  Row("  sidecar / bare forwarder", "", "", ratio(core_sidecar, core_fwd), "");
  RequestReplyRows(rr);
  char buf[64] = "";
  Row("JS async publish 128 B, R1, window 256", Fmt(js_direct.rate, "msg/s"),
      Fmt(js_sidecar.rate, "msg/s"), ratio(js_sidecar.rate, js_direct.rate),
      "sidecar/direct >= 0.9");
  Row("  to foo.west.bench (sidecar: foo.bench)", "", "", 0, "");
  Row("  bare forwarder (in sidecar column)", "", Fmt(js_fwd.rate, "msg/s"),
      ratio(js_fwd.rate, js_direct.rate), "");
  Row("  sidecar / bare forwarder", "", "", ratio(js_sidecar.rate, js_fwd.rate), "");
  Row("sidecar RSS idle", "", std::to_string(rss_idle) + " KiB", 0, "");
  Row("sidecar RSS with " + std::to_string(opened) + " idle clients", "",
      std::to_string(rss_conns) + " KiB", 0, "");
  const double per_client = opened > 0 ? static_cast<double>(rss_conns - rss_idle) / opened : 0.0;
  const double server_per_client =
      server_opened > 0 ? static_cast<double>(server_conns - server_idle) / server_opened : 0.0;
  std::snprintf(buf, sizeof buf, "%.1f KiB", server_per_client);
  const std::string server_cell = buf;
  std::snprintf(buf, sizeof buf, "%.1f KiB", per_client);
  Row("RSS per idle client (direct: nats-server)", server_cell, buf,
      ratio(per_client, server_per_client), "");
  Row("sidecar RSS after the idle clients left", "", std::to_string(rss_left) + " KiB", 0, "");
  Row("sidecar RSS after the load", "", std::to_string(rss_after) + " KiB", 0, "");
  Row("west-1 nats-server RSS idle", std::to_string(server_idle) + " KiB", "", 0, "");
  std::printf("\nJS async publish errors: direct %lld, sidecar %lld%s%s\n",
              static_cast<long long>(js_direct.errors), static_cast<long long>(js_sidecar.errors),
              g_first_async_error.empty() ? "" : "; first: ", g_first_async_error.c_str());
  PrintRequestReplyRounds(rr);
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

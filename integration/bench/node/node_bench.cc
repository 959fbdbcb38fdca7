// meridian-node vs stock nats-server in the same run, with libnats: publish-only throughput,
// 1:1 pub/sub, 1:4 fan-out, request/reply latency (p50/p99) for 16 B and 1 KiB payloads, and
// RSS with 1000 idle connections. Bounded (each figure a fixed message count); prints a table.
// Both servers run at once and every figure is measured in kRounds rounds that alternate
// between them, so load from elsewhere on the machine hits both alike: a throughput figure is
// the best of its rounds, a latency figure the median of its rounds.
#include <arpa/inet.h>
#include <nats/nats.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "harness/binaries.h"
#include "harness/health.h"
#include "harness/ports.h"
#include "harness/process.h"
#include "harness/run_dir.h"

namespace {

using namespace meridian;
using Clock = std::chrono::steady_clock;

natsConnection* Connect(uint16_t port) {
  natsOptions* opts = nullptr;
  natsOptions_Create(&opts);
  std::string url = "nats://127.0.0.1:" + std::to_string(port);
  natsOptions_SetURL(opts, url.c_str());
  natsOptions_SetAllowReconnect(opts, false);
  natsConnection* nc = nullptr;
  natsStatus s = natsConnection_Connect(&nc, opts);
  natsOptions_Destroy(opts);
  if (s != NATS_OK) throw std::runtime_error(std::string("connect: ") + natsStatus_GetText(s));
  return nc;
}

void Count(natsConnection*, natsSubscription*, natsMsg* m, void* closure) {
  static_cast<std::atomic<int64_t>*>(closure)->fetch_add(1, std::memory_order_relaxed);
  natsMsg_Destroy(m);
}

void Echo(natsConnection* nc, natsSubscription*, natsMsg* m, void*) {
  natsConnection_Publish(nc, natsMsg_GetReply(m), natsMsg_GetData(m), natsMsg_GetDataLength(m));
  natsMsg_Destroy(m);
}

// Messages per second for publishing `n` messages to `subs` subscriber connections
// (0: publish only), counted when every subscriber got all of them.
double Throughput(uint16_t port, int subs, int n, int size) {
  std::string payload(size, 'x');
  natsConnection* pub = Connect(port);
  std::vector<natsConnection*> conns;
  std::vector<natsSubscription*> subscriptions;
  std::atomic<int64_t> received{0};
  for (int i = 0; i < subs; ++i) {
    natsConnection* c = Connect(port);
    natsSubscription* s = nullptr;
    natsConnection_Subscribe(&s, c, "bench", Count, &received);
    natsSubscription_SetPendingLimits(s, -1, -1);
    natsConnection_Flush(c);
    conns.push_back(c);
    subscriptions.push_back(s);
  }
  auto start = Clock::now();
  for (int i = 0; i < n; ++i) natsConnection_Publish(pub, "bench", payload.data(), size);
  natsConnection_FlushTimeout(pub, 30000);
  auto deadline = Clock::now() + std::chrono::seconds(20);
  while (received.load() < static_cast<int64_t>(n) * subs && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  int64_t got = received.load();
  for (auto* s : subscriptions) natsSubscription_Destroy(s);
  for (auto* c : conns) natsConnection_Destroy(c);
  natsConnection_Destroy(pub);
  if (got < static_cast<int64_t>(n) * subs) return 0;  // lost messages: report 0
  return n / secs;
}

// p50 and p99 request/reply round trip in microseconds.
std::pair<double, double> Latency(uint16_t port, int n, int size) {
  std::string payload(size, 'x');
  natsConnection* server = Connect(port);
  natsConnection* client = Connect(port);
  natsSubscription* s = nullptr;
  natsConnection_Subscribe(&s, server, "svc", Echo, nullptr);
  natsConnection_Flush(server);
  std::vector<double> us;
  us.reserve(n);
  for (int i = 0; i < n; ++i) {
    natsMsg* reply = nullptr;
    auto t0 = Clock::now();
    if (natsConnection_Request(&reply, client, "svc", payload.data(), size, 2000) == NATS_OK) {
      us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
      natsMsg_Destroy(reply);
    }
  }
  natsSubscription_Destroy(s);
  natsConnection_Destroy(client);
  natsConnection_Destroy(server);
  if (us.empty()) return {0, 0};
  std::sort(us.begin(), us.end());
  return {us[us.size() / 2], us[us.size() * 99 / 100]};
}

// CPU time (user + system, ms) the process has used so far.
double CpuMs(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  auto close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(stat.substr(close + 2));
  std::string field;
  double utime = 0, stime = 0;
  for (int i = 3; rest >> field; ++i) {  // field 3 is the state; utime is 14, stime 15
    if (i == 14) utime = std::stod(field);
    if (i == 15) {
      stime = std::stod(field);
      break;
    }
  }
  return (utime + stime) * 1000.0 / static_cast<double>(sysconf(_SC_CLK_TCK));
}

long RssKb(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return 0;
}

// RSS growth (KiB) of the server with `n` idle clients that sent CONNECT and got PONG.
long IdleRssKb(pid_t pid, uint16_t port, int n) {
  long before = RssKb(pid);
  std::vector<int> fds;
  const std::string hello = "CONNECT {\"verbose\":false}\r\nPING\r\n";
  for (int i = 0; i < n; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      if (fd >= 0) ::close(fd);
      break;
    }
    (void)!::write(fd, hello.data(), hello.size());
    fds.push_back(fd);
  }
  for (int fd : fds) {
    std::string got;
    char buf[4096];
    while (got.find("PONG") == std::string::npos) {
      ssize_t r = ::read(fd, buf, sizeof buf);
      if (r <= 0) break;
      got.append(buf, static_cast<size_t>(r));
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  long after = RssKb(pid);
  for (int fd : fds) ::close(fd);
  return after - before;
}

constexpr int kRounds = 3;

struct Server {
  std::string name;
  std::unique_ptr<harness::Process> process;
  uint16_t port = 0;
  std::map<std::string, std::vector<double>> samples;  // figure -> one value per round
};

double Best(std::vector<double> v) { return *std::max_element(v.begin(), v.end()); }
double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Runs `one` for each server in turn, kRounds times (the order flips every round). With
// NODE_BENCH_ONLY set (e.g. "req/rep" or "pub only"), only the figures whose name contains it
// run: for profiling one load.
bool Wanted(const std::string& figure) {
  const char* only = std::getenv("NODE_BENCH_ONLY");
  return only == nullptr || figure.find(only) != std::string::npos;
}

template <typename F>
void Rounds(std::vector<Server>& servers, const std::string& figure, F one) {
  if (!Wanted(figure)) return;
  for (int r = 0; r < kRounds; ++r) {
    for (size_t i = 0; i < servers.size(); ++i) {
      Server& s = servers[r % 2 == 0 ? i : servers.size() - 1 - i];
      one(s);
    }
  }
}

// figure -> (value per server), in print order.
std::map<std::string, std::vector<double>> Measure(std::vector<Server>& servers) {
  // First, on the fresh servers: after the loads below, freed heap would hide what idle
  // connections cost.
  for (Server& srv : servers) {
    if (!Wanted("RSS")) break;
    srv.samples["RSS base KiB"].push_back(static_cast<double>(RssKb(srv.process->pid())));
    srv.samples["RSS 1k idle conns KiB"].push_back(
        static_cast<double>(IdleRssKb(srv.process->pid(), srv.port, 1000)));
  }
  for (int size : {16, 1024}) {
    std::string s = size == 16 ? "16B" : "1KiB";
    int n = size == 16 ? 200000 : 100000;
    // Publish-only runs at ~10 M msgs/s here: 10x the messages, so that a figure is not a
    // few milliseconds dominated by connecting and the final flush.
    // And the server's CPU time for those messages (ms per million): at this rate the
    // publishing client is the bottleneck, the CPU shows what each server spends.
    Rounds(servers, "pub only msgs/s " + s, [&](Server& srv) {
      double cpu = CpuMs(srv.process->pid());
      srv.samples["pub only msgs/s " + s].push_back(Throughput(srv.port, 0, n * 10, size));
      srv.samples["pub only cpu ms/M msgs " + s].push_back((CpuMs(srv.process->pid()) - cpu) *
                                                          1e6 / (n * 10.0));
    });
    Rounds(servers, "pub/sub 1:1 msgs/s " + s, [&](Server& srv) {
      srv.samples["pub/sub 1:1 msgs/s " + s].push_back(Throughput(srv.port, 1, n, size));
    });
    Rounds(servers, "fan-out 1:4 msgs/s " + s, [&](Server& srv) {
      srv.samples["fan-out 1:4 msgs/s " + s].push_back(Throughput(srv.port, 4, n / 4, size));
    });
    Rounds(servers, "req/rep us " + s, [&](Server& srv) {
      auto [p50, p99] = Latency(srv.port, 2000, size);
      srv.samples["req/rep p50 us " + s].push_back(p50);
      srv.samples["req/rep p99 us " + s].push_back(p99);
    });
  }
  std::map<std::string, std::vector<double>> out;
  for (Server& srv : servers) {
    for (auto& [name, v] : srv.samples) {
      bool latency = name.find(" us ") != std::string::npos || name.find("cpu") != std::string::npos;
      out[name].push_back(latency || v.size() == 1 ? Median(v) : Best(v));
    }
  }
  return out;
}

}  // namespace

int main() {
  try {
    harness::RunDir dir("node_bench");
    std::vector<Server> servers;
    for (bool ours : {true, false}) {
      uint16_t port = harness::FreeLoopbackPort();
      uint16_t http = harness::FreeLoopbackPort();
      harness::ProcessSpec spec;
      if (ours) {
        spec.argv = {harness::OurBinary("meridian-node").string(),
                     "-a",
                     "127.0.0.1",
                     "-p",
                     std::to_string(port),
                     "-m",
                     std::to_string(http)};
      } else {
        spec.argv = {harness::NatsServerBinary().string(),
                     "-a",
                     "127.0.0.1",
                     "-p",
                     std::to_string(port),
                     "-m",
                     std::to_string(http)};
      }
      spec.log_path = dir / (ours ? "meridian-node.log" : "nats-server.log");
      Server s;
      s.name = ours ? "meridian-node" : "nats-server";
      s.process = std::make_unique<harness::Process>(spec);
      s.port = port;
      harness::WaitForHealthz(*s.process, http);
      servers.push_back(std::move(s));
    }
    auto results = Measure(servers);
    for (Server& s : servers) s.process->Stop();
    std::printf("%d rounds alternating between the servers: throughput is the best round, "
                "latency the median round\n",
                kRounds);
    std::printf("%-26s %16s %16s %8s\n", "figure", "meridian-node", "nats-server", "ratio");
    for (const auto& [name, v] : results) {
      if (v.size() < 2) continue;
      double ours = v[0], theirs = v[1];
      std::printf("%-26s %16.1f %16.1f %8.2f\n", name.c_str(), ours, theirs,
                  theirs == 0 ? 0.0 : ours / theirs);
    }
    nats_Close();
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "node_bench: %s\n", e.what());
    return 1;
  }
}

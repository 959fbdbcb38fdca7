#include "demo/steps.h"

#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <sstream>
#include <thread>

#include "harness/binaries.h"
#include "harness/http_client.h"

#include <nlohmann/json.hpp>

namespace meridian::demo {
namespace {

using Clock = std::chrono::steady_clock;

long long Ms(Clock::duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

std::string Seconds(Clock::duration d) {
  std::ostringstream o;
  o << std::fixed << std::setprecision(1) << Ms(d) / 1000.0 << " s";
  return o.str();
}

// Polls `ok` every 250 ms until it holds (true) or `timeout` passes (false); exceptions count
// as "not yet". Ctrl-C or SIGTERM ends the wait with WaitCancelled.
bool WaitUntil(DemoContext& ctx, std::chrono::milliseconds timeout,
               const std::function<bool()>& ok) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    try {
      if (ok()) return true;
    } catch (const std::exception&) {
      // a server still starting or just killed: ask again
    }
    if (ctx.stop_requested()) throw harness::WaitCancelled("stop requested");
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
}

// Sleeps `d` in small steps, giving up early (WaitCancelled) on Ctrl-C or SIGTERM.
void Pause(DemoContext& ctx, Clock::duration d) {
  const auto until = Clock::now() + d;
  while (Clock::now() < until) {
    if (ctx.stop_requested()) throw harness::WaitCancelled("stop requested");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

// Every gateway (and stretch route) leads through the fault proxy, which adds the latency.
void StartSuperCluster(DemoContext& ctx) {
  ctx.run_dir = std::make_unique<harness::RunDir>("demo");
  harness::SuperClusterOptions opts;
  opts.regions = ctx.options.regions;
  opts.servers_per_region = ctx.options.servers_per_region;
  opts.unique_tag = "az:";
  opts.stretch_cluster = ctx.options.stretch_cluster;
  opts.cancel = ctx.stop_requested;
  // Notice a cut link within ~3 s (as the fault proxy's tests and the drills do).
  opts.all_servers_config = "ping_interval: \"1s\"\nping_max: 3\n";
  opts.start_timeout = std::chrono::seconds(120);
  ctx.faulty = std::make_unique<faultproxy::FaultyNatsSuperCluster>(ctx.run_dir->path(), opts);
  ctx.cluster = &ctx.faulty->cluster();
  const auto start = Clock::now();
  ctx.faulty->Start();
  ctx.out << "  " << ctx.cluster->servers().size() << " servers in "
          << ctx.cluster->clusters().size() << " clusters, ready in " << Ms(Clock::now() - start)
          << " ms\n";
  const std::string around = ctx.faulty->LinksAroundProxy();
  if (!around.empty()) throw std::runtime_error("links around the fault proxy: " + around);
  ctx.out << "  every gateway between regions goes through the fault proxy (checked in /gatewayz"
          << (ctx.options.stretch_cluster ? " and /routez" : "") << ")\n";
  ctx.faulty->proxy().SetLatencyBetweenAll(ctx.options.regions, ctx.options.latency,
                                           ctx.options.jitter);
  ctx.out << "  latency set on every path between regions: " << ctx.options.latency.count()
          << " ms one way + 0-" << ctx.options.jitter.count() << " ms jitter (a round trip "
          << 2 * ctx.options.latency.count() << "-"
          << 2 * (ctx.options.latency.count() + ctx.options.jitter.count()) << " ms)\n";
}

void CheckHealth(DemoContext& ctx) {
  auto& cluster = *ctx.cluster;
  std::string leader;
  for (const auto& s : cluster.servers()) {
    auto r = harness::HttpGet("127.0.0.1", s.http_port, "/healthz");
    if (r.status != 200) {
      throw std::runtime_error(s.name + " is not healthy: " + (r.status ? r.body : r.error));
    }
    std::string l = cluster.MetaLeader(s.name);
    if (l.empty()) throw std::runtime_error(s.name + " knows no JetStream meta leader");
    if (!leader.empty() && l != leader) {
      throw std::runtime_error("servers disagree on the JetStream meta leader: " + leader +
                               " and " + l);
    }
    leader = l;
    ctx.out << "  " << std::left << std::setw(12) << s.name << " /healthz ok, tags";
    for (const auto& t : s.tags) ctx.out << " " << t;
    ctx.out << "\n";
  }
  ctx.out << "  JetStream meta leader: " << leader << " (all servers agree)\n";
}

std::vector<std::string> SplitUrls(const std::string& list) {
  std::vector<std::string> urls;
  std::stringstream in(list);
  for (std::string u; std::getline(in, u, ',');) {
    if (!u.empty()) urls.push_back(u);
  }
  return urls;
}

// One meridian-sidecar per region, in front of that region's servers, all knowing the
// virtual stream foo (subjects foo.>, every region).
void StartSidecars(DemoContext& ctx) {
  auto& cluster = *ctx.cluster;
  std::vector<harness::RegionSpec> regions;
  for (const auto& r : ctx.options.regions)
    regions.push_back({r, SplitUrls(cluster.ClientUrls(r))});
  std::vector<harness::VirtualStreamSpec> streams = {{"foo", {"foo.>"}, ctx.options.regions}};
  for (const auto& r : ctx.options.regions) {
    harness::SidecarSpec spec;
    spec.name = "sidecar-" + r;
    spec.region = r;
    spec.upstream_urls = SplitUrls(cluster.ClientUrls(r));
    if (auto app = cluster.app_user()) {
      spec.upstream_user = app->user;
      spec.upstream_password = app->password;
    }
    spec.regions = regions;
    spec.streams = streams;
    auto sidecar = std::make_unique<harness::SidecarProcess>(ctx.run_dir->path(), spec);
    sidecar->Start(std::chrono::seconds(30));
    ctx.out << "  " << std::left << std::setw(16) << spec.name << " " << sidecar->ClientUrl()
            << " (healthz http://127.0.0.1:" << sidecar->http_port() << "/healthz ok)\n";
    ctx.sidecars.push_back(std::move(sidecar));
  }
}

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// Runs our `meridian` CLI with the arguments (each already shell-quoted where needed).
CommandResult RunMeridian(const std::string& args) {
  const std::string command = harness::OurBinary("meridian").string() + " " + args + " 2>&1";
  CommandResult r;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) throw std::runtime_error("could not run " + command);
  char buffer[4096];
  for (size_t n; (n = fread(buffer, 1, sizeof buffer, pipe)) > 0;) r.output.append(buffer, n);
  int status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

void PrintIndented(std::ostream& out, const std::string& text) {
  std::stringstream in(text);
  for (std::string line; std::getline(in, line);) out << "    " << line << "\n";
}

std::string Quote(const std::string& s) {
  return "'" + s + "'";
}

// Writes <run>/conf/topology.toml (regions with servers and credentials, virtual stream foo)
// and runs `meridian topology apply --file ... --yes`.
void ApplyTopology(DemoContext& ctx) {
  auto& cluster = *ctx.cluster;
  const auto path = ctx.run_dir->path() / "conf" / "topology.toml";
  std::ofstream f(path);
  f << "# Written by meridian-demo: the three regions and the virtual stream foo.\n";
  for (const auto& r : ctx.options.regions) {
    f << "[regions." << r << "]\nservers = [";
    const auto urls = SplitUrls(cluster.ClientUrls(r));
    for (size_t i = 0; i < urls.size(); ++i) f << (i ? ", " : "") << '"' << urls[i] << '"';
    f << "]\n";
    if (auto app = cluster.app_user()) {
      f << "user = \"" << app->user << "\"\npassword = \"" << app->password << "\"\n";
    }
    f << "\n";
  }
  f << "[streams.foo]\nsubjects = [\"foo.>\"]\nmode = \"eventual\"\nregions = [";
  for (size_t i = 0; i < ctx.options.regions.size(); ++i) {
    f << (i ? ", " : "") << '"' << ctx.options.regions[i] << '"';
  }
  f << "]\n";
  f.close();
  ctx.out << "  $ meridian topology apply --file " << path.string() << " --yes\n";
  auto r = RunMeridian("topology apply --file " + Quote(path.string()) + " --yes");
  // The plan's per-field lines are long; the summary and the per-stream results tell the story.
  std::stringstream in(r.output);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line.rfind("      ", 0) == 0) continue;
    ctx.out << "    " << line << "\n";
  }
  if (r.exit_code != 0) {
    throw std::runtime_error("meridian topology apply failed (exit " + std::to_string(r.exit_code) +
                             ")");
  }
}

harness::SidecarProcess& SidecarOf(DemoContext& ctx, const std::string& region) {
  for (auto& s : ctx.sidecars) {
    if (s->spec().region == region) return *s;
  }
  throw std::runtime_error("no sidecar for region " + region);
}

// Publishes foo.test through the last region's sidecar and reads the virtual stream foo
// through the first region's sidecar until the message is there.
void PublishAndRead(DemoContext& ctx) {
  const auto& writer = ctx.options.regions.back();
  const auto& reader = ctx.options.regions.front();
  const std::string w = SidecarOf(ctx, writer).ClientUrl();
  const std::string e = SidecarOf(ctx, reader).ClientUrl();
  ctx.out << "  $ meridian --server " << w << " pub foo.test 'hello from " << writer << "'\n";
  auto pub = RunMeridian("--server " + w + " pub foo.test " + Quote("hello from " + writer));
  PrintIndented(ctx.out, pub.output);
  if (pub.exit_code != 0) throw std::runtime_error("publishing in " + writer + " failed");
  ctx.out << "  $ meridian --server " << e << " stream view foo --count 1\n";
  const auto start = Clock::now();
  while (true) {
    auto view = RunMeridian("--server " + e + " stream view foo --count 1");
    if (view.exit_code == 0 && view.output.find("Subject: foo.test") != std::string::npos) {
      PrintIndented(ctx.out, view.output);
      const auto ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
      ctx.out << "  observed: the message published in " << writer << " is in " << reader
              << "'s read stream with subject foo.test (after " << ms << " ms)\n";
      return;
    }
    if (Clock::now() - start > std::chrono::seconds(60) || ctx.stop_requested()) {
      PrintIndented(ctx.out, view.output);
      throw std::runtime_error("the message published in " + writer + " did not reach " + reader +
                               " within 60 s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
}

// `meridian stream info foo` through each region's sidecar: placement and message count.
void StreamInfoEverywhere(DemoContext& ctx) {
  const std::string expected = "1";  // the one message published in the step before
  for (const auto& region : ctx.options.regions) {
    const std::string url = SidecarOf(ctx, region).ClientUrl();
    const auto start = Clock::now();
    std::string placement, messages;
    while (true) {
      auto r = RunMeridian("--server " + url + " stream info foo");
      if (r.exit_code != 0) {
        PrintIndented(ctx.out, r.output);
        throw std::runtime_error("stream info foo failed in " + region);
      }
      placement.clear();
      messages.clear();
      std::stringstream in(r.output);
      for (std::string line; std::getline(in, line);) {
        // "   Messages: 1" (state), not "Maximum Messages: ..." (configuration).
        auto value = [&](const std::string& key) {
          auto first = line.find_first_not_of(' ');
          if (first == std::string::npos || line.compare(first, key.size(), key) != 0)
            return std::string();
          return line.substr(first + key.size());
        };
        if (placement.empty()) placement = value("Placement Cluster: ");
        if (messages.empty()) messages = value("Messages: ");
      }
      if (messages == expected) break;
      if (Clock::now() - start > std::chrono::seconds(60) || ctx.stop_requested()) {
        throw std::runtime_error("stream foo in " + region + " holds " + messages +
                                 " messages after 60 s, expected " + expected);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
    ctx.out << "  " << std::left << std::setw(8) << region << " (meridian --server " << url
            << " stream info foo): placement " << placement << ", messages " << messages
            << " (waited " << ms << " ms)\n";
  }
}

// ---- The seed scenario with traffic ----

constexpr const char* kSubject = "foo.demo";  // what the publishers publish (virtual stream foo)
constexpr auto kConvergeTimeout = std::chrono::seconds(180);

std::string WriteStream(const std::string& region) { return "foo-write-" + region; }
std::string ReadStream(const std::string& region) { return "foo-read-" + region; }

RegionApi& Api(DemoContext& ctx, const std::string& region) {
  auto& api = ctx.api[region];
  if (!api) {
    std::vector<std::string> urls;
    for (const auto* s : ctx.cluster->ServersIn(region)) urls.push_back(s->ClientUrl());
    const auto app = ctx.cluster->app_user();
    api = std::make_unique<RegionApi>(region, urls, app ? app->user : "",
                                      app ? app->password : "");
  }
  return *api;
}

nlohmann::json SidecarHealth(DemoContext& ctx, const std::string& region) {
  auto r = harness::HttpGet("127.0.0.1", SidecarOf(ctx, region).http_port(), "/healthz");
  if (r.status == 0) throw std::runtime_error("sidecar-" + region + " /healthz: " + r.error);
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (j.is_discarded()) throw std::runtime_error("sidecar-" + region + " /healthz: " + r.body);
  return j;
}

// Sum of the write streams' last sequences: every message the regions ever stored.
std::optional<uint64_t> WrittenEverywhere(DemoContext& ctx) {
  uint64_t sum = 0;
  for (const auto& r : ctx.options.regions) {
    auto n = Api(ctx, r).LastSeq(WriteStream(r));
    if (!n) return std::nullopt;
    sum += *n;
  }
  return sum;
}

std::map<std::string, std::optional<uint64_t>> ReadCounts(DemoContext& ctx) {
  std::map<std::string, std::optional<uint64_t>> out;
  for (const auto& r : ctx.options.regions) out[r] = Api(ctx, r).Messages(ReadStream(r));
  return out;
}

std::string DescribeCounts(DemoContext& ctx,
                           const std::map<std::string, std::optional<uint64_t>>& counts) {
  std::ostringstream o;
  for (const auto& r : ctx.options.regions) {
    const auto& n = counts.at(r);
    o << (r == ctx.options.regions.front() ? "" : ", ") << r << " "
      << (n ? std::to_string(*n) : "(no answer)");
  }
  return o.str();
}

struct Tally {
  std::map<std::string, size_t> sent, acked;
};
Tally Snapshot(DemoContext& ctx) {
  Tally t;
  for (const auto& r : ctx.options.regions) {
    t.sent[r] = ctx.ledger.Sent(r);
    t.acked[r] = ctx.ledger.Acked(r);
  }
  return t;
}

// "east 60/60 acked, central 58/60 acked (...)": publishes between two snapshots.
std::string DescribeWindow(DemoContext& ctx, const Tally& before, const Tally& after) {
  std::ostringstream o;
  for (const auto& r : ctx.options.regions) {
    o << (r == ctx.options.regions.front() ? "" : ", ") << r << " "
      << after.acked.at(r) - before.acked.at(r) << "/" << after.sent.at(r) - before.sent.at(r)
      << " acked";
  }
  return o.str();
}

// After a repair at `since` (restart, heal), publishers still running: what the write streams
// held once the regions answered again must reach every read stream. Prints progress; records
// and returns the time from `since`.
std::chrono::milliseconds Converge(DemoContext& ctx, const std::string& what,
                                   Clock::time_point since) {
  std::optional<uint64_t> target;
  if (!WaitUntil(ctx, kConvergeTimeout, [&] { return (target = WrittenEverywhere(ctx)).has_value(); })) {
    throw std::runtime_error("the write streams did not answer within 180 s after " + what);
  }
  ctx.out << "  every write stream answers: " << *target
          << " messages stored in all regions; waiting until each read stream holds them\n";
  std::string last_line;
  auto last_print = Clock::now() - std::chrono::seconds(10);
  const bool ok = WaitUntil(ctx, kConvergeTimeout, [&] {
    const auto counts = ReadCounts(ctx);
    bool done = true;
    for (const auto& [r, n] : counts) done = done && n && *n >= *target;
    const std::string line = DescribeCounts(ctx, counts);
    if (!done && line != last_line && Clock::now() - last_print >= std::chrono::seconds(1)) {
      ctx.out << "    +" << Seconds(Clock::now() - since) << " read streams: " << line << "\n"
              << std::flush;
      last_line = line;
      last_print = Clock::now();
    }
    if (done) {
      ctx.out << "    +" << Seconds(Clock::now() - since) << " read streams: " << line << "\n";
    }
    return done;
  });
  if (!ok) {
    throw std::runtime_error("the read streams did not converge within 180 s after " + what);
  }
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - since);
  ctx.out << "  converged " << Seconds(took) << " after " << what
          << " (counted from the repair, start-up included): every read stream holds all "
          << *target << " messages stored before\n";
  ctx.convergence.push_back({what, took});
  return took;
}

void Event(DemoContext& ctx, const std::string& what) {
  ctx.events.push_back({what, Clock::now()});
}

void StartPublishers(DemoContext& ctx) {
  Event(ctx, "publishers started");
  for (const auto& r : ctx.options.regions) {
    auto p = std::make_unique<Publisher>(r, SidecarOf(ctx, r).ClientUrl(), kSubject,
                                         std::chrono::milliseconds(100), ctx.ledger);
    p->Start();
    ctx.out << "  publisher-" << r << " -> " << SidecarOf(ctx, r).ClientUrl() << ": "
            << kSubject << " every 100 ms, body \"" << r << "-<n>\" (unique), PubAck awaited 5 s\n";
    ctx.publishers[r] = std::move(p);
  }
  const Tally before = Snapshot(ctx);
  Pause(ctx, std::chrono::seconds(4));
  ctx.out << "  in 4 s: " << DescribeWindow(ctx, before, Snapshot(ctx)) << "\n";
}

// The region the seed kills (the middle one: "central" by default).
const std::string& KillRegion(DemoContext& ctx) {
  return ctx.options.regions[ctx.options.regions.size() / 2];
}
// The region the split cuts off (the last one: "west" by default).
const std::string& CutRegion(DemoContext& ctx) { return ctx.options.regions.back(); }

// Lets the publishers run for `at_least`, then on (up to 60 s in all) until each of `regions`
// has 5 acknowledgements more than in `before` (a publish in flight at a kill times out after
// 5 s first). False when one never got there.
bool PublishOn(DemoContext& ctx, const Tally& before, Clock::duration at_least,
               const std::vector<std::string>& regions) {
  const auto start = Clock::now();
  Pause(ctx, at_least);
  const auto rest = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::seconds(60) - (Clock::now() - start));
  return WaitUntil(ctx, std::max(rest, std::chrono::milliseconds(0)), [&] {
    const Tally now = Snapshot(ctx);
    for (const auto& r : regions) {
      if (now.acked.at(r) < before.acked.at(r) + 5) return false;
    }
    return true;
  });
}

void KillCentral(DemoContext& ctx) {
  const std::string& victim = KillRegion(ctx);
  const Tally before = Snapshot(ctx);
  const auto killed = Clock::now();
  ctx.cluster->KillCluster(victim);
  Event(ctx, victim + " killed");
  ctx.out << "  SIGKILLed every server of " << victim << ":";
  for (const auto* s : ctx.cluster->ServersIn(victim)) ctx.out << " " << s->name;
  ctx.out << "\n";
  nlohmann::json health;
  if (!WaitUntil(ctx, std::chrono::seconds(60), [&] {
        health = SidecarHealth(ctx, victim);
        return health.value("status", "") == "degraded";
      })) {
    throw std::runtime_error("sidecar-" + victim + " /healthz did not say degraded within 60 s: " +
                             health.dump());
  }
  ctx.out << "  +" << Seconds(Clock::now() - killed) << " sidecar-" << victim
          << " fails over: GET /healthz -> " << health.dump() << "\n";
  const bool flowing = PublishOn(ctx, before, std::chrono::seconds(6), ctx.options.regions);
  const Tally after = Snapshot(ctx);
  ctx.out << "  publishing on while " << victim << " is down (" << Seconds(Clock::now() - killed)
          << "): " << DescribeWindow(ctx, before, after) << "\n";
  if (!flowing) {
    throw std::runtime_error("publishing did not go on in every region (5 acks each within 60 s)"
                             " while " + victim + " was down");
  }
  ctx.out << "  read streams now: " << DescribeCounts(ctx, ReadCounts(ctx)) << " (" << victim
          << "'s own does not answer)\n";
}

// Publishes sent since `since` that were not acknowledged, by region and outcome; "" if none.
std::string FailuresSince(DemoContext& ctx, Clock::time_point since) {
  std::map<std::string, std::map<std::string, int>> failed;
  for (const auto& rec : ctx.ledger.Records()) {
    if (!rec.acked && rec.sent >= since) ++failed[rec.region][rec.outcome.substr(0, 80)];
  }
  std::ostringstream o;
  for (const auto& [region, outcomes] : failed) {
    for (const auto& [outcome, n] : outcomes) {
      o << (o.tellp() > 0 ? "; " : "") << region << " " << n << "x \"" << outcome << "\"";
    }
  }
  return o.str();
}

void RestartCentral(DemoContext& ctx) {
  const std::string& victim = KillRegion(ctx);
  const Tally before = Snapshot(ctx);
  const auto restarted = Clock::now();
  Event(ctx, victim + " restarting");
  ctx.cluster->RestartCluster(victim);
  ctx.cluster->WaitUntilReady(std::chrono::seconds(180));
  ctx.out << "  " << victim << " restarted; super-cluster ready (one meta leader) after "
          << Seconds(Clock::now() - restarted) << "\n";
  nlohmann::json health;
  if (!WaitUntil(ctx, std::chrono::seconds(60), [&] {
        health = SidecarHealth(ctx, victim);
        return health.value("status", "") == "ok";
      })) {
    throw std::runtime_error("sidecar-" + victim + " did not return home within 60 s: " +
                             health.dump());
  }
  Event(ctx, "sidecar-" + victim + " home");
  ctx.out << "  +" << Seconds(Clock::now() - restarted) << " sidecar-" << victim
          << " is back home: GET /healthz -> " << health.dump() << "\n";
  Converge(ctx, victim + " restarted", restarted);
  ctx.out << "  publishes since the restart began: " << DescribeWindow(ctx, before, Snapshot(ctx))
          << "\n";
  const std::string failed = FailuresSince(ctx, restarted);
  if (!failed.empty()) {
    // Seen in every run with stock 2.9.10: the sidecar moves its sessions home once the home
    // servers accept connections, before they serve the write stream again (JetStream still
    // recovering), and those publishes find no responder. Not acknowledged, so the invariants
    // allow them; the publisher would retry. Reported, not fixed here (proxy/).
    ctx.out << "  not acknowledged: " << failed << "\n"
            << "  (sidecar-" << victim << " went home when " << victim << "'s servers accepted"
            << " connections, before their JetStream served the write stream again)\n";
  }
}

void SplitBrain(DemoContext& ctx) {
  const std::string& island = CutRegion(ctx);
  std::vector<std::string> rest;
  for (const auto& r : ctx.options.regions) {
    if (r != island) rest.push_back(r);
  }
  const Tally before = Snapshot(ctx);
  const auto cut = Clock::now();
  ctx.faulty->proxy().Partition({{island}, rest}, faultproxy::CutMode::kBlackhole);
  Event(ctx, island + " cut off");
  ctx.out << "  fault proxy: black hole between " << island << " and every other region (no"
          << " process killed; the servers notice by missed pings, ~3 s)\n";
  const bool flowing = PublishOn(ctx, before, std::chrono::seconds(10), ctx.options.regions);
  const Tally after = Snapshot(ctx);
  ctx.out << "  writes on both sides for " << Seconds(Clock::now() - cut) << ": "
          << DescribeWindow(ctx, before, after) << "\n";
  if (!flowing) {
    throw std::runtime_error("writes did not go on in every region during the split (5 acks "
                             "each within 60 s)");
  }
  ctx.out << "  read streams diverge: " << DescribeCounts(ctx, ReadCounts(ctx)) << "\n";
  ctx.out << "  sidecar-" << island << " stays home (its own servers answer): GET /healthz -> "
          << SidecarHealth(ctx, island).dump() << "\n";
}

void HealSplit(DemoContext& ctx) {
  const auto healed = Clock::now();
  ctx.faulty->proxy().HealAll();
  Event(ctx, "split healed");
  ctx.out << "  fault proxy: every link healed (latency stays)\n";
  Converge(ctx, "the split healed", healed);
  ctx.cluster->WaitUntilReady(std::chrono::seconds(180));
  ctx.out << "  super-cluster ready again (one meta leader) " << Seconds(Clock::now() - healed)
          << " after the heal\n";
}

// Publishers stopped: wait until every read stream holds every stored message and stays so,
// read each one in full on its stream leader, and compare it with the ledger.
void Summary(DemoContext& ctx) {
  for (auto& [r, p] : ctx.publishers) p->Stop();
  const auto stopped = Clock::now();
  Event(ctx, "publishers stopped");
  ctx.out << "  publishers stopped\n";
  std::optional<uint64_t> target;
  std::map<std::string, std::optional<uint64_t>> counts, last;
  auto stable_since = Clock::now();
  const bool ok = WaitUntil(ctx, kConvergeTimeout, [&] {
    target = WrittenEverywhere(ctx);
    counts = ReadCounts(ctx);
    if (counts != last) {
      last = counts;
      stable_since = Clock::now();
      return false;
    }
    if (!target) return false;
    // At least every stored message (more would be duplicates: the check below names them).
    for (const auto& [r, n] : counts) {
      if (!n || *n < *target) return false;
    }
    return Clock::now() - stable_since >= std::chrono::seconds(2);
  });
  if (!ok) {
    throw std::runtime_error("the read streams did not settle within 180 s: " +
                             DescribeCounts(ctx, counts));
  }
  const auto took =
      std::chrono::duration_cast<std::chrono::milliseconds>(stable_since - stopped);
  ctx.convergence.push_back({"the publishers stopped", std::max(took, decltype(took)(0))});
  ctx.out << "  write streams stored " << *target << " messages in all; read streams hold "
          << DescribeCounts(ctx, counts) << " (unchanged for 2 s)\n";

  const auto records = ctx.ledger.Records();
  struct Row {
    std::string region;
    size_t sent = 0, acked = 0;
    StreamRead read;
    harness::ReadStreamTally tally;
  };
  size_t acked_total = 0;
  for (const auto& rec : records) acked_total += rec.acked ? 1 : 0;
  std::vector<Row> rows;
  for (const auto& r : ctx.options.regions) {
    Row row;
    row.region = r;
    row.sent = ctx.ledger.Sent(r);
    row.acked = ctx.ledger.Acked(r);
    row.read = Api(ctx, r).ReadStream(ReadStream(r), kSubject);
    row.tally = harness::TallyReadStream(records, row.read.count_of_id);
    rows.push_back(std::move(row));
  }
  ctx.out << "\n  Summary (" << records.size() << " published, " << acked_total
          << " acknowledged in all; each read stream read in full on its stream leader)\n\n";
  ctx.out << "  " << std::left << std::setw(9) << "region" << std::right << std::setw(10)
          << "published" << std::setw(7) << "acked" << "   " << std::left << std::setw(30)
          << "read stream (leader)" << std::right << std::setw(10) << "acked in" << std::setw(10)
          << "unacked" << std::setw(6) << "dup" << std::setw(9) << "missing" << "\n";
  for (const auto& row : rows) {
    ctx.out << "  " << std::left << std::setw(9) << row.region << std::right << std::setw(10)
            << row.sent << std::setw(7) << row.acked << "   " << std::left << std::setw(30)
            << (ReadStream(row.region) + " (" + row.read.leader + ")") << std::right
            << std::setw(10)
            << (std::to_string(row.tally.acked_present) + "/" + std::to_string(acked_total))
            << std::setw(10) << row.tally.unacked_present << std::setw(6)
            << row.tally.duplicates << std::setw(9) << row.tally.missing_acked << "\n";
  }
  ctx.out << "\n  (published/acked: by the region's publisher; acked in: acknowledged messages of"
          << " every region present in that read stream; unacked: publishes that timed out but"
          << " were stored, each once)\n";
  const auto t0 = ctx.events.front().second;  // publishers started
  auto at = [&](Clock::time_point t) { return "+" + Seconds(t - t0); };
  ctx.out << "  timeline:";
  for (const auto& [what, when] : ctx.events) ctx.out << " " << at(when) << " " << what << ";";
  ctx.out << "\n";
  // Not acknowledged, by region and outcome, with when they were sent.
  struct Span {
    int n = 0;
    Clock::time_point first, last;
  };
  std::map<std::string, std::map<std::string, Span>> unacked;
  for (const auto& rec : records) {
    if (rec.acked) continue;
    Span& sp = unacked[rec.region][rec.outcome.substr(0, 80)];
    if (sp.n++ == 0) sp.first = rec.sent;
    sp.last = rec.sent;
  }
  for (const auto& [region, outcomes] : unacked) {
    ctx.out << "  not acknowledged in " << region << ":";
    for (const auto& [outcome, sp] : outcomes) {
      ctx.out << " " << sp.n << "x \"" << outcome << "\" (sent " << at(sp.first)
              << (sp.n > 1 ? " to " + at(sp.last) : "") << ");";
    }
    ctx.out << "\n";
  }
  {
    const auto csv = ctx.run_dir->path() / "publishes.csv";
    std::ofstream f(csv);
    f << "id,region,sent_ms,answered_ms,acked,ack_seq,outcome\n";
    for (const auto& rec : records) {
      std::string outcome = rec.outcome;
      for (char& c : outcome) {
        if (c == ',' || c == '\n') c = ' ';
      }
      f << rec.id << "," << rec.region << "," << Ms(rec.sent - t0) << "," << Ms(rec.answered - t0)
        << "," << (rec.acked ? 1 : 0) << "," << rec.ack_seq << "," << outcome << "\n";
    }
    ctx.out << "  every publish attempt: " << csv.string()
            << (ctx.options.once && !ctx.options.keep ? " (removed at the end; --keep keeps it)"
                                                      : "")
            << "\n";
  }
  ctx.out << "  time to converge:";
  for (const auto& [what, ms] : ctx.convergence) {
    ctx.out << (what == ctx.convergence.front().first ? " " : "; ") << what << " "
            << Seconds(ms);
  }
  ctx.out << "\n";
  std::string problems;
  for (const auto& row : rows) {
    if (!row.tally.Holds()) problems += "\n    " + ReadStream(row.region) + ": " + row.tally.Problems();
  }
  if (!problems.empty()) {
    ctx.invariants_failed = true;
    throw std::runtime_error("invariants violated (acknowledged messages missing or duplicated):" +
                             problems);
  }
  ctx.out << "  invariants hold: every acknowledged message is in every region's read stream "
             "exactly once, and nothing else\n";
}

void PrintWhereToConnect(DemoContext& ctx) {
  auto& cluster = *ctx.cluster;
  for (const auto& s : ctx.sidecars) {
    ctx.out << "  " << s->spec().name << ": " << s->ClientUrl() << "   e.g. meridian --server "
            << s->ClientUrl() << " stream info foo\n";
  }
  for (const auto& name : cluster.clusters()) {
    ctx.out << "  " << name << ":\n"
            << "    clients:    " << cluster.ClientUrls(name) << "\n"
            << "    monitoring:";
    for (const auto* s : cluster.ServersIn(name)) ctx.out << " " << s->MonitorUrl();
    ctx.out << "\n";
  }
  if (auto app = cluster.app_user()) {
    auto sys = cluster.system_user();
    ctx.out << "  credentials: account APP (JetStream) user " << app->user << " password "
            << app->password << "; system account $SYS user " << sys->user << " password "
            << sys->password << "\n";
    // A cross-region round trip with the bundled nats.js client (the nats CLI may be absent).
    const auto names = cluster.clusters();
    ctx.out << "  try (from " << harness::JsDir().string() << "):\n"
            << "    node pubsub.mjs --sub-url " << cluster.ClientUrls(names.front())
            << " --pub-url " << cluster.ClientUrls(names.back()) << " --user " << app->user
            << " --password " << app->password << "\n";
  }
  ctx.out << "  configs: " << (ctx.run_dir->path() / "conf").string() << "\n"
          << "  logs:    " << (ctx.run_dir->path() / "logs").string() << "\n";
}

}  // namespace

std::vector<DemoStep> DemoSteps(const DemoOptions& options) {
  std::vector<DemoStep> steps = {
      {"Start a super-cluster of stock nats-servers (JetStream, accounts $SYS and APP), every "
       "gateway through the fault proxy, latency between regions",
       StartSuperCluster},
      {"Check health: /healthz on every server, one JetStream meta leader", CheckHealth},
      {"Start a meridian-sidecar per region (virtual stream foo, subjects foo.>)", StartSidecars},
      {"Apply the topology with the meridian CLI", ApplyTopology},
      {"Publish in west through its sidecar, read the virtual stream foo in east", PublishAndRead},
      {"Stream info foo through each region's sidecar", StreamInfoEverywhere},
  };
  if (options.scenario && options.regions.size() >= 3) {
    const std::string& killed = options.regions[options.regions.size() / 2];
    const std::string& cut = options.regions.back();
    std::vector<DemoStep> scenario = {
        {"Publish continuously: a publisher per region, through its sidecar", StartPublishers},
        {"Kill " + killed + " (SIGKILL every server); publishing goes on", KillCentral},
        {"Restart " + killed + "; show convergence", RestartCentral},
        {"Split the brain: cut " + cut + " off with the fault proxy; write on both sides",
         SplitBrain},
        {"Heal the split; show convergence", HealSplit},
        {"Stop publishing; check every read stream against what was acknowledged", Summary},
    };
    steps.insert(steps.end(), scenario.begin(), scenario.end());
  }
  steps.push_back({"Where to connect", PrintWhereToConnect});
  return steps;
}

void TearDown(DemoContext& ctx) {
  for (auto& [r, p] : ctx.publishers) p->Stop();
  ctx.api.clear();
  if (!ctx.cluster) return;
  if (ctx.faulty) ctx.faulty->proxy().HealAll();
  if (!ctx.sidecars.empty()) ctx.out << "Stopping the sidecars...\n";
  for (auto& s : ctx.sidecars) s->Stop();
  ctx.out << "Stopping every server (SIGINT, SIGKILL after 10 s)...\n";
  ctx.cluster->StopAll();
  bool clean = true;
  for (const auto& s : ctx.cluster->servers()) {
    auto status = ctx.cluster->process(s.name).exit_status();
    std::string how = status ? status->Describe() : "not started";
    if (!status || !status->exited) clean = false;
    ctx.out << "  " << std::left << std::setw(12) << s.name << " stopped: " << how << "\n";
  }
  ctx.out << (clean ? "All servers stopped cleanly.\n"
                    : "Some servers did not stop cleanly; their logs are kept.\n");
  if (!clean || ctx.options.keep) ctx.run_dir->Keep();
  if (ctx.run_dir->kept())
    ctx.out << "Run directory kept: " << ctx.run_dir->path().string() << "\n";
}

}  // namespace meridian::demo

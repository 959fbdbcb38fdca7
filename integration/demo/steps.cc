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

namespace meridian::demo {
namespace {

using Clock = std::chrono::steady_clock;

void StartSuperCluster(DemoContext& ctx) {
  ctx.run_dir = std::make_unique<harness::RunDir>("demo");
  harness::SuperClusterOptions opts;
  opts.regions = ctx.options.regions;
  opts.servers_per_region = ctx.options.servers_per_region;
  opts.unique_tag = "az:";
  opts.stretch_cluster = ctx.options.stretch_cluster;
  opts.cancel = ctx.stop_requested;
  ctx.cluster = std::make_unique<harness::NatsSuperCluster>(ctx.run_dir->path(), opts);
  const auto start = Clock::now();
  ctx.cluster->Start();
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
  ctx.out << "  " << ctx.cluster->servers().size() << " servers in "
          << ctx.cluster->clusters().size() << " clusters, ready in " << ms << " ms\n";
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

std::vector<DemoStep> DemoSteps() {
  return {
      {"Start a super-cluster of stock nats-servers (JetStream, accounts $SYS and APP)",
       StartSuperCluster},
      {"Check health: /healthz on every server, one JetStream meta leader", CheckHealth},
      {"Start a meridian-sidecar per region (virtual stream foo, subjects foo.>)", StartSidecars},
      {"Apply the topology with the meridian CLI", ApplyTopology},
      {"Publish in west through its sidecar, read the virtual stream foo in east", PublishAndRead},
      {"Stream info foo through each region's sidecar", StreamInfoEverywhere},
      {"Where to connect", PrintWhereToConnect},
  };
}

void TearDown(DemoContext& ctx) {
  if (!ctx.cluster) return;
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

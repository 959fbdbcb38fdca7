// server report jetstream, server raft step-down, server raft peer-remove.
#include <chrono>
#include <nlohmann/json.hpp>
#include <ostream>
#include <thread>

#include "cli/cli.h"
#include "cli/jsapi_request.h"
#include "cli/reports.h"

namespace meridian::cli {

using nlohmann::json;

namespace {

const char kNoLeader[] = "no JetStream meta leader found: is a majority of servers up?";

int ReportJetStream(Invocation& inv) {
  auto nc = inv.Connect();
  JetStreamReport r = BuildJetStreamReport(PingJsz(*nc));
  if (inv.json()) {
    inv.out << r.json.dump(2) << "\n";
  } else {
    inv.out << r.servers.Render() << "\n";
    if (!r.meta_leader.empty()) inv.out << r.meta.Render();
  }
  if (r.clustered && r.meta_leader.empty()) throw CliError(kNoLeader);
  return 0;
}

std::string CurrentLeader(natsclient::SyncClient& nc) {
  JetStreamReport r = BuildJetStreamReport(PingJsz(nc));
  if (!r.clustered) {
    throw CliError("JetStream runs without clustering here: there is no meta group to act on");
  }
  return r.meta_leader;
}

int StepDown(Invocation& inv) {
  auto nc = inv.Connect();
  std::string before = CurrentLeader(*nc);
  if (before.empty()) throw CliError(kNoLeader);
  JsApiRequest(*nc, "$JS.API.META.LEADER.STEPDOWN", "", std::chrono::seconds(10));
  std::string after;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    after = CurrentLeader(*nc);
    if (!after.empty() && after != before) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  if (after.empty() || after == before) {
    throw CliError("the meta leader " + before +
                   " stepped down but no new leader was elected within 20 s: is a majority of "
                   "servers up?");
  }
  if (inv.json()) {
    inv.out << json{{"previous_leader", before}, {"leader", after}}.dump() << "\n";
  } else {
    inv.out << "New meta leader elected: " << after << " (was " << before << ")\n";
  }
  return 0;
}

int PeerRemove(Invocation& inv) {
  const std::string& server = inv.Operand(0, "the name of the server to remove");
  auto nc = inv.Connect();
  json reply;
  try {
    reply = JsApiRequest(*nc, "$JS.API.SERVER.REMOVE", json{{"peer", server}}.dump(),
                         std::chrono::seconds(10));
  } catch (const CliError& e) {
    std::string m = e.what();
    if (m.rfind("no reply", 0) == 0) {
      throw CliError("no reply to $JS.API.SERVER.REMOVE: " + std::string(kNoLeader) +
                     " (peer-remove also needs a user of the system account)");
    }
    throw;
  }
  if (!reply.value("success", false)) throw CliError("removing " + server + " did not succeed");
  if (inv.json()) {
    inv.out << json{{"removed", server}, {"success", true}}.dump() << "\n";
  } else {
    inv.out << "Removed " << server << " from the JetStream meta group\n";
  }
  return 0;
}

}  // namespace

void RegisterServerCommands(CommandRegistry& r) {
  const char* kJson = "      --json             print JSON for scripts\n";
  r.Add({{"server", "report", "jetstream"},
         "server report jetstream [--json]",
         "JetStream use per server and the meta group",
         "    Asks every server ($SYS.REQ.SERVER.PING.JSZ) and prints one row per server:\n"
         "    cluster, domain, streams, consumers, messages, bytes, memory and file use, API\n"
         "    requests and errors; the meta leader is marked *. Then the RAFT meta group as\n"
         "    its leader sees it: every peer, whether current and online, when last seen, lag.\n"
         "    Needs a user of the system account. Fails when no server names a meta leader.\n",
         kJson,
         ReportJetStream});
  r.Add({{"server", "raft", "step-down"},
         "server raft step-down [--json]",
         "make the JetStream meta leader step down",
         "    Sends $JS.API.META.LEADER.STEPDOWN and waits (up to 20 s) until the servers name a\n"
         "    different meta leader, then prints it. Needs a user of the system account.\n",
         kJson,
         StepDown});
  r.Add({{"server", "raft", "peer-remove"},
         "server raft peer-remove <server> [--json]",
         "remove a (dead) server from the JetStream meta group",
         "    Sends $JS.API.SERVER.REMOVE for server <server>: the meta group forgets it and its\n"
         "    stream replicas are replaced. For servers that will not come back. Needs a user of\n"
         "    the system account and a meta leader.\n",
         kJson,
         PeerRemove});
}

}  // namespace meridian::cli

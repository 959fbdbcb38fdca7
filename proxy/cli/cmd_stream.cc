// stream ls / info / view / report / edit / cluster peer-remove.
#include <chrono>
#include <nlohmann/json.hpp>
#include <ostream>

#include "cli/cli.h"
#include "cli/jsapi_request.h"
#include "cli/reports.h"
#include "jsapi/json.h"
#include "proto/headers.h"

namespace meridian::cli {

using nlohmann::json;

namespace {

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void CheckStreamName(const std::string& name) {
  if (name.empty() || name.find_first_of(" \t.*>") != std::string::npos) {
    throw UsageError("\"" + name + "\" is not a stream name: names hold no spaces, dots, * or >");
  }
}

// Every stream's info, through STREAM.LIST pages.
std::vector<json> ListStreams(natsclient::SyncClient& nc) {
  std::vector<json> out;
  uint64_t offset = 0;
  while (true) {
    json reply = JsApiRequest(nc, "$JS.API.STREAM.LIST", json{{"offset", offset}}.dump());
    auto it = reply.find("streams");
    if (it == reply.end() || !it->is_array() || it->empty()) break;
    for (auto& s : *it) out.push_back(s);
    offset = out.size();
    if (offset >= reply.value("total", uint64_t{0})) break;
  }
  std::sort(out.begin(), out.end(), [](const json& a, const json& b) {
    return a["config"].value("name", "") < b["config"].value("name", "");
  });
  return out;
}

json StreamInfo(natsclient::SyncClient& nc, const std::string& name) {
  try {
    return JsApiRequest(nc, "$JS.API.STREAM.INFO." + name, "");
  } catch (const CliError& e) {
    std::string m = e.what();
    if (m.find("10059") != std::string::npos) {
      throw CliError("there is no stream \"" + name + "\": see `meridian stream ls`");
    }
    throw;
  }
}

int Ls(Invocation& inv) {
  auto nc = inv.Connect();
  auto streams = ListStreams(*nc);
  if (inv.json()) {
    json names = json::array();
    for (const auto& s : streams) names.push_back(s["config"].value("name", ""));
    inv.out << names.dump(2) << "\n";
    return 0;
  }
  if (streams.empty()) {
    inv.out << "No streams defined\n";
    return 0;
  }
  inv.out << StreamListTable(streams).Render();
  return 0;
}

int Info(Invocation& inv) {
  const std::string& name = inv.Operand(0, "the stream name");
  CheckStreamName(name);
  auto nc = inv.Connect();
  json info = StreamInfo(*nc, name);
  if (inv.json()) {
    info.erase("type");
    inv.out << info.dump(2) << "\n";
  } else {
    inv.out << StreamInfoText(info);
  }
  return 0;
}

int View(Invocation& inv) {
  const std::string& name = inv.Operand(0, "the stream name");
  CheckStreamName(name);
  uint64_t count = inv.args.Get("count") ? ParseCount(*inv.args.Get("count"), "count") : 0;
  bool raw = inv.args.Has("raw");
  auto nc = inv.Connect();
  json info = StreamInfo(*nc, name);
  const json& st = info["state"];
  uint64_t first = st.value("first_seq", uint64_t{0});
  uint64_t last = st.value("last_seq", uint64_t{0});
  json all = json::array();
  uint64_t shown = 0;
  for (uint64_t seq = std::max<uint64_t>(first, 1); seq <= last && (count == 0 || shown < count);
       ++seq) {
    json reply;
    try {
      reply = JsApiRequest(*nc, "$JS.API.STREAM.MSG.GET." + name, json{{"seq", seq}}.dump());
    } catch (const CliError& e) {
      if (std::string(e.what()).find("10037") != std::string::npos) continue;  // deleted
      throw;
    }
    const json& m = reply["message"];
    std::string data = jsapi::Base64Decode(m.value("data", "")).value_or("");
    std::string hdrs = jsapi::Base64Decode(m.value("hdrs", "")).value_or("");
    ++shown;
    json hj = json::object();
    proto::HeaderView hv;
    bool have_headers =
        !hdrs.empty() && proto::HeaderView::Parse(hdrs, &hv) == proto::HeaderError::kNone;
    if (have_headers) {
      for (auto f : hv) hj[std::string(f.name)].push_back(std::string(f.value));
    }
    if (inv.json()) {
      all.push_back({{"subject", m.value("subject", "")},
                     {"seq", m.value("seq", uint64_t{0})},
                     {"time", m.value("time", "")},
                     {"headers", hj},
                     {"data", data}});
      continue;
    }
    if (raw) {
      inv.out << data << "\n";
      continue;
    }
    inv.out << "[" << m.value("seq", uint64_t{0}) << "] Subject: " << m.value("subject", "")
            << " Received: " << m.value("time", "") << "\n";
    if (have_headers) {
      for (auto f : hv) inv.out << "  " << f.name << ": " << f.value << "\n";
    }
    inv.out << "\n" << data << "\n\n";
  }
  if (inv.json()) {
    inv.out << all.dump(2) << "\n";
  } else if (!raw) {
    inv.out << (shown == 0 ? "No messages in stream " + name : "Reached the end of the data")
            << "\n";
  }
  return 0;
}

int Report(Invocation& inv) {
  auto nc = inv.Connect();
  auto streams = ListStreams(*nc);
  int64_t now = NowNs();
  if (inv.json()) {
    inv.out << StreamReportJson(streams, now).dump(2) << "\n";
    return 0;
  }
  if (streams.empty()) {
    inv.out << "No streams defined\n";
    return 0;
  }
  inv.out << StreamReportTable(streams, now).Render();
  return 0;
}

int Edit(Invocation& inv) {
  const std::string& name = inv.Operand(0, "the stream name");
  CheckStreamName(name);
  bool any = inv.args.Has("tag") || inv.args.Has("replicas") || inv.args.Has("cluster") ||
             inv.args.Has("description");
  if (!any) {
    throw UsageError("say what to change: --tag, --replicas, --cluster or --description");
  }
  auto nc = inv.Connect();
  json info = StreamInfo(*nc, name);
  json cfg = info["config"];
  if (auto r = inv.args.Get("replicas")) {
    uint64_t n = ParseCount(*r, "replicas");
    if (n < 1 || n > 5) throw UsageError("--replicas must be between 1 and 5");
    cfg["num_replicas"] = n;
  }
  if (inv.args.Has("tag") || inv.args.Has("cluster")) {
    json pl = cfg.contains("placement") && cfg["placement"].is_object() ? cfg["placement"]
                                                                        : json::object();
    if (inv.args.Has("tag")) {
      json tags = json::array();
      for (const auto& t : inv.args.GetAll("tag")) {
        if (!t.empty()) tags.push_back(t);
      }
      pl["tags"] = tags;
    }
    if (auto c = inv.args.Get("cluster")) pl["cluster"] = *c;
    cfg["placement"] = pl;
  }
  if (auto d = inv.args.Get("description")) cfg["description"] = *d;
  json updated =
      JsApiRequest(*nc, "$JS.API.STREAM.UPDATE." + name, cfg.dump(), std::chrono::seconds(10));
  if (inv.json()) {
    updated.erase("type");
    inv.out << updated.dump(2) << "\n";
  } else {
    inv.out << "Stream " << name << " was updated\n\n" << StreamInfoText(updated);
  }
  return 0;
}

int PeerRemove(Invocation& inv) {
  const std::string& name = inv.Operand(0, "the stream name");
  const std::string& server = inv.Operand(1, "the server to remove");
  CheckStreamName(name);
  auto nc = inv.Connect();
  StreamInfo(*nc, name);  // a clear error for an unknown stream
  json reply = JsApiRequest(*nc, "$JS.API.STREAM.PEER.REMOVE." + name,
                            json{{"peer", server}}.dump(), std::chrono::seconds(10));
  if (!reply.value("success", false)) {
    throw CliError("removing " + server + " from stream " + name + " did not succeed");
  }
  if (inv.json()) {
    inv.out << json{{"stream", name}, {"removed", server}, {"success", true}}.dump() << "\n";
  } else {
    inv.out << "Removed peer " << server << " from stream " << name
            << "; JetStream places a new replica where placement allows\n";
  }
  return 0;
}

}  // namespace

void RegisterStreamCommands(CommandRegistry& r) {
  const char* kJson = "      --json             print JSON for scripts\n";
  r.Add({{"stream", "ls"},
         "stream ls [--json]",
         "list the streams",
         "    Lists the streams of the user's account (STREAM.LIST), with size and the age of\n"
         "    the last message. --json prints the names only.\n",
         kJson,
         Ls});
  r.Add({{"stream", "info"},
         "stream info <name> [--json]",
         "show a stream's configuration and state",
         "    Shows the configuration, cluster (leader and replicas, how current each is)\n"
         "    and state of stream <name> (STREAM.INFO, answered by the stream leader).\n",
         kJson,
         Info});
  r.Add({{"stream", "view"},
         "stream view <name> [--count N] [--raw|--json]",
         "print the messages stored in a stream",
         "    Reads the stream's messages by sequence (STREAM.MSG.GET), printing sequence,\n"
         "    subject, time, headers and body of each. Creates no consumer.\n",
         std::string("      --count N          stop after N messages\n"
                     "      --raw              print only the bodies\n") +
             kJson,
         View});
  r.Add({{"stream", "report"},
         "stream report [--json]",
         "a table of every stream",
         "    One row per stream: storage, placement cluster, consumers, messages, bytes,\n"
         "    deleted messages, last message age, and replicas (leader marked *, offline\n"
         "    replicas !, replicas behind ~).\n",
         kJson,
         Report});
  r.Add({{"stream", "edit"},
         "stream edit <name> [--replicas N] [--tag T]... [--cluster C] [--description D]",
         "change a stream's replicas or placement",
         "    Reads the stream's configuration, changes what the flags say and sends it back\n"
         "    (STREAM.UPDATE). Changing tags or the cluster moves the stream; changing\n"
         "    replicas scales it. --tag replaces the whole tag list (--tag '' clears it).\n",
         std::string("      --replicas N       number of replicas (1..5)\n"
                     "      --tag T            placement tag (repeatable)\n"
                     "      --cluster C        placement cluster\n"
                     "      --description D    description\n") +
             kJson,
         Edit});
  r.Add({{"stream", "cluster", "peer-remove"},
         "stream cluster peer-remove <stream> <server>",
         "remove a replica from a stream",
         "    Removes server <server> from the replicas of <stream>\n"
         "    (STREAM.PEER.REMOVE); the meta leader picks a replacement when the placement\n"
         "    allows one.\n",
         kJson,
         PeerRemove});
}

}  // namespace meridian::cli

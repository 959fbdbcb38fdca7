#include "cli/reports.h"

#include <algorithm>
#include <sstream>

#include "jsapi/types.h"

namespace meridian::cli {

using nlohmann::json;

namespace {
uint64_t U(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return 0;
  return it->get<uint64_t>();
}
std::string S(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return {};
  return it->get<std::string>();
}
const json& Obj(const json& j, const char* key) {
  static const json kEmpty = json::object();
  auto it = j.find(key);
  if (it == j.end() || !it->is_object()) return kEmpty;
  return *it;
}
}  // namespace

std::string AgeSince(const std::string& rfc3339, int64_t now_unix_ns) {
  auto t = jsapi::Timestamp::Parse(rfc3339);
  if (!t || t->IsGoZero() || t->unix_seconds <= 0) return {};
  int64_t ns = t->unix_seconds * 1000000000LL + t->nanos;
  int64_t age = now_unix_ns - ns;
  if (age < 0) age = 0;
  return HumanDuration(age - age % 1000000);
}

std::string ReplicaList(const json& info) {
  const json& cl = Obj(info, "cluster");
  std::vector<std::string> names;
  std::string leader = S(cl, "leader");
  if (!leader.empty()) names.push_back(leader + "*");
  if (auto it = cl.find("replicas"); it != cl.end() && it->is_array()) {
    for (const auto& r : *it) {
      std::string n = S(r, "name");
      if (r.value("offline", false)) {
        n += "!";
      } else if (!r.value("current", false)) {
        n += "~";
      }
      names.push_back(n);
    }
  }
  std::sort(names.begin(), names.end());
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

Table StreamReportTable(const std::vector<json>& infos, int64_t now_unix_ns) {
  Table t("Stream Report");
  t.SetHeader({"Stream", "Storage", "Placement", "Consumers", "Messages", "Bytes", "Lost",
               "Deleted", "Last Message", "Replicas"});
  for (const auto& i : infos) {
    const json& cfg = Obj(i, "config");
    const json& st = Obj(i, "state");
    std::string placement = S(Obj(cfg, "placement"), "cluster");
    if (placement.empty()) placement = S(Obj(i, "cluster"), "name");
    std::string storage = S(cfg, "storage") == "memory" ? "Memory" : "File";
    t.AddRow({S(cfg, "name"), storage, placement, WithCommas(U(st, "consumer_count")),
              WithCommas(U(st, "messages")), HumanBytes(U(st, "bytes")),
              std::to_string(Obj(st, "lost").contains("msgs") ? Obj(st, "lost")["msgs"].size() : 0),
              WithCommas(U(st, "num_deleted")), AgeSince(S(st, "last_ts"), now_unix_ns),
              ReplicaList(i)});
  }
  return t;
}

json StreamReportJson(const std::vector<json>& infos, int64_t now_unix_ns) {
  json out = json::array();
  for (const auto& i : infos) {
    const json& cfg = Obj(i, "config");
    const json& st = Obj(i, "state");
    const json& cl = Obj(i, "cluster");
    json replicas = json::array();
    if (auto it = cl.find("replicas"); it != cl.end() && it->is_array()) {
      for (const auto& r : *it) {
        replicas.push_back({{"name", S(r, "name")},
                            {"current", r.value("current", false)},
                            {"offline", r.value("offline", false)},
                            {"lag", U(r, "lag")}});
      }
    }
    out.push_back({{"stream", S(cfg, "name")},
                   {"storage", S(cfg, "storage")},
                   {"placement", S(Obj(cfg, "placement"), "cluster")},
                   {"cluster", S(cl, "name")},
                   {"consumers", U(st, "consumer_count")},
                   {"messages", U(st, "messages")},
                   {"bytes", U(st, "bytes")},
                   {"deleted", U(st, "num_deleted")},
                   {"last_ts", S(st, "last_ts")},
                   {"last_message_age", AgeSince(S(st, "last_ts"), now_unix_ns)},
                   {"num_replicas", U(cfg, "num_replicas")},
                   {"leader", S(cl, "leader")},
                   {"replicas", replicas}});
  }
  return out;
}

JetStreamReport BuildJetStreamReport(std::vector<json> jsz) {
  JetStreamReport r;
  std::sort(jsz.begin(), jsz.end(), [](const json& a, const json& b) {
    return S(Obj(a, "server"), "name") < S(Obj(b, "server"), "name");
  });
  // The meta leader as the servers see it: the leader's own reply carries the full peer list.
  const json* leader_reply = nullptr;
  for (const auto& j : jsz) {
    const json& srv = Obj(j, "server");
    const json& meta = Obj(Obj(j, "data"), "meta_cluster");
    std::string leader = S(meta, "leader");
    if (Obj(j, "data").contains("meta_cluster")) r.clustered = true;
    if (!leader.empty() && leader == S(srv, "name")) leader_reply = &j;
    if (r.meta_leader.empty() && !leader.empty()) r.meta_leader = leader;
  }
  if (leader_reply) r.meta_leader = S(Obj(*leader_reply, "server"), "name");
  r.servers.SetHeader({"Server", "Cluster", "Domain", "Streams", "Consumers", "Messages", "Bytes",
                       "Memory", "File", "API Req", "API Err"});
  uint64_t tot[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  json servers = json::array();
  for (const auto& j : jsz) {
    const json& srv = Obj(j, "server");
    const json& d = Obj(j, "data");
    const json& api = Obj(d, "api");
    std::string name = S(srv, "name");
    std::string domain = S(srv, "domain");
    if (domain.empty()) domain = S(Obj(d, "config"), "domain");
    uint64_t v[8] = {U(d, "streams"), U(d, "consumers"), U(d, "messages"), U(d, "bytes"),
                     U(d, "memory"),  U(d, "storage"),   U(api, "total"),  U(api, "errors")};
    for (int k = 0; k < 8; ++k) tot[k] += v[k];
    r.servers.AddRow({name + (name == r.meta_leader ? "*" : ""), S(srv, "cluster"), domain,
                      WithCommas(v[0]), WithCommas(v[1]), WithCommas(v[2]), HumanBytes(v[3]),
                      HumanBytes(v[4]), HumanBytes(v[5]), WithCommas(v[6]), WithCommas(v[7])});
    servers.push_back({{"name", name},
                       {"cluster", S(srv, "cluster")},
                       {"domain", domain},
                       {"streams", v[0]},
                       {"consumers", v[1]},
                       {"messages", v[2]},
                       {"bytes", v[3]},
                       {"memory", v[4]},
                       {"file", v[5]},
                       {"api_requests", v[6]},
                       {"api_errors", v[7]},
                       {"meta_leader", name == r.meta_leader}});
  }
  r.servers.SetFooter({"", "", "", WithCommas(tot[0]), WithCommas(tot[1]), WithCommas(tot[2]),
                       HumanBytes(tot[3]), HumanBytes(tot[4]), HumanBytes(tot[5]),
                       WithCommas(tot[6]), WithCommas(tot[7])});
  r.meta.SetHeader({"Name", "ID", "Leader", "Current", "Online", "Active", "Lag"});
  json peers = json::array();
  if (leader_reply) {
    const json& meta = Obj(Obj(*leader_reply, "data"), "meta_cluster");
    struct Row {
      std::string name, id;
      bool leader, current, online;
      int64_t active;
      uint64_t lag;
    };
    std::vector<Row> rows;
    rows.push_back({r.meta_leader, S(meta, "peer"), true, true, true, 0, 0});
    if (auto it = meta.find("replicas"); it != meta.end() && it->is_array()) {
      for (const auto& p : *it) {
        rows.push_back({S(p, "name"), S(p, "peer"), false, p.value("current", false),
                        !p.value("offline", false), p.value("active", int64_t{0}), U(p, "lag")});
      }
    }
    std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.name < b.name; });
    for (const auto& x : rows) {
      r.meta.AddRow({x.name, x.id, x.leader ? "yes" : "", x.current ? "true" : "false",
                     x.online ? "true" : "false", HumanDuration(x.active - x.active % 1000000),
                     WithCommas(x.lag)});
      peers.push_back({{"name", x.name},
                       {"id", x.id},
                       {"leader", x.leader},
                       {"current", x.current},
                       {"online", x.online},
                       {"active_ns", x.active},
                       {"lag", x.lag}});
    }
  }
  r.json = {
      {"servers", servers},
      {"meta", {{"leader", r.meta_leader}, {"cluster_size", peers.size()}, {"peers", peers}}}};
  return r;
}

std::string StreamInfoText(const json& info) {
  const json& cfg = Obj(info, "config");
  const json& st = Obj(info, "state");
  const json& cl = Obj(info, "cluster");
  std::ostringstream o;
  auto kv = [&](const char* k, const std::string& v) {
    o << std::string(22 - std::min<size_t>(22, std::string(k).size()), ' ') << k << ": " << v
      << "\n";
  };
  auto limit = [](const json& c, const char* key, bool bytes) -> std::string {
    auto it = c.find(key);
    if (it == c.end() || !it->is_number() || it->get<int64_t>() <= 0) return "unlimited";
    return bytes ? HumanBytes(it->get<uint64_t>()) : WithCommas(it->get<uint64_t>());
  };
  o << "Information for Stream " << S(cfg, "name") << " created " << S(info, "created") << "\n\n";
  o << "Configuration:\n\n";
  std::string subjects;
  if (auto it = cfg.find("subjects"); it != cfg.end() && it->is_array()) {
    for (const auto& s : *it) subjects += (subjects.empty() ? "" : ", ") + s.get<std::string>();
  }
  if (!subjects.empty()) kv("Subjects", subjects);
  kv("Replicas", std::to_string(U(cfg, "num_replicas")));
  kv("Storage", S(cfg, "storage") == "memory" ? "Memory" : "File");
  const json& pl = Obj(cfg, "placement");
  if (!S(pl, "cluster").empty()) kv("Placement Cluster", S(pl, "cluster"));
  if (auto it = pl.find("tags"); it != pl.end() && it->is_array() && !it->empty()) {
    std::string tags;
    for (const auto& t : *it) tags += (tags.empty() ? "" : ", ") + t.get<std::string>();
    kv("Placement Tags", tags);
  }
  kv("Retention", S(cfg, "retention"));
  kv("Discard Policy", S(cfg, "discard"));
  kv("Maximum Messages", limit(cfg, "max_msgs", false));
  kv("Maximum Bytes", limit(cfg, "max_bytes", true));
  kv("Maximum Age",
     U(cfg, "max_age") ? HumanDuration(static_cast<int64_t>(U(cfg, "max_age"))) : "unlimited");
  if (info.contains("mirror")) kv("Mirror", S(Obj(info, "mirror"), "name"));
  if (auto it = info.find("sources"); it != info.end() && it->is_array()) {
    for (const auto& s : *it) kv("Source", S(s, "name"));
  }
  if (!cl.empty()) {
    o << "\nCluster Information:\n\n";
    kv("Name", S(cl, "name"));
    kv("Leader", S(cl, "leader").empty() ? "(none)" : S(cl, "leader"));
    if (auto it = cl.find("replicas"); it != cl.end() && it->is_array()) {
      for (const auto& r : *it) {
        std::string v = S(r, "name") + ", " +
                        (r.value("offline", false)   ? "OFFLINE"
                         : r.value("current", false) ? "current"
                                                     : "outdated") +
                        ", seen " + HumanDuration(r.value("active", int64_t{0})) + " ago";
        if (U(r, "lag")) v += ", " + WithCommas(U(r, "lag")) + " operations behind";
        kv("Replica", v);
      }
    }
  }
  o << "\nState:\n\n";
  kv("Messages", WithCommas(U(st, "messages")));
  kv("Bytes", HumanBytes(U(st, "bytes")));
  kv("First Sequence", WithCommas(U(st, "first_seq")));
  kv("Last Sequence", WithCommas(U(st, "last_seq")));
  if (U(st, "num_deleted")) kv("Deleted Messages", WithCommas(U(st, "num_deleted")));
  kv("Active Consumers", WithCommas(U(st, "consumer_count")));
  return o.str();
}

Table StreamListTable(const std::vector<json>& infos) {
  Table t("Streams");
  t.SetHeader({"Name", "Description", "Created", "Messages", "Size", "Last Message"});
  int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  for (const auto& i : infos) {
    const json& cfg = Obj(i, "config");
    const json& st = Obj(i, "state");
    std::string created = S(i, "created").substr(0, 19);
    std::replace(created.begin(), created.end(), 'T', ' ');
    t.AddRow({S(cfg, "name"), S(cfg, "description"), created, WithCommas(U(st, "messages")),
              HumanBytes(U(st, "bytes")), AgeSince(S(st, "last_ts"), now)});
  }
  return t;
}

}  // namespace meridian::cli

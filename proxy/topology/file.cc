#include "topology/file.h"

#include <set>
#include <utility>

#include "config/reader.h"
#include "subject/subject.h"

namespace meridian::topology {
namespace {

bool IsRegionToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

std::string Quoted(std::string_view s) {
  return "\"" + std::string(s) + "\"";
}

void ReadRegions(config::Table root, Topology& out) {
  config::Table regions = root.RequiredTable("regions");
  for (const std::string& name : regions.Keys()) {
    std::optional<config::Table> t = regions.GetTable(name);
    if (!t) {
      regions.Fail(name, "regions." + name + " must be a table: [regions." + name +
                             "] with servers = [...]");
      continue;
    }
    if (!IsRegionToken(name)) {
      regions.Fail(name, "region " + Quoted(name) +
                             " is not a valid subject token (it becomes one in stored subjects "
                             "and stream names): use letters, digits, '-' or '_'");
    }
    Region r;
    r.name = name;
    for (const config::NatsUrl& u : t->Required<std::vector<config::NatsUrl>>("servers")) {
      r.servers.push_back(u.scheme + "://" + u.address.ToString());
      if (r.user.empty() && !u.user.empty()) {
        r.user = u.user;
        r.password = u.password;
      }
    }
    if (t->Has("servers") && r.servers.empty()) {
      t->Fail("servers", "region " + Quoted(name) +
                             " lists no servers: give at least one, e.g. "
                             "servers = [\"nats://10.0.0.1:4222\"]");
    }
    r.user = t->Optional<std::string>("user", r.user);
    r.password = t->Optional<std::string>("password", r.password);
    r.token = t->Optional<std::string>("token", "");
    if (!r.token.empty() && !r.user.empty()) {
      t->Fail("token", "region " + Quoted(name) + " gives both a user and a token: use one");
    }
    r.tls_ca = t->Optional<std::string>("tls_ca", "");
    r.tls_cert = t->Optional<std::string>("tls_cert", "");
    r.tls_key = t->Optional<std::string>("tls_key", "");
    if (r.tls_cert.empty() != r.tls_key.empty()) {
      t->Fail(r.tls_cert.empty() ? "tls_key" : "tls_cert",
              "region " + Quoted(name) + " needs both tls_cert and tls_key, or neither");
    }
    r.cluster = t->Optional<std::string>("cluster", name);
    r.stretch_cluster = t->Optional<std::string>("stretch_cluster", "");
    if (!r.stretch_cluster.empty() && r.stretch_cluster == r.cluster) {
      t->Fail("stretch_cluster", "region " + Quoted(name) +
                                     " names its own cluster as the stretch cluster: the stretch "
                                     "cluster is the one with a node in every region");
    }
    out.regions.push_back(std::move(r));
  }
  if (regions.Keys().empty() && root.Has("regions")) {
    regions.Fail("", "no regions: add a [regions.<name>] table per region");
  }
}

// Returns false when something was wrong (already recorded).
bool ReadStream(const std::string& name, config::Table t, const Topology& topo,
                std::vector<std::pair<std::string, std::string>>& seen_roots, VirtualStream& vs) {
  bool ok = true;
  vs.name = name;
  if (!rewrite::IsValidStreamName(name)) {
    t.Fail("", "stream name " + Quoted(name) +
                   " is not a valid stream name (no '.', '*', '>', '/', '\\' or whitespace)");
    ok = false;
  }
  vs.subjects = t.Required<std::vector<std::string>>("subjects");
  if (t.Has("subjects") && vs.subjects.empty()) {
    t.Fail("subjects", "stream " + Quoted(name) + " lists no subjects: give its root, e.g. " +
                           Quoted(name + ".>"));
    ok = false;
  }
  for (const std::string& s : vs.subjects) {
    if (s.size() < 3 || !s.ends_with(".>") ||
        subject::HasWildcard(std::string_view(s).substr(0, s.size() - 2)) ||
        !subject::IsValidSubscribeSubject(s)) {
      t.Fail("subjects", "subject " + Quoted(s) + " of stream " + Quoted(name) +
                             " must be a literal prefix followed by \".>\", e.g. \"foo.>\"");
      ok = false;
      continue;
    }
    for (const auto& [root, stream] : seen_roots) {
      if (subject::SubjectsCollide(root, s)) {
        t.Fail("subjects", "subject " + Quoted(s) + " of stream " + Quoted(name) + " overlaps " +
                               Quoted(root) + " of stream " + Quoted(stream) +
                               ": a message must belong to one virtual stream only");
        ok = false;
      }
    }
    seen_roots.emplace_back(s, name);
  }
  const std::string mode = t.Optional<std::string>("mode", "eventual");
  if (auto m = ParseMode(mode)) {
    vs.mode = *m;
  } else {
    t.Fail("mode",
           "mode " + Quoted(mode) + " is not one of \"eventual\", \"ordered\" or \"immediate\"");
    ok = false;
  }
  if (t.Has("regions")) {
    vs.regions = t.Required<std::vector<std::string>>("regions");
    std::set<std::string> distinct;
    for (const std::string& r : vs.regions) {
      if (!distinct.insert(r).second) {
        t.Fail("regions", "stream " + Quoted(name) + " lists region " + Quoted(r) + " twice");
        ok = false;
      }
      if (topo.FindRegion(r) == nullptr) {
        t.Fail("regions", "stream " + Quoted(name) + " names region " + Quoted(r) +
                              ", which has no [regions." + r + "] table");
        ok = false;
      }
    }
    if (vs.regions.empty()) {
      t.Fail("regions", "stream " + Quoted(name) + " lists no regions");
      ok = false;
    }
  } else {
    for (const Region& r : topo.regions) vs.regions.push_back(r.name);
  }
  vs.replicas = t.Optional<int>("replicas", 3);
  if (vs.replicas < 1 || vs.replicas > 5) {
    t.Fail("replicas",
           "replicas must be 1 to 5 (JetStream's limit), not " + std::to_string(vs.replicas));
    ok = false;
  }
  const std::string storage = t.Optional<std::string>("storage", "file");
  if (storage == "file") {
    vs.storage = Storage::kFile;
  } else if (storage == "memory") {
    vs.storage = Storage::kMemory;
  } else {
    t.Fail("storage", "storage must be \"file\" or \"memory\", not " + Quoted(storage));
    ok = false;
  }
  vs.write_max_age = t.Optional<std::chrono::nanoseconds>("write_max_age", {});
  vs.read.max_age = t.Optional<std::chrono::nanoseconds>("read_max_age", {});
  if (auto b = t.Get<config::ByteSize>("read_max_bytes")) {
    vs.read.max_bytes = static_cast<std::int64_t>(b->bytes);
  }
  vs.read.max_msgs = t.Optional<std::int64_t>("read_max_msgs", -1);
  vs.read.max_msgs_per_subject = t.Optional<std::int64_t>("read_max_msgs_per_subject", -1);
  vs.keep_origin_token = t.Optional<bool>("keep_origin_token", true);
  if (!vs.keep_origin_token && vs.mode != Mode::kEventual) {
    t.Fail("keep_origin_token",
           "keep_origin_token = false applies to mode \"eventual\" only: ordered and immediate "
           "streams store subjects as published by the ordering or stretched stream");
    ok = false;
  }
  if (vs.mode != Mode::kEventual && ok) {
    std::string stretch;
    for (const std::string& rn : vs.regions) {
      const Region* r = topo.FindRegion(rn);
      if (r == nullptr || r->stretch_cluster.empty()) continue;
      if (!stretch.empty() && stretch != r->stretch_cluster) {
        t.Fail("mode", "stream " + Quoted(name) +
                           " spans regions naming different stretch "
                           "clusters (" +
                           Quoted(stretch) + " and " + Quoted(r->stretch_cluster) +
                           "): give every region the same stretch_cluster");
        ok = false;
      }
      stretch = r->stretch_cluster;
    }
    if (stretch.empty()) {
      t.Fail("mode", "mode " + Quoted(mode) + " of stream " + Quoted(name) +
                         " needs a stretch cluster: set stretch_cluster = \"<name>\" in the "
                         "[regions.*] tables of its regions");
      ok = false;
    }
  }
  return ok;
}

Topology Fill(config::Document& doc) {
  Topology out;
  out.file = doc.name();
  config::Table root = doc.Root();
  out.trim_interval = std::chrono::duration_cast<std::chrono::milliseconds>(
      root.Optional<std::chrono::nanoseconds>("trim_interval", std::chrono::seconds(30)));
  ReadRegions(root, out);

  std::vector<std::pair<std::string, std::string>> seen_roots;
  config::Table stream_tables = root.RequiredTable("streams");
  bool stream_problem = false;
  std::set<std::string> derived_names;
  for (const std::string& name : stream_tables.Keys()) {
    std::optional<config::Table> t = stream_tables.GetTable(name);
    if (!t) {
      stream_tables.Fail(name, "streams." + name + " must be a table: [streams." + name +
                                   "] with subjects = [...]");
      stream_problem = true;
      continue;
    }
    VirtualStream vs;
    if (!ReadStream(name, *t, out, seen_roots, vs)) stream_problem = true;
    out.streams.push_back(std::move(vs));
  }
  if (!stream_problem && !out.regions.empty()) {
    // Real stream names must not collide ("a-write-b" of one stream vs another named so).
    std::set<std::string> names;
    for (const VirtualStream& vs : out.streams) {
      std::vector<std::string> mine;
      if (vs.mode == Mode::kImmediate) mine.push_back(vs.StretchedStreamName());
      if (vs.mode == Mode::kOrdered) mine.push_back(vs.OrderStreamName());
      for (const std::string& r : vs.regions) {
        if (vs.mode != Mode::kImmediate) mine.push_back(vs.WriteStreamName(r));
        mine.push_back(vs.ReadStreamName(r));
      }
      for (const std::string& n : mine) {
        if (!names.insert(n).second) {
          stream_tables.Fail(vs.name, "stream " + Quoted(vs.name) + " needs a real stream " +
                                          Quoted(n) +
                                          " that another stream of this file also needs: "
                                          "rename one of them");
        }
      }
    }
    try {
      SidecarView(out);
    } catch (const rewrite::TopologyError& e) {
      stream_tables.Fail("", e.what());
    }
  }
  doc.Finish();
  return out;
}

}  // namespace

Topology LoadTopologyFile(const std::string& path) {
  config::Document doc = config::Document::FromFile(path);
  return Fill(doc);
}

Topology ParseTopologyFile(std::string_view text, const std::string& name) {
  config::Document doc = config::Document::FromString(text, name);
  return Fill(doc);
}

std::shared_ptr<const rewrite::Topology> SidecarView(const Topology& topology) {
  std::vector<rewrite::VirtualStream> streams;
  for (const VirtualStream& vs : topology.streams) {
    if (vs.mode != Mode::kEventual) continue;
    streams.push_back({vs.name, vs.subjects, vs.regions});
  }
  return std::make_shared<const rewrite::Topology>(std::move(streams));
}

}  // namespace meridian::topology

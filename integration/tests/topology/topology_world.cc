#include "topology_world.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "harness/binaries.h"
#include "harness/text.h"

namespace meridian::topology_it {

using nlohmann::json;

namespace {

std::string TomlList(const std::vector<std::string>& items) {
  std::string s = "[";
  for (size_t i = 0; i < items.size(); ++i) s += (i ? ", \"" : "\"") + items[i] + "\"";
  return s + "]";
}

}  // namespace

RunResult RunMeridian(const std::filesystem::path& dir, const std::vector<std::string>& args) {
  static std::atomic<int> n{0};
  const auto err_path = dir / ("meridian-" + std::to_string(++n) + ".err");
  std::string cmd =
      "MERIDIAN_CONTEXT_FILE=" + harness::ShellQuote((dir / "no-contexts.toml").string()) + " " +
      harness::ShellQuote(harness::OurBinary("meridian").string());
  for (const auto& a : args) cmd += " " + harness::ShellQuote(a);
  cmd += " </dev/null 2>" + harness::ShellQuote(err_path.string());
  RunResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t got;
  while ((got = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, got);
  int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.err = harness::ReadTextFile(err_path);
  return r;
}

std::string TopologyText(const harness::NatsSuperCluster& cluster,
                         const std::vector<std::string>& regions,
                         const std::vector<StreamDecl>& streams, const std::string& extra_regions,
                         const std::string& stretch) {
  std::string t = "trim_interval = \"0\"\n";
  for (const std::string& r : regions) {
    std::vector<std::string> urls;
    for (const auto* s : cluster.ServersIn(r)) urls.push_back(s->ClientUrl());
    t += "[regions." + r + "]\nservers = " + TomlList(urls) + "\n";
    if (auto u = cluster.app_user()) {
      t += "user = \"" + u->user + "\"\npassword = \"" + u->password + "\"\n";
    }
    if (!stretch.empty()) t += "stretch_cluster = \"" + stretch + "\"\n";
  }
  t += extra_regions;
  for (const StreamDecl& s : streams) {
    t += "[streams." + s.name + "]\nsubjects = [\"" + s.name + ".>\"]\n";
    if (!s.regions.empty()) t += "regions = " + TomlList(s.regions) + "\n";
    t += s.extra;
  }
  return t;
}

void WriteText(const std::filesystem::path& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
  if (!f) throw std::runtime_error("cannot write " + path.string());
}

Conn::Conn(const harness::NatsSuperCluster& cluster, const std::string& region) {
  natsOptions* o = nullptr;
  natsOptions_Create(&o);
  const std::string urls = cluster.ClientUrls(region);
  natsOptions_SetServers(o, nullptr, 0);
  std::vector<std::string> list;
  std::stringstream ss(urls);
  for (std::string u; std::getline(ss, u, ',');) list.push_back(u);
  std::vector<const char*> ptrs;
  for (const auto& u : list) ptrs.push_back(u.c_str());
  natsOptions_SetServers(o, ptrs.data(), static_cast<int>(ptrs.size()));
  if (auto u = cluster.app_user()) natsOptions_SetUserInfo(o, u->user.c_str(), u->password.c_str());
  natsOptions_SetMaxReconnect(o, -1);
  natsStatus s = natsConnection_Connect(&nc_, o);
  natsOptions_Destroy(o);
  if (s != NATS_OK) {
    throw std::runtime_error("cannot connect to region " + region + ": " + natsStatus_GetText(s));
  }
}

Conn::Conn(const std::string& url) {
  natsStatus s = natsConnection_ConnectTo(&nc_, url.c_str());
  if (s != NATS_OK) {
    throw std::runtime_error("cannot connect to " + url + ": " + natsStatus_GetText(s));
  }
}

Conn::~Conn() {
  if (nc_ != nullptr) natsConnection_Destroy(nc_);
}

json Conn::Api(const std::string& subject, const std::string& body, int64_t timeout_ms) {
  natsMsg* reply = nullptr;
  natsStatus s = natsConnection_Request(&reply, nc_, subject.c_str(), body.data(),
                                        static_cast<int>(body.size()), timeout_ms);
  if (s != NATS_OK) {
    return json{{"error", {{"description", natsStatus_GetText(s)}, {"err_code", -1}}}};
  }
  std::string text(natsMsg_GetData(reply), static_cast<size_t>(natsMsg_GetDataLength(reply)));
  natsMsg_Destroy(reply);
  json j = json::parse(text, nullptr, false);
  if (!j.is_object()) return json{{"error", {{"description", "not JSON: " + text}}}};
  return j;
}

bool Conn::PublishAcked(const std::string& subject, const std::string& payload,
                        int64_t timeout_ms) {
  json ack = Api(subject, payload, timeout_ms);
  return !ack.contains("error") && ack.contains("seq");
}

std::vector<std::string> StreamNames(Conn& c) {
  std::vector<std::string> out;
  json r = c.Api("$JS.API.STREAM.NAMES", "{}");
  if (r.contains("streams") && r["streams"].is_array()) {
    for (const auto& n : r["streams"]) out.push_back(n.get<std::string>());
  }
  std::sort(out.begin(), out.end());
  return out;
}

int64_t StreamState(Conn& c, const std::string& stream, const char* field) {
  // Right after a region heals, its streams may answer 10008 (leader being elected) or not
  // at all for a few seconds: ask again for a while, so a value is compared, not -1.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (true) {
    json r = c.Api("$JS.API.STREAM.INFO." + stream);
    if (!r.contains("error") && r.contains("state")) return r["state"].value(field, int64_t{-1});
    if (std::chrono::steady_clock::now() > deadline) {
      ADD_FAILURE() << "STREAM.INFO " << stream << " kept failing: " << r.dump();
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
}

bool WaitFor(const std::function<bool()>& cond, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (true) {
    if (cond()) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

}  // namespace meridian::topology_it

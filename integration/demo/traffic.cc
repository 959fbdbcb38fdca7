#include "demo/traffic.h"

#include <deque>
#include <set>
#include <stdexcept>

namespace meridian::demo {
namespace {

using nlohmann::json;

using NatsMsg = harness::Msg;
using NatsSub = harness::Sub;

void Check(natsStatus s, const std::string& what) {
  harness::CheckNats(s, what);
}

std::string DataOf(natsMsg* m) {
  return std::string(natsMsg_GetData(m), static_cast<size_t>(natsMsg_GetDataLength(m)));
}

std::string Base64Decode(const std::string& in) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
  };
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : in) {
    const int v = value(c);
    if (v < 0) continue;  // '=' padding, line breaks
    buffer = (buffer << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xff));
    }
  }
  return out;
}

// `stored` is `subject` ("foo.demo") as a stream of the virtual stream holds it: as is, or with
// the region token after the first one ("foo.west.demo": 2.9.10 cannot strip it on sourcing;
// the sidecar strips it on reads).
bool SameVirtualSubject(const std::string& stored, const std::string& subject) {
  if (stored == subject) return true;
  const size_t dot = subject.find('.');
  if (dot == std::string::npos) return false;
  const std::string head = subject.substr(0, dot + 1), tail = subject.substr(dot);
  if (stored.size() <= head.size() + tail.size() || stored.compare(0, head.size(), head) != 0 ||
      stored.compare(stored.size() - tail.size(), tail.size(), tail) != 0) {
    return false;
  }
  const std::string token = stored.substr(head.size(), stored.size() - head.size() - tail.size());
  return token.find('.') == std::string::npos;
}

}  // namespace

NatsConn ConnectNats(const std::vector<std::string>& urls, const std::string& name,
                     const std::string& user, const std::string& password, int64_t timeout_ms) {
  natsOptions* opts = nullptr;
  Check(natsOptions_Create(&opts), "natsOptions_Create");
  std::unique_ptr<natsOptions, void (*)(natsOptions*)> guard(opts, natsOptions_Destroy);
  std::vector<const char*> servers;
  for (const auto& u : urls) servers.push_back(u.c_str());
  Check(natsOptions_SetServers(opts, servers.data(), static_cast<int>(servers.size())),
        "natsOptions_SetServers");
  Check(natsOptions_SetName(opts, name.c_str()), "natsOptions_SetName");
  Check(natsOptions_SetTimeout(opts, timeout_ms), "natsOptions_SetTimeout");
  if (!user.empty()) {
    Check(natsOptions_SetUserInfo(opts, user.c_str(), password.c_str()), "SetUserInfo");
  }
  natsConnection* nc = nullptr;
  std::string where;
  for (const auto& u : urls) where += (where.empty() ? "" : ",") + u;
  Check(natsConnection_Connect(&nc, opts), "connect to " + where);
  return NatsConn(nc);
}

// ---- Publisher ----

Publisher::Publisher(std::string region, std::string sidecar_url, std::string subject,
                     std::chrono::milliseconds interval, harness::PublishLedger& ledger)
    : region_(std::move(region)),
      url_(std::move(sidecar_url)),
      subject_(std::move(subject)),
      interval_(interval),
      ledger_(ledger) {}

Publisher::~Publisher() {
  Stop();
}

void Publisher::Start() {
  stop_ = false;
  if (!thread_.joinable()) thread_ = std::thread([this] { Run(); });
}

void Publisher::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

std::string Publisher::LastOutcome() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_outcome_;
}

void Publisher::Run() {
  using Clock = std::chrono::steady_clock;
  NatsConn nc;
  while (!stop_) {
    if (!nc) {
      try {
        nc = ConnectNats({url_}, "demo-publisher-" + region_);
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(mu_);
        last_outcome_ = e.what();
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        continue;
      }
    }
    harness::PublishRecord r;
    r.id = region_ + "-" + std::to_string(++n_);
    r.region = region_;
    r.sent = Clock::now();
    natsMsg* reply = nullptr;
    natsStatus st =
        natsConnection_RequestString(&reply, nc.get(), subject_.c_str(), r.id.c_str(), 5000);
    NatsMsg guard(reply);
    r.answered = Clock::now();
    if (st != NATS_OK) {
      r.outcome = std::string("no reply: ") + natsStatus_GetText(st);
      if (natsConnection_IsClosed(nc.get())) nc.reset();
    } else {
      json ack = json::parse(DataOf(reply), nullptr, false);
      if (!ack.is_discarded() && ack.is_object() && !ack.contains("error") && ack.contains("seq")) {
        r.acked = true;
        r.ack_seq = ack["seq"].get<uint64_t>();
        r.outcome = "ack";
      } else {
        r.outcome = "refused: " + DataOf(reply);
      }
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      last_outcome_ = r.outcome;
    }
    ledger_.Add(std::move(r));
    std::this_thread::sleep_for(interval_);
  }
}

// ---- RegionApi ----

RegionApi::RegionApi(std::string region, std::vector<std::string> server_urls, std::string user,
                     std::string password)
    : region_(std::move(region)),
      urls_(std::move(server_urls)),
      user_(std::move(user)),
      password_(std::move(password)) {}

natsConnection* RegionApi::Conn() {
  if (nc_ && natsConnection_Status(nc_.get()) != NATS_CONN_STATUS_CONNECTED) nc_.reset();
  if (!nc_) nc_ = ConnectNats(urls_, "demo-api-" + region_, user_, password_, 2000);
  return nc_.get();
}

json RegionApi::Request(const std::string& subject, const std::string& body, int64_t timeout_ms) {
  natsConnection* nc = Conn();
  natsMsg* reply = nullptr;
  natsStatus st = natsConnection_Request(&reply, nc, subject.c_str(), body.data(),
                                         static_cast<int>(body.size()), timeout_ms);
  NatsMsg guard(reply);
  if (st != NATS_OK) {
    throw std::runtime_error(subject + " in " + region_ + ": " + natsStatus_GetText(st));
  }
  json j = json::parse(DataOf(reply), nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    throw std::runtime_error(subject + " in " + region_ + ": not JSON: " + DataOf(reply));
  }
  if (j.contains("error")) {
    throw std::runtime_error(subject + " in " + region_ + ": " + j["error"].dump());
  }
  return j;
}

std::optional<uint64_t> RegionApi::Messages(const std::string& stream) {
  try {
    return Request("$JS.API.STREAM.INFO." + stream, "", 2000)["state"]["messages"].get<uint64_t>();
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::optional<uint64_t> RegionApi::LastSeq(const std::string& stream) {
  try {
    return Request("$JS.API.STREAM.INFO." + stream, "", 2000)["state"]["last_seq"].get<uint64_t>();
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

StreamRead RegionApi::ReadStream(const std::string& stream, const std::string& subject) {
  StreamRead out;
  const json info = Request("$JS.API.STREAM.INFO." + stream);
  out.messages = info["state"].value("messages", uint64_t{0});
  const uint64_t first = info["state"].value("first_seq", uint64_t{0});
  const uint64_t last = info["state"].value("last_seq", uint64_t{0});
  if (info.contains("cluster")) out.leader = info["cluster"].value("leader", "");
  if (out.messages == 0 || last < first) return out;

  // Pipelined MSG.GET requests (a window of them in flight), replies on <inbox>.<seq>.
  natsConnection* nc = Conn();
  char* inbox_raw = nullptr;
  Check(natsInbox_Create(&inbox_raw), "natsInbox_Create");
  const std::string inbox(inbox_raw);
  natsInbox_Destroy(inbox_raw);
  natsSubscription* raw = nullptr;
  Check(natsConnection_SubscribeSync(&raw, nc, (inbox + ".*").c_str()), "subscribe");
  NatsSub sub(raw);
  natsSubscription_SetPendingLimits(raw, -1, -1);
  const std::string api = "$JS.API.STREAM.MSG.GET." + stream;
  std::set<uint64_t> pending;
  std::map<uint64_t, int> tries;
  std::deque<uint64_t> to_ask;
  for (uint64_t s = first; s <= last; ++s) to_ask.push_back(s);
  constexpr size_t kWindow = 128;
  while (!to_ask.empty() || !pending.empty()) {
    while (!to_ask.empty() && pending.size() < kWindow) {
      const uint64_t s = to_ask.front();
      to_ask.pop_front();
      if (++tries[s] > 5) {
        throw std::runtime_error("reading " + stream + " in " + region_ + ": seq " +
                                 std::to_string(s) + " unanswered 5 times");
      }
      const std::string body = json{{"seq", s}}.dump();
      Check(natsConnection_PublishRequestString(
                nc, api.c_str(), (inbox + "." + std::to_string(s)).c_str(), body.c_str()),
            "MSG.GET request");
      pending.insert(s);
    }
    natsMsg* m = nullptr;
    const natsStatus st = natsSubscription_NextMsg(&m, raw, 5000);
    if (st == NATS_TIMEOUT) {  // lost requests (e.g. a leader change): ask again
      for (uint64_t s : pending) to_ask.push_back(s);
      pending.clear();
      continue;
    }
    Check(st, "reading " + stream + " in " + region_);
    NatsMsg guard(m);
    const std::string reply_subject = natsMsg_GetSubject(m);
    const uint64_t s = std::stoull(reply_subject.substr(inbox.size() + 1));
    if (!pending.erase(s)) continue;  // a late duplicate answer
    const json j = json::parse(DataOf(m), nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      throw std::runtime_error("reading " + stream + ": not JSON: " + DataOf(m));
    }
    if (j.contains("error")) {
      // 10037: no message at this sequence (none are deleted here, but tolerate it).
      if (j["error"].value("err_code", 0) == 10037) continue;
      throw std::runtime_error("reading " + stream + " seq " + std::to_string(s) + ": " +
                               j["error"].dump());
    }
    const json& msg = j["message"];
    if (SameVirtualSubject(msg.value("subject", ""), subject)) {
      ++out.count_of_id[Base64Decode(msg.value("data", ""))];
    } else {
      ++out.other;
    }
  }
  return out;
}

}  // namespace meridian::demo

#include "topology/coordinator.h"

#include <algorithm>
#include <ctime>
#include <map>
#include <thread>

#include "natsclient/sync_client.h"

namespace meridian::topology {
namespace {

using nlohmann::json;

int ErrCode(const json& reply) {
  if (!reply.contains("error") || !reply["error"].is_object()) return 0;
  return reply["error"].value("err_code", 0);
}

std::string ErrText(const json& reply) {
  const json& e = reply["error"];
  return e.value("description", std::string("unknown error")) + " (error " +
         std::to_string(e.value("err_code", 0)) + ")";
}

constexpr int kStreamNotFound = 10059;
constexpr int kClusterNotAvailable = 10008;

bool TemporarilyUnavailable(const json& reply) {
  if (!reply.contains("error") || !reply["error"].is_object()) return false;
  return ErrCode(reply) == kClusterNotAvailable || reply["error"].value("code", 0) == 503;
}
constexpr int kStreamNameInUse = 10058;

}  // namespace

std::optional<std::int64_t> ParseRfc3339Nanos(const std::string& text) {
  std::tm tm{};
  int year = 0, mon = 0, day = 0, hour = 0, min = 0, sec = 0;
  int consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &year, &mon, &day, &hour, &min, &sec,
                  &consumed) != 6) {
    return std::nullopt;
  }
  tm.tm_year = year - 1900;
  tm.tm_mon = mon - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = min;
  tm.tm_sec = sec;
  std::int64_t nanos = 0;
  size_t i = static_cast<size_t>(consumed);
  if (i < text.size() && text[i] == '.') {
    ++i;
    std::int64_t scale = 100000000;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      nanos += (text[i] - '0') * scale;
      scale /= 10;
      ++i;
    }
  }
  std::int64_t offset = 0;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
    int oh = 0, om = 0;
    if (std::sscanf(text.c_str() + i + 1, "%2d:%2d", &oh, &om) != 2) return std::nullopt;
    offset = (text[i] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
  } else if (i >= text.size() || text[i] != 'Z') {
    return std::nullopt;
  }
  const std::int64_t secs = static_cast<std::int64_t>(timegm(&tm)) - offset;
  return secs * 1000000000LL + nanos;
}

size_t PlanResult::Count(Action a) const {
  return static_cast<size_t>(std::count_if(streams.begin(), streams.end(),
                                           [a](const StreamPlan& p) { return p.action == a; }));
}

bool PlanResult::HasChanges() const {
  return Count(Action::kCreate) + Count(Action::kUpdate) + Count(Action::kRecreate) +
             Count(Action::kDelete) >
         0;
}

bool ApplyResult::ok() const {
  return std::all_of(steps.begin(), steps.end(), [](const ApplyStep& s) { return s.ok; });
}

bool RegionStatus::Behind() const {
  return std::any_of(lags.begin(), lags.end(), [](const OriginLag& l) {
    return !l.error.empty() || (l.behind && *l.behind > 0);
  });
}

Coordinator::Coordinator(Topology topology) : Coordinator(std::move(topology), Options{}) {}

Coordinator::Coordinator(Topology topology, Options options)
    : topology_(std::move(topology)), options_(std::move(options)) {
  for (const Region& r : topology_.regions) {
    RegionState s;
    s.name = r.name;
    s.error = "not connected yet";
    states_.push_back(std::move(s));
    links_.emplace_back();
  }
}

Coordinator::~Coordinator() = default;

void Coordinator::Connect() {
  for (size_t i = 0; i < states_.size(); ++i) {
    if (links_[i]) continue;
    const Region& r = topology_.regions[i];
    natsclient::Options o;
    o.servers = r.servers;
    o.user = r.user;
    o.password = r.password;
    o.token = r.token;
    if (!r.tls_ca.empty() || !r.tls_cert.empty()) {
      net::TlsConfig t;
      t.ca_file = r.tls_ca;
      t.cert_file = r.tls_cert;
      t.key_file = r.tls_key;
      o.tls = t;
    }
    o.name = options_.client_name + "-" + r.name;
    o.connect_timeout = options_.connect_timeout;
    auto c = natsclient::SyncClient::Connect(o);
    if (!c.ok()) {
      states_[i].reachable = false;
      states_[i].error = c.message();
      continue;
    }
    links_[i] = std::move(c.value());
    states_[i].reachable = true;
    states_[i].error.clear();
    states_[i].kind = DetectServerKind(links_[i]->server_info());
    states_[i].server_name = links_[i]->server_name();
  }
}

natsclient::SyncClient* Coordinator::Link(const std::string& region) {
  for (size_t i = 0; i < states_.size(); ++i) {
    if (states_[i].name == region) return links_[i].get();
  }
  return nullptr;
}

std::string Coordinator::AnyReachable(const VirtualStream& vs) {
  for (const std::string& r : vs.regions) {
    if (Link(r) != nullptr) return r;
  }
  return "";
}

std::optional<json> Coordinator::Request(const std::string& region, const std::string& subject,
                                         const std::string& body, std::string* error, Ask ask) {
  natsclient::SyncClient* nc = Link(region);
  if (nc == nullptr) {
    *error = "region \"" + region + "\" is unreachable";
    return std::nullopt;
  }
  const auto give_up = std::chrono::steady_clock::now() + options_.unavailable_retry;
  auto pause = std::chrono::milliseconds(100);
  for (;;) {
    auto j = RequestOnce(nc, region, subject, body, error, ask != Ask::kRead);
    if (!j || ask == Ask::kChange || !TemporarilyUnavailable(*j) ||
        std::chrono::steady_clock::now() + pause > give_up) {
      return j;
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(1000));
  }
}

std::optional<json> Coordinator::RequestOnce(natsclient::SyncClient* nc, const std::string& region,
                                             const std::string& subject, const std::string& body,
                                             std::string* error, bool change) {
  auto reply =
      nc->Request(subject, body, change ? options_.change_timeout : options_.request_timeout);
  if (!reply.ok()) {
    *error = "region \"" + region + "\": " + subject + ": " + reply.message();
    if (!nc->Flush(std::chrono::milliseconds(1000)).ok()) {
      // The connection itself is gone: forget it, Connect() tries again.
      for (size_t i = 0; i < states_.size(); ++i) {
        if (links_[i].get() == nc) {
          links_[i].reset();
          states_[i].reachable = false;
          states_[i].error = reply.message();
        }
      }
    }
    return std::nullopt;
  }
  json j = json::parse(reply->payload, nullptr, false);
  if (!j.is_object()) {
    *error = "region \"" + region + "\": the reply to " + subject + " is not JSON";
    return std::nullopt;
  }
  return j;
}

std::optional<json> Coordinator::StreamInfo(const std::string& region, const std::string& stream,
                                            std::string* error, bool* missing) {
  *missing = false;
  auto r = Request(region, "$JS.API.STREAM.INFO." + stream, "", error);
  if (!r) return std::nullopt;
  if (ErrCode(*r) == kStreamNotFound) {
    *missing = true;
    return std::nullopt;
  }
  if (r->contains("error")) {
    *error = "stream info " + stream + " in region \"" + region + "\": " + ErrText(*r);
    return std::nullopt;
  }
  return r;
}

PlanResult Coordinator::Plan() {
  Connect();
  PlanResult plan;
  plan.regions = states_;
  std::map<std::string, ServerKind> kinds;
  for (const RegionState& s : states_) {
    if (s.reachable) kinds[s.name] = s.kind;
  }
  std::vector<DesiredStream> desired = DesiredState(topology_, kinds);
  std::vector<std::string> wanted;
  for (const DesiredStream& d : desired) {
    wanted.push_back(d.name);
    const VirtualStream& vs = *topology_.FindStream(d.virtual_stream);
    std::string region = d.region.empty() ? AnyReachable(vs) : d.region;
    if (region.empty() || Link(region) == nullptr) {
      StreamPlan p;
      p.desired = d;
      p.action = Action::kSkip;
      p.note = d.region.empty()
                   ? "no region of stream \"" + vs.name + "\" is reachable: nothing is changed"
                   : "region \"" + d.region + "\" is unreachable: nothing is changed there";
      plan.streams.push_back(std::move(p));
      continue;
    }
    std::string error;
    bool missing = false;
    auto info = StreamInfo(region, d.name, &error, &missing);
    if (!info && !missing) {
      StreamPlan p;
      p.desired = d;
      p.desired.region = region;
      p.action = Action::kSkip;
      p.note = "could not read it: " + error;
      plan.problems.push_back(d.name + ": " + error);
      plan.streams.push_back(std::move(p));
      continue;
    }
    StreamPlan p = DiffStream(d, missing ? json(nullptr) : (*info)["config"]);
    p.desired.region = region;
    plan.streams.push_back(std::move(p));
  }

  // Streams of this file's virtual streams that the file no longer wants.
  std::string any;
  for (const RegionState& s : states_) {
    if (Link(s.name) != nullptr) {
      any = s.name;
      break;
    }
  }
  if (!any.empty()) {
    std::vector<std::string> names;
    for (int offset = 0;;) {
      std::string error;
      auto r = Request(any, "$JS.API.STREAM.NAMES", json{{"offset", offset}}.dump(), &error);
      if (!r || r->contains("error")) {
        plan.problems.push_back("listing streams: " + (r ? ErrText(*r) : error));
        break;
      }
      if (!(*r)["streams"].is_array() || (*r)["streams"].empty()) break;
      for (const json& n : (*r)["streams"]) names.push_back(n.get<std::string>());
      offset += static_cast<int>((*r)["streams"].size());
      if (offset >= r->value("total", 0)) break;
    }
    std::sort(names.begin(), names.end());
    for (const std::string& name : names) {
      if (std::find(wanted.begin(), wanted.end(), name) != wanted.end()) continue;
      for (const VirtualStream& vs : topology_.streams) {
        std::string region;
        Role role = Role::kWrite;
        int phase = 0;
        if (name.starts_with(vs.name + "-write-")) {
          region = name.substr(vs.name.size() + 7);
        } else if (name.starts_with(vs.name + "-read-")) {
          region = name.substr(vs.name.size() + 6);
          role = Role::kRead;
          phase = 2;
        } else if (name == vs.OrderStreamName()) {
          role = Role::kOrder;
          phase = 1;
        } else {
          continue;
        }
        StreamPlan p;
        p.desired.virtual_stream = vs.name;
        p.desired.name = name;
        p.desired.role = role;
        p.desired.phase = phase;
        p.desired.region = Link(region) != nullptr ? region : any;
        p.action = Action::kDelete;
        p.note = "not in the topology file any more";
        plan.streams.push_back(std::move(p));
        break;
      }
    }
  }
  plan.regions = states_;
  return plan;
}

ApplyResult Coordinator::Apply(const PlanResult& plan, bool allow_delete) {
  ApplyResult result;
  for (const StreamPlan& p : plan.streams) {
    if (p.action == Action::kSkip) result.skipped.push_back(p.desired.name + ": " + p.note);
  }
  for (const StreamPlan* p : ApplyOrder(plan.streams)) {
    ApplyStep step;
    step.stream = p->desired.name;
    step.region = p->desired.region;
    step.action = p->action;
    const std::string& region = p->desired.region;
    std::string error;
    auto send = [&](const std::string& verb, const json& body) -> std::optional<json> {
      return Request(region, "$JS.API.STREAM." + verb + "." + p->desired.name,
                     body.is_null() ? std::string() : body.dump(), &error, Ask::kChange);
    };
    if ((p->action == Action::kDelete || p->action == Action::kRecreate) && !allow_delete) {
      result.skipped.push_back(p->desired.name + ": " + ActionName(p->action) +
                               " needs --allow-delete (" + p->note + ")");
      continue;
    }
    std::optional<json> reply;
    if (p->action == Action::kCreate) {
      reply = send("CREATE", p->send);
      if (reply && ErrCode(*reply) == kStreamNameInUse) {
        // Another apply created it first: converge on what is there now.
        bool missing = false;
        auto info = StreamInfo(region, p->desired.name, &error, &missing);
        if (info) {
          StreamPlan again = DiffStream(p->desired, (*info)["config"]);
          if (again.action == Action::kNone) {
            step.ok = true;
            step.message = "created meanwhile by another apply";
            result.steps.push_back(std::move(step));
            continue;
          }
          reply = send("UPDATE", again.send);
        } else {
          reply.reset();
        }
      }
    } else if (p->action == Action::kUpdate) {
      reply = send("UPDATE", p->send);
    } else if (p->action == Action::kRecreate) {
      reply = send("DELETE", json(nullptr));
      if (reply && !reply->contains("error")) reply = send("CREATE", p->send);
    } else if (p->action == Action::kDelete) {
      reply = send("DELETE", json(nullptr));
    }
    if (!reply && (p->action == Action::kCreate || p->action == Action::kUpdate)) {
      // No reply is not proof of failure: 2.9 answers only one of two concurrent creates of
      // the same stream, and a slow meta leader may answer after our timeout. Look again.
      for (int attempt = 0; attempt < 3 && !reply; ++attempt) {
        bool missing = false;
        std::string info_error;
        auto info = StreamInfo(region, p->desired.name, &info_error, &missing);
        if (info && DiffStream(p->desired, (*info)["config"]).action == Action::kNone) {
          reply = json{{"converged", true}};
        } else if (missing) {
          reply = send("CREATE", p->send);
        } else if (info) {
          reply = send("UPDATE", DiffStream(p->desired, (*info)["config"]).send);
        }
      }
    }
    if (!reply) {
      step.message = error;
    } else if (reply->contains("converged")) {
      step.ok = true;
      step.message = "in place (its reply was lost, or another apply made it)";
    } else if (reply->contains("error")) {
      step.message = ErrText(*reply);
    } else {
      step.ok = true;
      step.message = std::string(ActionName(p->action)) + "d";
    }
    result.steps.push_back(std::move(step));
  }
  return result;
}

SourcedProbe Coordinator::Sourced(const std::string& region, const std::string& reader,
                                  const VirtualStream& vs, const std::string& origin) {
  SourcedProbe best;
  best.kind = SourcedProbe::kNoMessage;
  const std::string origin_stream = vs.WriteStreamName(origin);
  for (const std::string& prefix : vs.Prefixes()) {
    std::string error;
    auto r = Request(region, "$JS.API.STREAM.MSG.GET." + reader,
                     json{{"last_by_subj", prefix + "." + origin + ".>"}}.dump(), &error);
    if (!r) {
      SourcedProbe p;
      p.error = error;
      return p;
    }
    SourcedProbe p = ProbeFromMsgGet(*r, origin_stream);
    if (p.kind == SourcedProbe::kError) return p;
    if (p.kind == SourcedProbe::kFound &&
        (best.kind != SourcedProbe::kFound || p.position.seq > best.position.seq)) {
      best = p;
    }
  }
  return best;
}

std::vector<StreamStatus> Coordinator::Status() {
  Connect();
  std::vector<StreamStatus> out;
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  for (const VirtualStream& vs : topology_.streams) {
    StreamStatus st;
    st.name = vs.name;
    st.mode = vs.mode;
    // Write streams first: their last sequence is what readers are measured against.
    struct WriteState {
      bool known = false;
      std::uint64_t first = 0, last = 0, msgs = 0;
      std::string error;
    };
    std::map<std::string, WriteState> writes;
    if (vs.mode != Mode::kImmediate) {
      for (const std::string& o : vs.regions) {
        WriteState w;
        bool missing = false;
        auto info = StreamInfo(o, vs.WriteStreamName(o), &w.error, &missing);
        if (missing) w.error = vs.WriteStreamName(o) + " does not exist (run apply)";
        if (info) {
          const json& s = (*info)["state"];
          w.known = true;
          w.first = s.value("first_seq", 0ull);
          w.last = s.value("last_seq", 0ull);
          w.msgs = s.value("messages", 0ull);
        }
        writes[o] = w;
      }
    }
    std::string order_error;
    std::optional<std::uint64_t> order_last;
    if (vs.mode != Mode::kEventual) {
      const std::string name =
          vs.mode == Mode::kOrdered ? vs.OrderStreamName() : vs.StretchedStreamName();
      std::string any = AnyReachable(vs);
      bool missing = false;
      auto info = any.empty() ? std::nullopt : StreamInfo(any, name, &order_error, &missing);
      if (any.empty()) order_error = "no region reachable";
      if (missing) order_error = name + " does not exist (run apply)";
      if (info) order_last = (*info)["state"].value("last_seq", 0ull);
    }
    for (const std::string& r : vs.regions) {
      RegionStatus rs;
      rs.region = r;
      rs.reachable = Link(r) != nullptr;
      if (!rs.reachable) {
        for (const RegionState& s : states_) {
          if (s.name == r) rs.error = s.error;
        }
        st.warnings.push_back("region \"" + r + "\" is unreachable: " + rs.error);
        st.regions.push_back(std::move(rs));
        continue;
      }
      if (writes.count(r) && writes[r].known) rs.write_msgs = writes[r].msgs;
      bool missing = false;
      auto info = StreamInfo(r, vs.ReadStreamName(r), &rs.read_error, &missing);
      if (missing) rs.read_error = vs.ReadStreamName(r) + " does not exist (run apply)";
      std::optional<std::uint64_t> read_last;
      if (info) {
        rs.read_msgs = (*info)["state"].value("messages", 0ull);
        read_last = (*info)["state"].value("last_seq", 0ull);
      }
      if (vs.mode == Mode::kEventual) {
        for (const std::string& o : vs.regions) {
          OriginLag lag;
          lag.origin = o;
          const WriteState& w = writes[o];
          if (!info) {
            lag.error = rs.read_error;
          } else if (!w.known) {
            lag.error = "origin write stream unknown: " + w.error;
          } else {
            SourcedProbe p = Sourced(r, vs.ReadStreamName(r), vs, o);
            if (p.kind == SourcedProbe::kError) {
              lag.error = p.error;
            } else {
              // Below first_seq everything was sourced already (trimmed only then), also when
              // the read stream's own limits have dropped those messages since.
              const std::uint64_t have =
                  std::max<std::uint64_t>(p.kind == SourcedProbe::kFound ? p.position.seq : 0,
                                          w.first > 0 ? w.first - 1 : 0);
              lag.behind = w.last > have ? w.last - have : 0;
              if (*lag.behind > 0) {
                const std::uint64_t next = std::max(have + 1, w.first);
                std::string error;
                auto m = Request(o, "$JS.API.STREAM.MSG.GET." + vs.WriteStreamName(o),
                                 json{{"seq", next}}.dump(), &error);
                if (m && m->contains("message")) {
                  auto t = ParseRfc3339Nanos((*m)["message"].value("time", std::string()));
                  if (t) {
                    lag.age = std::chrono::nanoseconds(
                        std::chrono::duration_cast<std::chrono::nanoseconds>(now).count() - *t);
                  }
                }
              }
            }
          }
          if (lag.age) {
            std::string w = BacklogWarning(vs.WriteStreamName(o), o, r, *lag.age, vs.write_max_age);
            if (!w.empty()) st.warnings.push_back(std::move(w));
          }
          rs.lags.push_back(std::move(lag));
        }
      } else {
        OriginLag lag;
        lag.origin = vs.mode == Mode::kOrdered ? vs.OrderStreamName() : vs.StretchedStreamName();
        if (!order_last) {
          lag.error = order_error;
        } else if (!read_last) {
          lag.error = rs.read_error;
        } else {
          lag.behind = *order_last > *read_last ? *order_last - *read_last : 0;
        }
        rs.lags.push_back(std::move(lag));
      }
      if (rs.Behind()) {
        st.warnings.push_back("region \"" + r + "\" is behind");
      }
      st.regions.push_back(std::move(rs));
    }
    out.push_back(std::move(st));
  }
  return out;
}

std::vector<TrimResult> Coordinator::Trim(bool dry_run) {
  Connect();
  std::vector<TrimResult> out;
  for (const VirtualStream& vs : topology_.streams) {
    if (vs.mode == Mode::kImmediate) continue;
    for (const std::string& o : vs.regions) {
      TrimResult tr;
      tr.virtual_stream = vs.name;
      tr.write_stream = vs.WriteStreamName(o);
      tr.region = o;
      tr.decision.write_stream = tr.write_stream;
      if (vs.mode == Mode::kEventual && !vs.keep_origin_token) {
        tr.decision.reason =
            "not trimmed: read streams strip the origin token, so how far each got is not "
            "readable from their subjects";
        out.push_back(std::move(tr));
        continue;
      }
      bool missing = false;
      auto info = StreamInfo(o, tr.write_stream, &tr.error, &missing);
      if (!info) {
        if (missing) tr.error = tr.write_stream + " does not exist";
        tr.decision.reason = "not trimmed: " + tr.error;
        out.push_back(std::move(tr));
        continue;
      }
      TrimInput in;
      in.write_stream = tr.write_stream;
      in.first_seq = (*info)["state"].value("first_seq", 0ull);
      in.last_seq = (*info)["state"].value("last_seq", 0ull);
      auto add_reader = [&](const std::string& region, const std::string& reader) {
        ReaderPosition rp;
        rp.reader = reader;
        if (region.empty() || Link(region) == nullptr) {
          rp.why_unknown = "its region is unreachable";
        } else {
          SourcedProbe p = Sourced(region, reader, vs, o);
          if (p.kind == SourcedProbe::kError) {
            rp.why_unknown = p.error;
          } else {
            rp.seq = p.kind == SourcedProbe::kFound ? p.position.seq : 0;
          }
        }
        in.readers.push_back(std::move(rp));
      };
      if (vs.mode == Mode::kEventual) {
        for (const std::string& r : vs.regions) add_reader(r, vs.ReadStreamName(r));
      } else {
        add_reader(AnyReachable(vs), vs.OrderStreamName());
      }
      tr.decision = DecideTrim(in);
      if (tr.decision.purge_below > 0 && !dry_run) {
        std::string error;
        auto r = Request(o, "$JS.API.STREAM.PURGE." + tr.write_stream,
                         json{{"seq", tr.decision.purge_below}}.dump(), &error,
                         Ask::kIdempotentChange);
        if (!r) {
          tr.error = error;
        } else if (r->contains("error")) {
          tr.error = ErrText(*r);
        } else {
          tr.purged = true;
          tr.purged_count = r->value("purged", 0ull);
        }
      }
      out.push_back(std::move(tr));
    }
  }
  return out;
}

json ToJson(const PlanResult& plan) {
  json regions = json::array();
  for (const RegionState& r : plan.regions) {
    json j{{"name", r.name}, {"reachable", r.reachable}};
    if (r.reachable) {
      j["server"] = r.kind.Describe();
      j["version"] = r.kind.version;
      j["subject_transforms"] = r.kind.transforms;
    } else {
      j["error"] = r.error;
    }
    regions.push_back(std::move(j));
  }
  json streams = json::array();
  for (const StreamPlan& p : plan.streams) {
    json j{{"stream", p.desired.name},
           {"virtual_stream", p.desired.virtual_stream},
           {"role", RoleName(p.desired.role)},
           {"region", p.desired.region},
           {"action", ActionName(p.action)}};
    if (!p.note.empty()) j["note"] = p.note;
    json changes = json::array();
    for (const FieldChange& c : p.changes) {
      changes.push_back({{"field", c.field}, {"from", c.from}, {"to", c.to}});
    }
    if (!changes.empty()) j["changes"] = changes;
    if (p.action == Action::kCreate) j["config"] = p.send;
    streams.push_back(std::move(j));
  }
  return {{"regions", regions},
          {"streams", streams},
          {"problems", plan.problems},
          {"changes", plan.HasChanges()},
          {"summary",
           {{"create", plan.Count(Action::kCreate)},
            {"update", plan.Count(Action::kUpdate)},
            {"recreate", plan.Count(Action::kRecreate)},
            {"delete", plan.Count(Action::kDelete)},
            {"skip", plan.Count(Action::kSkip)},
            {"unchanged", plan.Count(Action::kNone)}}}};
}

json ToJson(const ApplyResult& result) {
  json steps = json::array();
  for (const ApplyStep& s : result.steps) {
    steps.push_back({{"stream", s.stream},
                     {"region", s.region},
                     {"action", ActionName(s.action)},
                     {"ok", s.ok},
                     {"message", s.message}});
  }
  return {{"steps", steps}, {"skipped", result.skipped}, {"ok", result.ok()}};
}

json ToJson(const std::vector<StreamStatus>& status) {
  json out = json::array();
  for (const StreamStatus& s : status) {
    json regions = json::array();
    for (const RegionStatus& r : s.regions) {
      json j{{"region", r.region}, {"reachable", r.reachable}, {"behind", r.Behind()}};
      if (!r.error.empty()) j["error"] = r.error;
      if (r.write_msgs) j["write_messages"] = *r.write_msgs;
      if (r.read_msgs) j["read_messages"] = *r.read_msgs;
      if (!r.read_error.empty()) j["read_error"] = r.read_error;
      json lags = json::array();
      for (const OriginLag& l : r.lags) {
        json lj{{"origin", l.origin}};
        if (l.behind) lj["behind"] = *l.behind;
        if (l.age) lj["age_ns"] = l.age->count();
        if (!l.error.empty()) lj["error"] = l.error;
        lags.push_back(std::move(lj));
      }
      j["lag"] = lags;
      regions.push_back(std::move(j));
    }
    out.push_back({{"stream", s.name},
                   {"mode", ModeName(s.mode)},
                   {"regions", regions},
                   {"warnings", s.warnings}});
  }
  return out;
}

json ToJson(const std::vector<TrimResult>& trims) {
  json out = json::array();
  for (const TrimResult& t : trims) {
    json j{{"stream", t.write_stream},   {"virtual_stream", t.virtual_stream},
           {"region", t.region},         {"purge_below", t.decision.purge_below},
           {"purged", t.purged},         {"purged_count", t.purged_count},
           {"reason", t.decision.reason}};
    if (!t.error.empty()) j["error"] = t.error;
    out.push_back(std::move(j));
  }
  return out;
}

}  // namespace meridian::topology

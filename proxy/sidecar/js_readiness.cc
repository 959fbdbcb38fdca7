#include "sidecar/js_readiness.h"

#include <nlohmann/json.hpp>
#include <utility>

#include "rewrite/topology.h"

namespace meridian::sidecar {
namespace {

// Not ready because of the reply's header status (503 "No Responders", 408...), if any.
bool StatusVerdict(std::string_view subject, int status, std::string_view description,
                   JsVerdict& out) {
  if (status == 0 || (status >= 200 && status < 300)) return false;
  out.ready = false;
  if (status == 503) {
    out.reason = "no responders for " + std::string(subject);
  } else {
    out.reason = std::string(subject) + " answered status " + std::to_string(status);
    if (!description.empty()) out.reason += " (" + std::string(description) + ")";
  }
  return true;
}

// Parses `payload`; not ready (and `out` says why) when it is not a JSON object or has an
// `error`.
bool ParseNoError(std::string_view what, std::string_view payload, nlohmann::json& j,
                  JsVerdict& out) {
  j = nlohmann::json::parse(payload, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    out = {false, std::string(what) + ": the reply is not a JSON object"};
    return false;
  }
  auto e = j.find("error");
  if (e != j.end() && !e->is_null()) {
    std::string text = std::string(what) + ": JetStream error";
    if (e->is_object()) {
      if (auto c = e->find("err_code"); c != e->end() && c->is_number()) {
        text += " " + std::to_string(c->get<std::int64_t>());
      }
      if (auto d = e->find("description"); d != e->end() && d->is_string()) {
        text += " '" + d->get<std::string>() + "'";
      }
    }
    out = {false, std::move(text)};
    return false;
  }
  return true;
}

}  // namespace

JsVerdict ReadStreamInfoReply(std::string_view stream, int status, std::string_view description,
                              std::string_view payload) {
  JsVerdict v;
  const std::string subject = "$JS.API.STREAM.INFO." + std::string(stream);
  if (StatusVerdict(subject, status, description, v)) return v;
  nlohmann::json j;
  if (!ParseNoError(stream, payload, j, v)) return v;
  auto cluster = j.find("cluster");
  if (cluster != j.end() && cluster->is_object()) {
    auto leader = cluster->find("leader");
    if (leader == cluster->end() || !leader->is_string() || leader->get<std::string>().empty()) {
      return {false, "no leader for " + std::string(stream)};
    }
  } else if (!j.contains("config") && !j.contains("state")) {
    return {false, std::string(stream) + ": the reply is not a stream info"};
  }
  return {true, ""};
}

JsVerdict ReadAccountInfoReply(int status, std::string_view description, std::string_view payload) {
  JsVerdict v;
  if (StatusVerdict("$JS.API.INFO", status, description, v)) return v;
  nlohmann::json j;
  if (!ParseNoError("$JS.API.INFO", payload, j, v)) return v;
  return {true, ""};
}

std::vector<std::string> WriteStreamsOf(const rewrite::Topology* topology,
                                        std::string_view region) {
  std::vector<std::string> out;
  if (topology == nullptr) return out;
  for (const rewrite::VirtualStream& vs : topology->streams()) {
    if (vs.HasRegion(region)) out.push_back(vs.WriteStreamName(region));
  }
  return out;
}

JsReadiness::JsReadiness(std::vector<std::string> write_streams, std::chrono::milliseconds interval,
                         std::chrono::milliseconds timeout)
    : interval_(interval), timeout_(timeout) {
  for (std::string& s : write_streams) {
    Check c;
    c.subject = "$JS.API.STREAM.INFO." + s;
    c.stream = std::move(s);
    checks_.push_back(std::move(c));
  }
  if (checks_.empty()) {
    Check c;
    c.subject = "$JS.API.INFO";
    checks_.push_back(std::move(c));
  }
}

std::vector<JsReadiness::Request> JsReadiness::Poll(std::uint64_t now_ms) {
  std::vector<Request> out;
  const auto interval = static_cast<std::uint64_t>(interval_.count());
  const auto timeout = static_cast<std::uint64_t>(timeout_.count());
  for (Check& c : checks_) {
    if (c.token != 0 && now_ms - c.sent_ms >= timeout) {
      c.token = 0;
      c.verdict = {false, (c.stream.empty() ? c.subject : c.stream) + ": no answer within " +
                              std::to_string(timeout) + " ms"};
    }
    if (c.token != 0) continue;
    if (c.asked && now_ms - c.sent_ms < interval) continue;
    c.token = next_token_++;
    c.sent_ms = now_ms;
    c.asked = true;
    out.push_back({c.token, c.subject});
  }
  return out;
}

void JsReadiness::OnReply(std::uint64_t token, int status, std::string_view description,
                          std::string_view payload) {
  if (token == 0) return;
  for (Check& c : checks_) {
    if (c.token != token) continue;
    c.token = 0;
    c.verdict = c.stream.empty() ? ReadAccountInfoReply(status, description, payload)
                                 : ReadStreamInfoReply(c.stream, status, description, payload);
    return;
  }
}

void JsReadiness::Reset(const std::string& why) {
  for (Check& c : checks_) {
    c.token = 0;
    c.sent_ms = 0;
    c.asked = false;
    c.verdict = {false, why};
  }
}

bool JsReadiness::ready() const {
  for (const Check& c : checks_) {
    if (!c.verdict.ready) return false;
  }
  return true;
}

std::string JsReadiness::reason() const {
  for (const Check& c : checks_) {
    if (!c.verdict.ready) return c.verdict.reason;
  }
  return "";
}

std::vector<std::string> JsReadiness::streams() const {
  std::vector<std::string> out;
  for (const Check& c : checks_) {
    if (!c.stream.empty()) out.push_back(c.stream);
  }
  return out;
}

}  // namespace meridian::sidecar

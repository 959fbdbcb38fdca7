#include "cli/jsapi_request.h"

#include "cli/cli.h"

namespace meridian::cli {

nlohmann::json JsApiRequest(natsclient::SyncClient& nc, const std::string& subject,
                            const std::string& body, std::chrono::milliseconds timeout) {
  auto reply = nc.Request(subject, body, timeout);
  if (!reply.ok()) {
    const std::string& m = reply.message();
    if (m.rfind("no reply", 0) == 0) {
      throw CliError("no reply from JetStream to " + subject +
                     ": no JetStream meta leader found (is a majority of servers up?), or this "
                     "user's account has no JetStream, or the request needs the system account");
    }
    if (m.rfind("no responders", 0) == 0) {
      throw CliError("JetStream is not available to this user (no responders on " + subject +
                     "): is JetStream enabled for the account?");
    }
    throw CliError(m);
  }
  auto j = nlohmann::json::parse(reply->payload, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    throw CliError("the reply to " + subject +
                   " is not a JSON object: " + reply->payload.substr(0, 200));
  }
  if (j.contains("error") && j["error"].is_object()) {
    const auto& e = j["error"];
    std::string desc = e.value("description", std::string("unknown error"));
    int code = e.value("err_code", 0);
    throw CliError("JetStream refused the request: " + desc +
                   (code ? " (error " + std::to_string(code) + ")" : std::string()));
  }
  return j;
}

std::vector<nlohmann::json> PingJsz(natsclient::SyncClient& nc, std::chrono::milliseconds timeout) {
  auto replies =
      nc.RequestMany("$SYS.REQ.SERVER.PING.JSZ", "{}", timeout, std::chrono::milliseconds(700));
  if (!replies.ok()) throw CliError(replies.message());
  std::vector<nlohmann::json> out;
  for (const auto& m : *replies) {
    auto j = nlohmann::json::parse(m.payload, nullptr, false);
    if (j.is_object()) out.push_back(std::move(j));
  }
  if (out.empty()) {
    throw CliError(
        "no server answered $SYS.REQ.SERVER.PING.JSZ: server reports need a user of the system "
        "account ($SYS), e.g. --user sys --password sys");
  }
  return out;
}

}  // namespace meridian::cli

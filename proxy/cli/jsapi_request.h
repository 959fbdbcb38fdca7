// JetStream and $SYS requests for the CLI: JSON in, JSON out, failures as sentences.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "natsclient/sync_client.h"

namespace meridian::cli {

// Sends `body` to `subject` ($JS.API...) and returns the parsed reply. Throws CliError: on no
// reply (the text names the likely cause: no meta leader, no JetStream, wrong account), on
// no responders, on a reply that is not JSON, and on a reply with "error" (description and
// err_code).
nlohmann::json JsApiRequest(natsclient::SyncClient& nc, const std::string& subject,
                            const std::string& body,
                            std::chrono::milliseconds timeout = std::chrono::seconds(5));

// The JSZ replies of every server ($SYS.REQ.SERVER.PING.JSZ), or CliError when none answered.
std::vector<nlohmann::json> PingJsz(natsclient::SyncClient& nc,
                                    std::chrono::milliseconds timeout = std::chrono::seconds(3));

}  // namespace meridian::cli

// The reports' tables and JSON, built from the server's JSON replies (pure functions, so the
// layout is tested without a server).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/table.h"

namespace meridian::cli {

// `stream report`: one row per STREAM.LIST entry. `now_unix_ns` is for the last-message age.
Table StreamReportTable(const std::vector<nlohmann::json>& infos, int64_t now_unix_ns);
nlohmann::json StreamReportJson(const std::vector<nlohmann::json>& infos, int64_t now_unix_ns);
// "n1*, n2, n3!" : leader starred, offline replicas with "!", behind ones with "~".
std::string ReplicaList(const nlohmann::json& info);

// `server report jetstream`: from the $SYS.REQ.SERVER.PING.JSZ replies.
struct JetStreamReport {
  Table servers{"JetStream Summary"};
  Table meta{"RAFT Meta Group Information"};
  std::string meta_leader;  // "" when no server names one
  bool clustered = false;   // some server reports a meta group (false: standalone servers)
  nlohmann::json json;      // {servers:[...], meta:{leader, peers:[...]}}
};
JetStreamReport BuildJetStreamReport(std::vector<nlohmann::json> jsz);

// `stream info`: the text form (configuration, cluster, state).
std::string StreamInfoText(const nlohmann::json& info);
// `stream ls`.
Table StreamListTable(const std::vector<nlohmann::json>& infos);

// Seconds-resolution age of an RFC 3339 time; "" for the zero time or unparseable text.
std::string AgeSince(const std::string& rfc3339, int64_t now_unix_ns);

}  // namespace meridian::cli

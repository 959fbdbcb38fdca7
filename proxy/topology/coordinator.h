// The topology coordinator: connects to every region with that region's credentials, reads
// what exists ($JS.API.STREAM.INFO / NAMES), plans, applies in a safe order, reports
// replication status and trims write streams. Blocking (natsclient::SyncClient per region);
// the CLI calls it directly, the sidecar from a worker thread (periodic.h).
//
// An unreachable region is recorded and skipped: plan and status report it, apply changes
// nothing in it, trim leaves every write stream it reads or holds alone.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "topology/desired.h"
#include "topology/diff.h"
#include "topology/spec.h"
#include "topology/trim.h"

namespace meridian::natsclient {
class SyncClient;
}

namespace meridian::topology {

struct RegionState {
  std::string name;
  bool reachable = false;
  std::string error;  // why not reachable
  ServerKind kind;
  std::string server_name;
};

struct PlanResult {
  std::vector<RegionState> regions;
  std::vector<StreamPlan> streams;    // desired order, then deletions
  std::vector<std::string> problems;  // streams whose state could not be read
  size_t Count(Action a) const;
  bool HasChanges() const;  // any create, update, recreate or delete
};

struct ApplyStep {
  std::string stream, region;
  Action action = Action::kNone;
  bool ok = false;
  std::string message;  // what happened, or the server's error
};

struct ApplyResult {
  std::vector<ApplyStep> steps;
  std::vector<std::string> skipped;  // sentences: unreachable regions, refused deletions
  bool ok() const;                   // every step succeeded
};

struct OriginLag {
  std::string origin;                           // region the messages were written in
  std::optional<std::uint64_t> behind;          // messages not yet in the reader
  std::optional<std::chrono::nanoseconds> age;  // age of the oldest of those
  std::string error;
};

struct RegionStatus {
  std::string region;
  bool reachable = false;
  std::string error;
  std::optional<std::uint64_t> write_msgs, read_msgs;
  std::string read_error;
  std::vector<OriginLag> lags;
  bool Behind() const;
};

struct StreamStatus {
  std::string name;
  Mode mode = Mode::kEventual;
  std::vector<RegionStatus> regions;
  std::vector<std::string> warnings;  // backlogs approaching write_max_age, unreachable parts
};

struct TrimResult {
  std::string virtual_stream, write_stream, region;
  TrimDecision decision;
  bool purged = false;
  std::uint64_t purged_count = 0;
  std::string error;
};

class Coordinator {
 public:
  struct Options {
    std::chrono::milliseconds request_timeout{3000};  // reads (INFO, NAMES, MSG.GET)
    std::chrono::milliseconds change_timeout{15000};  // CREATE, UPDATE, DELETE, PURGE
    std::chrono::milliseconds connect_timeout{3000};
    // Reads answered "JetStream system temporarily unavailable" (10008, e.g. a stream
    // electing a leader after a region came back) are asked again for up to this long.
    std::chrono::milliseconds unavailable_retry{10000};
    std::string client_name = "meridian-topology";
  };
  explicit Coordinator(Topology topology);
  Coordinator(Topology topology, Options options);
  ~Coordinator();

  // Connects to every region not yet connected (again after a lost connection).
  void Connect();
  const std::vector<RegionState>& regions() const { return states_; }
  const Topology& topology() const { return topology_; }

  PlanResult Plan();
  // Carries out `plan` (from Plan()); recreate and delete only with allow_delete.
  ApplyResult Apply(const PlanResult& plan, bool allow_delete);
  std::vector<StreamStatus> Status();
  // One pass over every write stream; dry_run decides without purging.
  std::vector<TrimResult> Trim(bool dry_run = false);

  // What a request does, which decides whether "temporarily unavailable" may be asked again.
  enum class Ask {
    kRead,              // asked again
    kChange,            // never resent blindly: its caller looks again
    kIdempotentChange,  // asking twice does what asking once does (purge below a sequence)
  };
  // A JetStream API request through `region`'s connection: the parsed reply (which may hold
  // "error"), or nullopt with *error set when there was no usable reply. Reads and idempotent
  // changes that meet "temporarily unavailable" are asked again for up to
  // Options::unavailable_retry.
  std::optional<nlohmann::json> Request(const std::string& region, const std::string& subject,
                                        const std::string& body, std::string* error,
                                        Ask ask = Ask::kRead);

 private:
  std::optional<nlohmann::json> RequestOnce(natsclient::SyncClient* nc, const std::string& region,
                                            const std::string& subject, const std::string& body,
                                            std::string* error, bool change);
  natsclient::SyncClient* Link(const std::string& region);
  std::string AnyReachable(const VirtualStream& vs);
  std::optional<nlohmann::json> StreamInfo(const std::string& region, const std::string& stream,
                                           std::string* error, bool* missing);
  SourcedProbe Sourced(const std::string& region, const std::string& reader,
                       const VirtualStream& vs, const std::string& origin);

  Topology topology_;
  Options options_;
  std::vector<RegionState> states_;
  std::vector<std::unique_ptr<natsclient::SyncClient>> links_;  // parallel to states_
};

// JSON forms for --json and the sidecar's logs.
nlohmann::json ToJson(const PlanResult& plan);
nlohmann::json ToJson(const ApplyResult& result);
nlohmann::json ToJson(const std::vector<StreamStatus>& status);
nlohmann::json ToJson(const std::vector<TrimResult>& trims);

// "2026-11-23T06:58:17.564464541Z" to nanoseconds since the epoch; nullopt when malformed.
std::optional<std::int64_t> ParseRfc3339Nanos(const std::string& text);

}  // namespace meridian::topology

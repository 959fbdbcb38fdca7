// The scenario the disaster drills and the chaos test share: a 3-region super-cluster of stock
// nats-servers (3 per region) with every gateway through a FaultProxy, the virtual stream `foo`
// (write streams foo-write-<r> and read streams foo-read-<r>, R3, created on the servers), one
// meridian-sidecar per region, and one publisher per region publishing continuously through
// its sidecar (JetStream publish to foo.drill, a unique id as the body, acks recorded).
//
// The invariant checker reads every read stream in full, directly from the servers, and
// compares it with what the publishers recorded.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "faultproxy/faulty_cluster.h"
#include "harness/gtest_support.h"
#include "harness/sidecar_process.h"

namespace meridian::drills {

using Clock = std::chrono::steady_clock;

inline const std::vector<std::string> kRegions = {"east", "central", "west"};

// One publish attempt of a publisher.
struct PublishRecord {
  std::string id;      // the body: "<region>-<n>", unique in the run
  std::string region;  // the publisher's region (its sidecar)
  Clock::time_point sent, answered;
  bool acked = false;    // a PubAck without error came back
  uint64_t ack_seq = 0;  // the PubAck's seq
  std::string outcome;   // "ack", or the error / timeout text
};

// A publisher thread: one libnats connection to its region's sidecar, a JetStream publish (a
// request on foo.drill) every `interval`, each waited for up to 5 s.
class Publisher {
 public:
  Publisher(std::string region, std::string sidecar_url, std::chrono::milliseconds interval);
  ~Publisher();
  void Start();
  void Stop();  // joins the thread
  const std::string& region() const { return region_; }
  std::vector<PublishRecord> Records() const;
  size_t AckedCount() const { return acked_.load(); }
  size_t SentCount() const { return sent_.load(); }

 private:
  void Run();
  std::string region_, url_;
  std::chrono::milliseconds interval_;
  std::atomic<bool> stop_{false};
  std::atomic<size_t> acked_{0}, sent_{0};
  mutable std::mutex mu_;
  std::vector<PublishRecord> records_;
  std::thread thread_;
};

struct WorldOptions {
  std::string name = "drills";
  // max_age (seconds) per write stream region; absent = unlimited.
  std::map<std::string, int> write_max_age_s;
  std::chrono::milliseconds publish_interval{100};
};

// What one read stream holds: id -> how many times; also the stream's message count.
struct StreamContents {
  std::map<std::string, int> count_of_id;
  std::map<std::string, std::vector<uint64_t>> seqs_of_id;  // the stream sequences holding it
  // The Nats-Stream-Source header of each id's (first) copy: "<origin stream> <origin seq> ..."
  // in 2.9.10; empty for a write stream.
  std::map<std::string, std::string> source_of_id;
  // Every distinct Nats-Stream-Source header among an id's copies: one header for two copies
  // means the server sourced the same origin message twice (FINDINGS.md 5).
  std::map<std::string, std::set<std::string>> sources_of_id;
  uint64_t redelivered = 0;  // deliveries of a sequence already seen (not counted twice)
  uint64_t foreign = 0;      // deliveries not of the reading consumer (ignored)
  uint64_t messages = 0;
  uint64_t first_seq = 0, last_seq = 0;
  uint64_t read = 0;    // messages actually received while reading
  std::string problem;  // non-empty: the read did not finish
  std::string server;   // the server whose copy was read (where the reading consumer ran)
};

// The result of an invariant check over every read stream.
struct Verdict {
  std::vector<std::string> failures;  // one sentence each; empty = all invariants hold
  std::string summary;                // counts for the log
};

class DrillWorld {
 public:
  explicit DrillWorld(const WorldOptions& options);  // starts everything; throws on failure
  ~DrillWorld();                                     // stops publishers, sidecars, servers

  faultproxy::FaultyNatsSuperCluster& fc() { return *fc_; }
  harness::NatsSuperCluster& cluster() { return fc_->cluster(); }
  harness::SidecarProcess& sidecar(const std::string& region) { return *sidecars_.at(region); }
  Publisher& publisher(const std::string& region) { return *publishers_.at(region); }
  const std::filesystem::path& run_dir() const { return run_dir_->path(); }

  void StartPublishers();
  void StopPublishers();
  std::vector<PublishRecord> AllRecords() const;

  // A JetStream API request to the running servers of `region` (a fresh connection).
  nlohmann::json ServerApi(const std::string& region, const std::string& subject,
                           const std::string& body = "", int64_t timeout_ms = 10000);
  // Stream info fields, asked in `region`; 0 values when it fails.
  uint64_t Messages(const std::string& region, const std::string& stream);
  uint64_t LastSeq(const std::string& region, const std::string& stream);
  // Reads a stream in full with an ephemeral push consumer (ack none) created on `region`.
  // An ephemeral consumer runs on one replica and reads that replica's copy; with `on_server`
  // set, consumers are created (and deleted) until one lands there (at most 15 tries).
  StreamContents ReadStream(const std::string& region, const std::string& stream,
                            const std::string& on_server = "");

  // Updates write stream foo-write-<region> to keep messages for `seconds` (0: unlimited).
  void SetWriteMaxAge(const std::string& region, int seconds);

  // Restarts every stopped server, heals every link, resumes paused servers and waits until
  // the super-cluster is ready again (generous).
  void RestoreAll();
  void PauseServer(const std::string& name);
  void ResumeServer(const std::string& name);

  // Waits (publishers stopped) until every read stream holds as many messages as all write
  // streams ever stored (sum of their last_seq) and has not changed for 3 s; `except` names
  // read-stream regions that need only be stable for `stable_for` (a region that lost data by
  // design). Returns the time it took, or -1 ms on timeout.
  std::chrono::milliseconds WaitForConvergence(
      std::chrono::milliseconds timeout, const std::set<std::string>& except = {},
      std::chrono::seconds stable_for = std::chrono::seconds(3));

  // With publishers still running: snapshots what the write streams hold now (sum of
  // last_seq), then waits until every read stream (but `except`) holds at least that many.
  // Returns the time from `since` (the moment the region was restarted or the link healed),
  // or -1 ms on timeout.
  std::chrono::milliseconds CatchUp(Clock::time_point since, std::chrono::milliseconds timeout,
                                    const std::set<std::string>& except = {});

  // The invariants: every acknowledged id is in every read stream exactly once, every other id
  // at most once, and nothing unknown is there. `allowed_missing[region]` lists ids that may
  // be missing from that region's read stream (and are checked to be missing: data lost by
  // design must really be lost).
  Verdict Check(const std::map<std::string, std::set<std::string>>& allowed_missing = {});
  // The read streams as last read by Check().
  const std::map<std::string, StreamContents>& last_read() const { return last_read_; }
  // For a read-stream sequence: what each of `asks` direct gets (answered by any replica of
  // the stream) returned, "<server>:<body>" counted; shows replicas that disagree.
  std::map<std::string, int> AskReplicas(const std::string& region, const std::string& stream,
                                         uint64_t seq, int asks);
  // Writes every publish attempt of the run to <run dir>/ledger.tsv (kept with the run
  // directory when the test fails): id, region, sent and answered (s since the process
  // started, the log's clock), outcome, PubAck seq.
  void WriteLedger();
  // "meridian topology apply" or "$JS.API directly".
  const std::string& streams_made_by() const { return streams_made_by_; }

 private:
  std::vector<harness::RegionSpec> Regions();
  void CreateStreams();
  // For a failed check: where each of `ids` is, in every replica of every write stream, what
  // its read-stream copy's Nats-Stream-Source header names, and what each write-stream
  // replica holds at that origin sequence; plus the ids' ledger records. One log line each.
  // Returns one sentence per write-stream sequence involved whose replicas hold different
  // messages.
  std::vector<std::string> ExplainAnomalies(const std::string& read_region,
                                            const std::vector<std::string>& ids,
                                            const std::vector<PublishRecord>& records);

  WorldOptions options_;
  std::unique_ptr<harness::TestRunDir> run_dir_;
  std::unique_ptr<faultproxy::FaultyNatsSuperCluster> fc_;
  std::map<std::string, std::unique_ptr<harness::SidecarProcess>> sidecars_;
  std::map<std::string, std::unique_ptr<Publisher>> publishers_;
  std::set<std::string> paused_;
  std::map<std::string, StreamContents> last_read_;
  std::string streams_made_by_;
};

// The stream sequence of a message delivered to `consumer` (from its ack reply subject, v1 or
// v2 form); 0 when it is not a stored message delivered to that consumer (no or another reply
// subject, or another consumer's delivery).
uint64_t StreamSeqOfDelivery(const char* reply, const std::string& consumer);

// Polls `ok` every 200 ms until it holds or `timeout` passes (exceptions count as "not yet").
bool WaitFor(const std::function<bool()>& ok, std::chrono::milliseconds timeout);

long long Ms(Clock::duration d);
// "[drills] ..." on stderr, with the time since the process started.
void Log(const std::string& line);

}  // namespace meridian::drills

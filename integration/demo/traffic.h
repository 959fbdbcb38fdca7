// The demo's traffic, over the NATS C client (libnats): a publisher per region publishing
// continuously through its sidecar (each message a unique id, every attempt recorded in a
// harness::PublishLedger), and reads of the JetStream API on a region's servers (stream info,
// and a whole read stream read on its stream leader).
#pragma once

#include <nats/nats.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "harness/ledger.h"
#include "harness/libnats_ptr.h"

namespace meridian::demo {

using NatsConn = harness::Nc;

// Connects to any of `urls`; user and password only when non-empty. Throws with the reason.
NatsConn ConnectNats(const std::vector<std::string>& urls, const std::string& name,
                     const std::string& user = "", const std::string& password = "",
                     int64_t timeout_ms = 3000);

// Publishes `subject` with the body "<region>-<n>" through one sidecar every `interval`, as a
// JetStream publish (a request, PubAck awaited up to 5 s, no retries: each id is sent once).
class Publisher {
 public:
  Publisher(std::string region, std::string sidecar_url, std::string subject,
            std::chrono::milliseconds interval, harness::PublishLedger& ledger);
  ~Publisher();  // stops
  void Start();
  void Stop();  // finishes the attempt in flight and joins the thread
  const std::string& region() const { return region_; }
  // The last attempt's outcome ("ack" or the error), for progress lines.
  std::string LastOutcome() const;

 private:
  void Run();
  std::string region_, url_, subject_;
  std::chrono::milliseconds interval_;
  harness::PublishLedger& ledger_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> n_{0};
  mutable std::mutex mu_;
  std::string last_outcome_;
  std::thread thread_;
};

// What a stream holds, read message by message on its stream leader.
struct StreamRead {
  std::map<std::string, int> count_of_id;  // bodies of the messages on `subject`
  uint64_t messages = 0;                   // the stream's message count when the read began
  uint64_t other = 0;                      // messages on other subjects
  std::string leader;                      // the server that answered
};

// The JetStream API of one region, through a connection to that region's servers (kept and
// made again when it breaks). Not thread-safe: one user at a time.
class RegionApi {
 public:
  RegionApi(std::string region, std::vector<std::string> server_urls, std::string user,
            std::string password);
  // A request on `subject`; throws on no reply or when the reply holds an error.
  nlohmann::json Request(const std::string& subject, const std::string& body = "",
                         int64_t timeout_ms = 5000);
  // state.messages and state.last_seq of a stream; nullopt when the region does not answer.
  std::optional<uint64_t> Messages(const std::string& stream);
  std::optional<uint64_t> LastSeq(const std::string& stream);
  // Every message of `stream` ($JS.API.STREAM.MSG.GET, answered by the stream leader only, so
  // the leader's copy is what is read), counted by body for messages on the virtual subject
  // `subject` ("foo.demo", stored as is or as "foo.<region>.demo"). Throws when a message
  // cannot be read.
  StreamRead ReadStream(const std::string& stream, const std::string& subject);
  const std::string& region() const { return region_; }

 private:
  natsConnection* Conn();
  std::string region_;
  std::vector<std::string> urls_;
  std::string user_, password_;
  NatsConn nc_;
};

}  // namespace meridian::demo

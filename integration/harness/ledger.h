// A ledger of publish attempts and the check of a read stream against it: the bookkeeping
// behind "every acknowledged message is in every region's read stream exactly once".
//
// Publishers (whatever client they use) record each attempt once, with a body unique in the
// run (the id); a reader (whatever client) hands over what one read stream holds, counted by
// id; TallyReadStream() says what is missing, duplicated or unknown there. No client library
// here: the demo records into it from libnats publishers.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace meridian::harness {

// One publish attempt.
struct PublishRecord {
  std::string id;      // the message body, unique in the run ("<region>-<n>")
  std::string region;  // where it was published (the publisher's region)
  std::chrono::steady_clock::time_point sent, answered;
  bool acked = false;    // a PubAck without error came back
  uint64_t ack_seq = 0;  // the PubAck's sequence
  std::string outcome;   // "ack", or the error / timeout text
};

// Thread-safe: many publishers add, anyone reads.
class PublishLedger {
 public:
  void Add(PublishRecord record);
  std::vector<PublishRecord> Records() const;
  size_t Sent(const std::string& region) const;
  size_t Acked(const std::string& region) const;

 private:
  mutable std::mutex mu_;
  std::vector<PublishRecord> records_;
  std::map<std::string, size_t> sent_, acked_;
};

// One read stream compared with the ledger.
struct ReadStreamTally {
  size_t acked_present = 0;    // acknowledged ids present (once or more)
  size_t unacked_present = 0;  // ids sent but not acknowledged (timed out) that are present
  size_t missing_acked = 0;    // acknowledged ids absent
  size_t duplicates = 0;       // ids present more than once (acked or not): extra copies
  size_t unknown = 0;          // ids no publisher sent
  std::vector<std::string> missing_examples, duplicate_examples, unknown_examples;  // <= 8 each
  // The invariant: nothing acknowledged missing, nothing twice, nothing unknown.
  bool Holds() const { return missing_acked == 0 && duplicates == 0 && unknown == 0; }
  // "missing 2 acknowledged: east-4, west-9; ..." or "" when Holds().
  std::string Problems() const;
};

// `count_of_id`: how many messages of the read stream carry each id.
ReadStreamTally TallyReadStream(const std::vector<PublishRecord>& records,
                                const std::map<std::string, int>& count_of_id);

}  // namespace meridian::harness

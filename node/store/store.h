// Store: a stream's message log. Messages get increasing sequence numbers; the store keeps
// them subject to retention limits, answers lookups by sequence and by subject, and reports
// when they are durable. Two implementations: FileStore (file_store.h) and MemoryStore
// (memory_store.h). All methods are thread-safe. Durability callbacks may run on a store-owned
// thread: an event loop should hand them back to itself (e.g. uv_async_send).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "store/status.h"

namespace meridian::store {

enum class DiscardPolicy { kOld, kNew };

// Retention limits; zero means "no limit".
struct RetentionLimits {
  uint64_t max_msgs = 0;
  uint64_t max_bytes = 0;  // counted as Store::MessageSize() of each message
  int64_t max_age_ns = 0;
  uint64_t max_msgs_per_subject = 0;
  DiscardPolicy discard = DiscardPolicy::kOld;
};

struct Message {
  uint64_t seq = 0;
  int64_t timestamp_ns = 0;
  std::string subject;
  std::string headers;  // the raw NATS header block, or empty
  std::string payload;
};

// The size of a message's record in a FileStore segment (40 + lengths); also what a
// MemoryStore entry's length holds. Not what max_bytes and StoreState::bytes count.
uint64_t StoredSize(std::string_view subject, std::string_view headers, std::string_view payload);

// What a message counts in StoreState::bytes and against max_bytes: nats-server 2.9.10's
// formulas, so that stream info and JSZ show the same figures. File store: 30 + subject +
// payload, or 34 + subject + headers + payload with headers (fileStoreMsgSize); memory store:
// 16 + subject + headers + payload (memStoreMsgSize).
uint64_t FileStoreMsgSize(size_t subject, size_t headers, size_t payload);
uint64_t MemoryStoreMsgSize(size_t subject, size_t headers, size_t payload);

struct AppendOptions {
  // 0 = the next sequence. Otherwise it must be above the last sequence; the skipped ones
  // become deleted (a replica applying a leader's numbering uses this).
  uint64_t seq = 0;
  int64_t timestamp_ns = 0;  // 0 = now
  // For an event loop that acknowledges from WhenDurable: a store that syncs on its own thread
  // (FileStore with SyncPolicy::kAlways) does not wake that thread for this append; the
  // caller promises to call KickSync() on the same thread soon (at the end of its loop
  // iteration), which makes one decision for everything appended meanwhile. Ignored by
  // other stores.
  bool defer_sync = false;
};

struct StoreState {
  uint64_t msgs = 0;
  uint64_t bytes = 0;
  uint64_t first_seq = 0;  // lowest sequence not removed (last_seq + 1 when empty)
  int64_t first_ts = 0;
  uint64_t last_seq = 0;  // highest sequence ever assigned, survives purges and restarts
  int64_t last_ts = 0;
  uint64_t num_deleted = 0;  // interior gaps between first_seq and last_seq
  uint64_t num_subjects = 0;
  uint64_t corrupt_regions = 0;  // see Corruption()
};

struct SubjectState {
  std::string subject;
  uint64_t msgs = 0;
  uint64_t first_seq = 0;
  uint64_t last_seq = 0;
};

// A stretch of a segment that failed its checksum and is not a torn tail. Its sequences read
// as kCorrupt; the replica should be repaired from its peers.
struct CorruptionReport {
  std::string file;
  uint64_t offset = 0;
  uint64_t length = 0;
  uint64_t first_seq = 0;  // the sequences the stretch held (best estimate from neighbours)
  uint64_t last_seq = 0;
  std::string reason;
};

// Purge: with an empty filter and no other field, everything. `filter` limits it to matching
// subjects (wildcards allowed). `below_seq` removes only sequences below it. `keep` keeps the
// newest `keep` messages (per matching subject when a filter is given). below_seq and keep
// cannot be combined.
struct PurgeRequest {
  std::string filter;
  uint64_t below_seq = 0;
  uint64_t keep = 0;
};

// Called once with the outcome: ok when every message up to `seq` is durable.
using DurableCallback = std::function<void(uint64_t seq, const Status& status)>;

class Store {
 public:
  virtual ~Store() = default;

  // Stores a message and returns its sequence in *seq. The message is readable at once;
  // it is durable when DurableSeq() >= *seq (see WhenDurable / WaitDurable).
  virtual Status Append(std::string_view subject, std::string_view headers,
                        std::string_view payload, const AppendOptions& options, uint64_t* seq) = 0;
  Status Append(std::string_view subject, std::string_view payload, uint64_t* seq) {
    return Append(subject, {}, payload, AppendOptions{}, seq);
  }

  // Every message up to this sequence survives a crash of the process or the machine.
  virtual uint64_t DurableSeq() const = 0;
  // Runs `callback` once `seq` is durable, or with an error if syncing failed. May run it
  // before returning (already durable) or later on the store's sync thread.
  virtual void WhenDurable(uint64_t seq, DurableCallback callback) = 0;
  // Blocks until `seq` is durable. Not for event-loop threads.
  Status WaitDurable(uint64_t seq);
  // Makes everything written so far durable now, whatever the sync policy.
  virtual Status Sync() = 0;
  // Starts the sync of appends made with AppendOptions::defer_sync. When exactly one such
  // append is waiting, no sync is in flight and `inline_if_alone` is set, the fdatasync runs
  // here, on the caller's thread, and its WhenDurable callbacks run here before it returns
  // (no hand-off to the sync thread and back); otherwise the sync thread is woken. Cheap
  // when nothing is deferred. No-op by default.
  virtual void KickSync(bool /*inline_if_alone*/) {}

  // A write batch, for a bulk copier that acknowledges nothing (stream sources and mirrors):
  // between BeginBatch() and EndBatch() appends are readable at once but may be held in
  // memory and written to the OS together at EndBatch() (or when enough piled up). They are
  // not durable, and DurableSeq() does not pass them, before they are written. A failed write
  // of a batch stops the store (kFailed) until it is reopened; recovery then holds what
  // reached the file. Publishes that are acknowledged must not be appended inside a batch
  // with interval sync, since their ack promises the bytes reached the OS. No-ops by default.
  virtual void BeginBatch() {}
  virtual Status EndBatch() { return Status::Ok(); }

  virtual Status Load(uint64_t seq, Message* out) const = 0;
  // The first message with sequence >= start_seq whose subject matches `filter`.
  virtual Status LoadNext(std::string_view filter, uint64_t start_seq, Message* out) const = 0;
  // The newest message whose subject matches `filter` (a subject or a wildcard filter).
  virtual Status LoadLast(std::string_view filter, Message* out) const = 0;

  // Removes one message; a tombstone makes the removal survive restarts.
  virtual Status Remove(uint64_t seq) = 0;
  virtual Status Purge(const PurgeRequest& request, uint64_t* purged) = 0;
  // Removes messages older than max_age (also done on every append and on open). Call it
  // from a timer when appends are rare.
  virtual Status ExpireOld() = 0;
  // kLimitReached with a sentence when discard-new limits would refuse this message.
  // `message_size` is its headers + payload: as nats-server 2.9.10, discard new refuses when
  // bytes + headers + payload >= max_bytes (record overhead not included); a message that
  // passes and still takes bytes over max_bytes makes the oldest ones go, as discard old.
  virtual Status CheckDiscardNew(std::string_view subject, uint64_t message_size) const = 0;
  // What this store counts for such a message in bytes (FileStoreMsgSize/MemoryStoreMsgSize).
  virtual uint64_t MessageSize(size_t subject, size_t headers, size_t payload) const = 0;
  virtual void SetLimits(const RetentionLimits& limits) = 0;

  virtual StoreState State() const = 0;
  // Per-subject counts for subjects matching `filter` (empty = all), sorted by subject.
  virtual std::vector<SubjectState> SubjectsState(std::string_view filter) const = 0;
  virtual uint64_t NumMessages(std::string_view filter) const = 0;
  virtual std::vector<CorruptionReport> Corruption() const = 0;

  // Flushes, syncs and releases resources; later calls return kClosed.
  virtual Status Close() = 0;
};

}  // namespace meridian::store

// IndexedStore: the part of a Store that does not care where bytes live. It owns the sequence
// index, the per-subject index, retention, purge and lookups; FileStore and MemoryStore supply
// a handful of primitives (write a message, write markers, read a message, release one). One
// mutex (mu_) protects everything; primitives are always called with it held.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "store/record_format.h"
#include "store/store.h"

namespace meridian::store {

class IndexedStore : public Store {
 public:
  using Clock = std::function<int64_t()>;  // Unix nanoseconds

  Status Append(std::string_view subject, std::string_view headers, std::string_view payload,
                const AppendOptions& options, uint64_t* seq) override;
  using Store::Append;
  Status Load(uint64_t seq, Message* out) const override;
  Status LoadNext(std::string_view filter, uint64_t start_seq, Message* out) const override;
  Status LoadLast(std::string_view filter, Message* out) const override;
  Status Remove(uint64_t seq) override;
  Status Purge(const PurgeRequest& request, uint64_t* purged) override;
  Status ExpireOld() override;
  Status CheckDiscardNew(std::string_view subject, uint64_t message_size) const override;
  void SetLimits(const RetentionLimits& limits) override;
  StoreState State() const override;
  std::vector<SubjectState> SubjectsState(std::string_view filter) const override;
  uint64_t NumMessages(std::string_view filter) const override;
  std::vector<CorruptionReport> Corruption() const override;

 protected:
  IndexedStore(const RetentionLimits& limits, Clock clock);

  static constexpr uint8_t kLive = 1;
  static constexpr uint8_t kRemoved = 0;
  static constexpr uint8_t kCorruptOnRead = 2;  // live, but its record failed the checksum
  static constexpr uint32_t kNoSubject = 0xFFFFFFFF;

  // One stored sequence. `offset`, `length` and `segment` belong to the implementation.
  struct Entry {
    uint64_t seq = 0;
    int64_t timestamp_ns = 0;
    uint64_t offset = 0;
    uint32_t length = 0;  // the record size, which is also what counts against max_bytes
    uint32_t segment = 0;
    uint32_t subject_id = kNoSubject;
    uint8_t state = kLive;
    uint8_t headers = 0;  // 1 when the message has a header block (counted by MessageSize)
  };
  struct Marker {
    RecordType type;
    uint64_t seq;
  };
  struct CorruptRange {
    uint64_t first_seq;
    uint64_t last_seq;
    size_t report;  // index into corruption_
  };

  // --- primitives, called with mu_ held ---
  // Refuses writes after a fatal error or Close(); ok otherwise.
  virtual Status CheckWritable() const = 0;
  // Persists a message; fills entry->offset/length/segment.
  virtual Status WriteMessage(uint64_t seq, int64_t ts, std::string_view subject,
                              std::string_view headers, std::string_view payload, Entry* entry) = 0;
  // Persists tombstones and floors, all in one write. Empty input is a no-op.
  virtual Status WriteMarkers(const std::vector<Marker>& markers) = 0;
  // Reads the whole message for `entry`. kCorrupt when its bytes fail verification.
  virtual Status ReadMessage(const Entry& entry, Message* out) const = 0;
  // The entry was removed from the index; give back what holds it.
  virtual void ReleaseEntry(const Entry& entry) = 0;
  // After removals: a chance to drop or compact storage.
  virtual void AfterRemoval() {}
  // What an entry counts in bytes_: MessageSize() from its record length (40 + lengths).
  uint64_t Counted(const Entry& entry) const {
    uint64_t overhead = entry.headers ? MessageSize(0, 1, 0) - 1 : MessageSize(0, 0, 0);
    return overhead + entry.length - kRecordOverhead;
  }

  // --- used by implementations (mu_ held) ---
  // Adds a live entry at the end (recovery and Append). Sequences must increase.
  void IndexMessage(Entry entry, std::string_view subject);
  // Marks `seq` removed (tombstone replay); false when absent.
  bool RemoveSeq(uint64_t seq);
  // Removes everything below `floor` (floor replay and purges); returns how many messages.
  uint64_t RemoveBelow(uint64_t floor);
  // Removes messages to satisfy the limits and writes the markers for them. Per-subject
  // limits are checked for the newest message's subject, or for all with `every_subject`.
  Status EnforceLimits(bool include_count_limits, bool every_subject = false);
  void AddCorruption(CorruptionReport report);
  uint64_t FirstSeq() const;
  const std::string& SubjectOf(const Entry& entry) const {
    return subjects_[entry.subject_id].subject;
  }
  const Entry* FindEntry(uint64_t seq) const;
  Entry* FindEntry(uint64_t seq);

  mutable std::mutex mu_;
  RetentionLimits limits_;
  Clock clock_;
  std::deque<Entry> entries_;  // increasing seq; removed ones linger until they reach the front
  uint64_t last_seq_ = 0;
  int64_t last_ts_ = 0;
  uint64_t msgs_ = 0;
  uint64_t bytes_ = 0;
  mutable std::vector<CorruptionReport> corruption_;
  std::vector<CorruptRange> corrupt_ranges_;  // sorted by first_seq, disjoint
  std::vector<Marker> markers_;               // scratch, reused

 private:
  struct SubjectInfo {
    std::string subject;
    uint64_t msgs = 0;
    uint64_t first = 0;  // a lower bound of the first live seq (exact unless first_stale)
    uint64_t last = 0;   // an upper bound of the last live seq (exact unless last_stale)
    bool first_stale = false;
    bool last_stale = false;
  };
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  uint32_t InternSubject(std::string_view subject);
  void RemoveEntry(Entry& entry);
  void TrimFront();
  size_t LowerBound(uint64_t seq) const;  // index of the first entry with seq >= `seq`
  uint64_t SubjectFirst(uint32_t id) const;
  uint64_t SubjectLast(uint32_t id) const;
  const CorruptRange* CorruptRangeAtOrAfter(uint64_t seq) const;
  Status CheckDiscardNewLocked(std::string_view subject, uint64_t message_size) const;
  Status ReadLive(const Entry& entry, Message* out) const;
  // Fills `matches` (one slot per subject id) for `filter`; returns false for match-all.
  bool MatchSubjects(std::string_view filter, std::vector<char>* matches) const;

  mutable std::vector<SubjectInfo> subjects_;
  std::vector<uint32_t> free_subject_ids_;
  std::unordered_map<std::string, uint32_t, StringHash, std::equal_to<>> subject_ids_;
};

}  // namespace meridian::store

// FileStore: a Store in a directory of segment files (README.md has the byte layout and the
// recovery rules). Appends are written to the OS at once and made durable by a dedicated sync
// thread: with SyncPolicy::kAlways it starts an fdatasync as soon as anything is unsynced, and
// every append issued while one is in flight rides on the next (group commit). With kInterval
// it syncs on a timer. After a failed fsync the store refuses writes until reopened, because
// the kernel may have dropped the dirty pages.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <thread>

#include "store/file_io.h"
#include "store/indexed_store.h"
#include "store/segment.h"

namespace meridian::store {

enum class SyncPolicy { kAlways, kInterval };

struct FileStoreOptions {
  std::string directory;
  uint64_t segment_max_bytes = 8u << 20;  // roll to a new segment past this size
  uint64_t segment_max_records = 0;       // ... or this many records (0 = no limit)
  SyncPolicy sync = SyncPolicy::kAlways;
  std::chrono::milliseconds sync_interval{1000};  // for kInterval
  RetentionLimits limits;
  // A closed segment whose live bytes fall below this fraction of its size is rewritten.
  double compact_below_live_fraction = 0.5;
  // Write index.snap on a clean Close() and, on Open, load the index from it instead of
  // scanning when it matches the segments (same files, sizes and last bytes). Records are then
  // verified on read rather than all at open. Off by default: open verifies everything.
  bool index_snapshot = false;
  FileIo* io = nullptr;                 // nullptr = DefaultFileIo(); must outlive the store
  IndexedStore::Clock clock = nullptr;  // nullptr = system clock
};

struct SegmentInfo {
  std::string file;
  uint64_t size = 0;
  uint64_t records = 0;
  uint64_t live_msgs = 0;
};

class FileStore final : public IndexedStore {
 public:
  // Opens (or creates) the store in options.directory, recovering what is there.
  static Status Open(const FileStoreOptions& options, std::unique_ptr<FileStore>* out);
  ~FileStore() override;

  Status Append(std::string_view subject, std::string_view headers, std::string_view payload,
                const AppendOptions& options, uint64_t* seq) override;
  using Store::Append;
  uint64_t DurableSeq() const override;
  void WhenDurable(uint64_t seq, DurableCallback callback) override;
  Status Sync() override;
  void KickSync(bool inline_if_alone) override;
  Status Close() override;
  uint64_t MessageSize(size_t subject, size_t headers, size_t payload) const override {
    return FileStoreMsgSize(subject, headers, payload);
  }
  void BeginBatch() override;
  Status EndBatch() override;

  // Rewrites every closed segment that is mostly deleted, now.
  Status Compact();
  std::vector<SegmentInfo> Segments() const;
  uint64_t SyncCount() const;  // fdatasync rounds completed (group-commit evidence)
  // Bytes of partly written records cut off a torn tail during Open (a zero-filled torn record,
  // README.md rule 2, counts its whole length; reserved zeros alone count nothing).
  uint64_t TornBytesTruncated() const { return torn_bytes_; }
  // True when Open loaded the index from index.snap instead of scanning.
  bool OpenedFromSnapshot() const { return opened_from_snapshot_; }

 private:
  using Segment = FileStoreSegment;
  struct Waiter {
    uint64_t seq;
    DurableCallback callback;
  };

  explicit FileStore(const FileStoreOptions& options);

  Status CheckWritable() const override;
  Status WriteMessage(uint64_t seq, int64_t ts, std::string_view subject, std::string_view headers,
                      std::string_view payload, Entry* entry) override;
  Status WriteMarkers(const std::vector<Marker>& markers) override;
  Status ReadMessage(const Entry& entry, Message* out) const override;
  void ReleaseEntry(const Entry& entry) override;
  void AfterRemoval() override;

  // Recovery (file_store_recovery.cc).
  Status Recover();
  Status ScanSegment(const std::shared_ptr<Segment>& segment, bool is_last,
                     std::vector<uint64_t>* tombstones, uint64_t* floor);
  void ReportCorruption(const std::string& file, uint64_t offset, uint64_t length,
                        uint64_t first_seq, uint64_t last_seq, std::string reason);
  void SettlePendingCorruption(uint64_t next_msg_seq);

  // A corrupt region found while scanning; its sequence range is known once the next intact
  // message shows where the gap ends.
  struct PendingCorruption {
    std::string file;
    uint64_t offset;
    uint64_t length;
    uint64_t first_seq;   // the sequence after the last intact message before it
    uint64_t header_seq;  // the sequence its (intact) record header named, or 0
    std::string reason;
  };
  std::vector<PendingCorruption> pending_corruption_;
  uint64_t scan_last_msg_seq_ = 0;

  // Index snapshot (index_snapshot.cc).
  Status WriteIndexSnapshot();
  bool LoadIndexSnapshot(const std::vector<uint64_t>& indexes);
  std::string SnapshotPath() const { return options_.directory + "/index.snap"; }

  std::string SegmentPath(uint64_t index) const;
  Status CreateSegment(uint64_t index);
  // Writes write_buf_ to the active segment, rolling first if it would overflow.
  Status WriteBuffer(uint64_t records, uint64_t* offset);
  Status RollLocked();
  // Reserves space in the active segment up to at least `end` (see "Reserved space" in
  // README.md); a failure only turns reservation off.
  void ReserveLocked(uint64_t end);
  // Cuts the active segment's reserved zeros off (before it is sealed, at close).
  Status TrimReservedLocked();
  // Wakes the sync thread (kAlways) after a write; inside Append, only once the lock is
  // released (see Append).
  void WakeSyncLocked();
  bool reserve_space_ = true;
  Status RewriteSegment(Segment& segment);
  Status PersistFloorBeforeDroppingRecords();
  void SyncLoop();
  // One sync round (mu_ held through `lock`; released while syncing and while callbacks run):
  // fdatasync the active segment (and the directory when dirty), then run the callbacks of
  // the waiters now durable. Run by the sync thread, and by KickSync inline.
  void SyncRoundLocked(std::unique_lock<std::mutex>& lock);
  void FailLocked(Status status);

  FileStoreOptions options_;
  FileIo* io_;
  std::map<uint64_t, std::shared_ptr<Segment>> segments_;
  std::shared_ptr<Segment> active_;
  std::string write_buf_;         // reused encode buffer
  mutable std::string read_buf_;  // reused read buffer
  // Write batch (BeginBatch/EndBatch): records appended to the active segment at
  // [pending_offset_, pending_offset_ + pending_.size()) are still only here. active_->size
  // already counts them; write_gen_ and written_seq_ move when they are written.
  static constexpr size_t kBatchFlushBytes = 1 << 20;
  bool batching_ = false;
  std::string pending_;
  uint64_t pending_offset_ = 0;
  uint64_t pending_seq_ = 0;  // highest message sequence in pending_
  Status FlushPendingLocked();
  // Read-ahead for sequential readers (consumers, sources, mirrors): when a read starts where
  // the previous one ended, up to kReadAhead bytes of that segment are read at once and the
  // following records are served from them (still verified record by record). Segments are
  // append-only and a rewritten segment is a new object, so the window stays valid while
  // ra_segment_ is that segment.
  static constexpr size_t kReadAhead = 64 * 1024;
  mutable std::weak_ptr<Segment> ra_segment_;
  mutable std::string ra_buf_;
  mutable uint64_t ra_offset_ = 0;  // file offset of ra_buf_[0]
  mutable uint64_t last_end_ = 0;   // where the previous read ended
  mutable const Segment* last_segment_ = nullptr;
  uint64_t torn_bytes_ = 0;
  bool opened_from_snapshot_ = false;

  // Durability state, guarded by mu_.
  std::condition_variable sync_cv_;  // wakes the sync thread
  std::condition_variable done_cv_;  // wakes Sync() callers
  std::thread sync_thread_;
  uint64_t write_gen_ = 0;    // bumped by every write
  uint64_t synced_gen_ = 0;   // write_gen_ covered by the last completed sync
  uint64_t written_seq_ = 0;  // highest message sequence written
  uint64_t durable_seq_ = 0;
  uint64_t sync_count_ = 0;
  bool sync_requested_ = false;
  bool syncing_ = false;            // a round's fdatasync is in flight (either thread)
  uint64_t deferred_appends_ = 0;   // appends with defer_sync since the last KickSync
  bool dir_dirty_ = false;
  bool stopping_ = false;
  bool closed_ = false;
  Status failure_;              // sticky: set by a failed fsync or an unrepairable write
  std::deque<Waiter> waiters_;  // increasing seq
};

}  // namespace meridian::store

#include "store/file_store.h"

#include <algorithm>
#include <cstdio>

namespace meridian::store {
namespace {

// Set by FileStore::Append on the appending thread while it is inside IndexedStore::Append:
// the sync thread is then woken after the store lock is released, not while it is held (a
// thread woken under the lock would at once block on it again: one more context switch
// before the fdatasync starts).
enum class WakeMode { kNow, kAfterUnlock, kOnKick };
thread_local WakeMode t_wake_mode = WakeMode::kNow;
thread_local bool t_sync_wake_due = false;

// Space is reserved in steps that grow with the segment: 64 KiB .. 1 MiB beyond what is needed.
constexpr uint64_t kReserveMin = 64 * 1024;
constexpr uint64_t kReserveMax = 1024 * 1024;

}  // namespace

FileStore::FileStore(const FileStoreOptions& options)
    : IndexedStore(options.limits, options.clock),
      options_(options),
      io_(options.io != nullptr ? options.io : &DefaultFileIo()) {}

Status FileStore::Open(const FileStoreOptions& options, std::unique_ptr<FileStore>* out) {
  if (options.directory.empty()) {
    return Status(StatusCode::kInvalidArgument, "the file store needs a directory");
  }
  std::unique_ptr<FileStore> store(new FileStore(options));
  {
    std::lock_guard<std::mutex> lock(store->mu_);
    if (Status st = store->Recover(); !st.ok()) return st;
  }
  store->sync_thread_ = std::thread(&FileStore::SyncLoop, store.get());
  *out = std::move(store);
  return Status::Ok();
}

FileStore::~FileStore() {
  (void)Close();
}

std::string FileStore::SegmentPath(uint64_t index) const {
  char name[32];
  std::snprintf(name, sizeof(name), "%010llu.seg", static_cast<unsigned long long>(index));
  return options_.directory + "/" + name;
}

// ---------------------------------------------------------------- writing

Status FileStore::CheckWritable() const {
  if (closed_ || stopping_) return Status(StatusCode::kClosed, "the store is closed");
  if (!failure_.ok()) return failure_;
  return Status::Ok();
}

void FileStore::FailLocked(Status status) {
  if (!failure_.ok()) return;
  failure_ = Status(StatusCode::kFailed,
                    "the store in " + options_.directory +
                        " stopped accepting writes after: " + status.message() +
                        "; acknowledged messages are safe on disk; fix the disk and reopen");
}

Status FileStore::CreateSegment(uint64_t index) {
  auto segment = std::make_shared<Segment>(io_, index, SegmentPath(index));
  if (Status st = io_->Open(segment->path, true, &segment->fd); !st.ok()) return st;
  write_buf_.clear();
  segment->base_seq = last_seq_ + 1;
  EncodeSegmentHeader({index, segment->base_seq}, &write_buf_);
  Status st = io_->Truncate(segment->fd, 0);
  if (st.ok()) st = io_->WriteAt(segment->fd, write_buf_.data(), write_buf_.size(), 0);
  if (!st.ok()) {
    (void)io_->Remove(segment->path);
    return st;
  }
  segment->size = write_buf_.size();
  segment->allocated = segment->size;
  segments_[index] = segment;
  active_ = segment;
  dir_dirty_ = true;
  ++write_gen_;
  return Status::Ok();
}

Status FileStore::FlushPendingLocked() {
  if (pending_.empty()) return Status::Ok();
  ReserveLocked(pending_offset_ + pending_.size());
  Status st = io_->WriteAt(active_->fd, pending_.data(), pending_.size(), pending_offset_);
  if (!st.ok()) {
    // The batch's records are indexed but not (all) on file: stop the store; reopening
    // recovers what reached the file (the copier resumes from there).
    if (Status cut = io_->Truncate(active_->fd, pending_offset_); !cut.ok()) FailLocked(cut);
    active_->size = active_->allocated = pending_offset_;
    pending_.clear();
    pending_seq_ = 0;
    FailLocked(st);
    return failure_;
  }
  pending_.clear();
  if (pending_seq_ != 0) written_seq_ = pending_seq_;
  pending_seq_ = 0;
  ++write_gen_;
  WakeSyncLocked();
  return Status::Ok();
}

void FileStore::WakeSyncLocked() {
  if (options_.sync != SyncPolicy::kAlways) return;
  switch (t_wake_mode) {
    case WakeMode::kNow:
      sync_cv_.notify_one();
      break;
    case WakeMode::kAfterUnlock:
      t_sync_wake_due = true;
      break;
    case WakeMode::kOnKick:
      ++deferred_appends_;
      break;
  }
}

Status FileStore::Append(std::string_view subject, std::string_view headers,
                         std::string_view payload, const AppendOptions& options, uint64_t* seq) {
  t_wake_mode = options.defer_sync ? WakeMode::kOnKick : WakeMode::kAfterUnlock;
  t_sync_wake_due = false;
  Status st = IndexedStore::Append(subject, headers, payload, options, seq);
  t_wake_mode = WakeMode::kNow;
  // The new write_gen_ was set under the lock, and the sync thread checks it under the lock
  // before it waits, so a wake after the unlock is never lost.
  if (t_sync_wake_due) {
    t_sync_wake_due = false;
    sync_cv_.notify_one();
  }
  return st;
}

void FileStore::ReserveLocked(uint64_t end) {
  if (!reserve_space_ || active_ == nullptr || active_->allocated >= end) return;
  uint64_t step = std::clamp<uint64_t>(active_->size, kReserveMin, kReserveMax);
  uint64_t target = end + step;
  if (options_.segment_max_bytes != 0) {
    target = std::min(target, std::max(end, options_.segment_max_bytes));
  }
  target = (target + 4095) & ~uint64_t{4095};
  if (io_->Allocate(active_->fd, target).ok()) {
    active_->allocated = target;
  } else {
    // No fallocate here (or no space for the reserve): append without; a failed call may
    // still have lengthened the file, so the segment is trimmed when sealed.
    reserve_space_ = false;
    active_->allocated = std::max(active_->allocated, target);
  }
}

Status FileStore::TrimReservedLocked() {
  if (active_ == nullptr || active_->allocated <= active_->size) return Status::Ok();
  if (Status st = io_->Truncate(active_->fd, active_->size); !st.ok()) return st;
  active_->allocated = active_->size;
  return Status::Ok();
}

void FileStore::BeginBatch() {
  std::lock_guard<std::mutex> lock(mu_);
  batching_ = true;
}

Status FileStore::EndBatch() {
  std::lock_guard<std::mutex> lock(mu_);
  batching_ = false;
  return FlushPendingLocked();
}

Status FileStore::RollLocked() {
  if (Status st = FlushPendingLocked(); !st.ok()) return st;
  if (active_ != nullptr) {
    // The sealed segment is made durable before its successor exists, so after a crash only
    // the last segment can have a torn tail, or a tail of reserved zeros (cut off here).
    if (Status st = TrimReservedLocked(); !st.ok()) {
      FailLocked(st);
      return failure_;
    }
    if (Status st = io_->DataSync(active_->fd); !st.ok()) {
      FailLocked(st);
      return failure_;
    }
  }
  uint64_t index = segments_.empty() ? 1 : segments_.rbegin()->first + 1;
  return CreateSegment(index);
}

Status FileStore::WriteBuffer(uint64_t records, uint64_t* offset) {
  bool full = active_ != nullptr && active_->records > 0 &&
              ((options_.segment_max_bytes != 0 &&
                active_->size + write_buf_.size() > options_.segment_max_bytes) ||
               (options_.segment_max_records != 0 &&
                active_->records + records > options_.segment_max_records));
  if (active_ == nullptr || active_->corrupt || full) {
    std::string pending;
    pending.swap(write_buf_);  // CreateSegment encodes the header in write_buf_
    Status st = RollLocked();
    pending.swap(write_buf_);
    if (!st.ok()) return st;
  }
  *offset = active_->size;
  if (batching_) {
    if (pending_.empty()) pending_offset_ = *offset;
    pending_.append(write_buf_);
    active_->size += write_buf_.size();
    active_->records += records;
    if (pending_.size() >= kBatchFlushBytes) return FlushPendingLocked();
    return Status::Ok();
  }
  if (Status st = FlushPendingLocked(); !st.ok()) return st;
  ReserveLocked(*offset + write_buf_.size());
  Status st = io_->WriteAt(active_->fd, write_buf_.data(), write_buf_.size(), *offset);
  if (!st.ok()) {
    // Cut back whatever part of the record reached the file, so recovery never sees it.
    if (Status cut = io_->Truncate(active_->fd, *offset); !cut.ok()) {
      FailLocked(cut);
    } else {
      active_->allocated = *offset;
    }
    return st;
  }
  active_->size += write_buf_.size();
  active_->records += records;
  ++write_gen_;
  WakeSyncLocked();
  return Status::Ok();
}

Status FileStore::WriteMessage(uint64_t seq, int64_t ts, std::string_view subject,
                               std::string_view headers, std::string_view payload, Entry* entry) {
  write_buf_.clear();
  EncodeRecord(RecordType::kMessage, seq, ts, subject, headers, payload, &write_buf_);
  uint64_t offset = 0;
  if (Status st = WriteBuffer(1, &offset); !st.ok()) return st;
  entry->offset = offset;
  entry->length = static_cast<uint32_t>(write_buf_.size());
  entry->segment = static_cast<uint32_t>(active_->index);
  ++active_->live_msgs;
  active_->live_bytes += entry->length;
  if (batching_ && !pending_.empty()) {
    pending_seq_ = seq;
  } else {
    written_seq_ = seq;
  }
  return Status::Ok();
}

Status FileStore::WriteMarkers(const std::vector<Marker>& markers) {
  if (markers.empty()) return Status::Ok();
  write_buf_.clear();
  for (const Marker& m : markers) EncodeRecord(m.type, m.seq, clock_(), {}, {}, {}, &write_buf_);
  uint64_t offset = 0;
  if (Status st = WriteBuffer(markers.size(), &offset); !st.ok()) return st;
  for (const Marker& m : markers) {
    if (m.type != RecordType::kDelete) continue;
    active_->max_tombstone = std::max(active_->max_tombstone, m.seq);
    active_->tombstone_bytes += kRecordOverhead;
  }
  return Status::Ok();
}

// ---------------------------------------------------------------- reading

Status FileStore::ReadMessage(const Entry& entry, Message* out) const {
  if (closed_) return Status(StatusCode::kClosed, "the store is closed");
  auto it = segments_.find(entry.segment);
  if (it == segments_.end()) {
    return Status(StatusCode::kIoError, "segment " + std::to_string(entry.segment) +
                                            " holding message " + std::to_string(entry.seq) +
                                            " is gone from " + options_.directory);
  }
  const Segment& segment = *it->second;
  const char* record = nullptr;
  size_t got = 0;
  if (!pending_.empty() && it->second == active_ && entry.offset >= pending_offset_ &&
      entry.offset + entry.length <= pending_offset_ + pending_.size()) {
    // Appended in a batch and not written yet.
    record = pending_.data() + (entry.offset - pending_offset_);
    got = entry.length;
  }
  const bool sequential = last_segment_ == &segment && last_end_ == entry.offset;
  last_segment_ = &segment;
  last_end_ = entry.offset + entry.length;
  if (record != nullptr) {
    // served from pending_
  } else if (ra_segment_.lock() == it->second && entry.offset >= ra_offset_ &&
             entry.offset + entry.length <= ra_offset_ + ra_buf_.size()) {
    record = ra_buf_.data() + (entry.offset - ra_offset_);
    got = entry.length;
  } else if (sequential && entry.length < kReadAhead && segment.size > entry.offset) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(kReadAhead, segment.size - entry.offset));
    want = std::max<size_t>(want, entry.length);
    ra_buf_.resize(want);
    size_t have = 0;
    if (Status st = io_->ReadAt(segment.fd, ra_buf_.data(), want, entry.offset, &have); !st.ok()) {
      ra_segment_.reset();
      return st;
    }
    ra_buf_.resize(have);
    ra_offset_ = entry.offset;
    ra_segment_ = it->second;
    record = ra_buf_.data();
    got = std::min<size_t>(have, entry.length);
  } else {
    read_buf_.resize(entry.length);
    if (Status st = io_->ReadAt(segment.fd, read_buf_.data(), entry.length, entry.offset, &got);
        !st.ok()) {
      return st;
    }
    record = read_buf_.data();
  }
  RecordHeader header;
  bool header_valid = false;
  ParseOutcome outcome =
      ParseRecord(reinterpret_cast<const uint8_t*>(record), got, &header, &header_valid);
  if (outcome != ParseOutcome::kOk || header.type != RecordType::kMessage ||
      header.seq != entry.seq || header.record_size() != entry.length) {
    CorruptionReport report;
    report.file = segment.path;
    report.offset = entry.offset;
    report.length = entry.length;
    report.first_seq = report.last_seq = entry.seq;
    report.reason = "record failed verification on read";
    corruption_.push_back(report);
    return Status(StatusCode::kCorrupt,
                  "message " + std::to_string(entry.seq) + " in " + segment.path + " at offset " +
                      std::to_string(entry.offset) + " failed its checksum; repair this replica");
  }
  const char* body = record + kRecordHeaderSize;
  out->seq = header.seq;
  out->timestamp_ns = header.timestamp_ns;
  out->subject.assign(body, header.subject_len);
  out->headers.assign(body + header.subject_len, header.headers_len);
  out->payload.assign(body + header.subject_len + header.headers_len, header.payload_len);
  return Status::Ok();
}

// ---------------------------------------------------------------- removal and compaction

void FileStore::ReleaseEntry(const Entry& entry) {
  auto it = segments_.find(entry.segment);
  if (it == segments_.end()) return;
  --it->second->live_msgs;
  it->second->live_bytes -= entry.length;
}

Status FileStore::PersistFloorBeforeDroppingRecords() {
  // Dropped segments may hold the floor or tombstones that hide older records; restate the
  // floor durably in the active segment first.
  markers_.clear();
  markers_.push_back({RecordType::kFloor, FirstSeq()});
  if (Status st = WriteMarkers(markers_); !st.ok()) return st;
  if (Status st = FlushPendingLocked(); !st.ok()) return st;
  if (Status st = io_->DataSync(active_->fd); !st.ok()) {
    FailLocked(st);
    return failure_;
  }
  return Status::Ok();
}

void FileStore::AfterRemoval() {
  if (closed_ || !failure_.ok()) return;
  uint64_t first = FirstSeq();
  std::vector<std::shared_ptr<Segment>> drop, rewrite;
  for (auto& [index, segment] : segments_) {
    if (segment == active_ || segment->corrupt) continue;
    if (segment->live_msgs == 0 && segment->max_tombstone < first) {
      drop.push_back(segment);
    } else if (static_cast<double>(kSegmentHeaderSize + segment->live_bytes +
                                   segment->tombstone_bytes) <
               options_.compact_below_live_fraction * static_cast<double>(segment->size)) {
      rewrite.push_back(segment);
    }
  }
  if (drop.empty() && rewrite.empty()) return;
  if (!PersistFloorBeforeDroppingRecords().ok()) return;
  for (auto& segment : drop) {
    if (!io_->Remove(segment->path).ok()) continue;
    segments_.erase(segment->index);
    dir_dirty_ = true;
  }
  for (auto& segment : rewrite) (void)RewriteSegment(*segment);
}

Status FileStore::RewriteSegment(Segment& segment) {
  std::string data(segment.size, '\0');
  size_t got = 0;
  if (Status st = io_->ReadAt(segment.fd, data.data(), data.size(), 0, &got); !st.ok()) return st;
  uint64_t first = FirstSeq();
  std::string out;
  EncodeSegmentHeader({segment.index, segment.base_seq}, &out);
  std::vector<std::pair<uint64_t, uint64_t>> moved;  // seq, new offset
  auto replacement = std::make_shared<Segment>(io_, segment.index, segment.path);
  replacement->base_seq = segment.base_seq;
  const auto* p = reinterpret_cast<const uint8_t*>(data.data());
  for (uint64_t off = kSegmentHeaderSize; off < got;) {
    RecordHeader h;
    bool header_valid = false;
    if (ParseRecord(p + off, got - off, &h, &header_valid) != ParseOutcome::kOk) {
      segment.corrupt = true;  // changed under us: keep it as evidence, found again on open
      return Status(StatusCode::kCorrupt, segment.path + " changed on disk at offset " +
                                              std::to_string(off) + "; not compacting it");
    }
    size_t len = h.record_size();
    if (h.type == RecordType::kMessage) {
      const Entry* e = FindEntry(h.seq);
      if (e != nullptr && e->state != kRemoved && e->segment == segment.index && e->offset == off) {
        moved.emplace_back(h.seq, out.size());
        out.append(data, off, len);
        ++replacement->live_msgs;
        replacement->live_bytes += len;
        ++replacement->records;
      }
    } else if (h.type == RecordType::kDelete && h.seq >= first) {
      out.append(data, off, len);
      replacement->max_tombstone = std::max(replacement->max_tombstone, h.seq);
      replacement->tombstone_bytes += len;
      ++replacement->records;
    }
    off += len;
  }
  std::string tmp = segment.path + ".tmp";
  Status st = io_->Open(tmp, true, &replacement->fd);
  if (st.ok()) st = io_->Truncate(replacement->fd, 0);
  if (st.ok()) st = io_->WriteAt(replacement->fd, out.data(), out.size(), 0);
  if (st.ok()) st = io_->DataSync(replacement->fd);
  if (st.ok()) st = io_->Rename(tmp, segment.path);
  if (!st.ok()) {
    (void)io_->Remove(tmp);
    return st;
  }
  if (Status dir = io_->SyncDirectory(options_.directory); !dir.ok()) FailLocked(dir);
  replacement->size = out.size();
  for (auto [seq, offset] : moved) FindEntry(seq)->offset = offset;
  segments_[segment.index] = replacement;  // the old descriptor closes with its last owner
  return Status::Ok();
}

Status FileStore::Compact() {
  std::lock_guard<std::mutex> lock(mu_);
  if (Status st = CheckWritable(); !st.ok()) return st;
  std::vector<std::shared_ptr<Segment>> rewrite;
  for (auto& [index, segment] : segments_) {
    if (segment != active_ && !segment->corrupt &&
        kSegmentHeaderSize + segment->live_bytes + segment->tombstone_bytes < segment->size) {
      rewrite.push_back(segment);
    }
  }
  if (rewrite.empty()) return Status::Ok();
  if (Status st = PersistFloorBeforeDroppingRecords(); !st.ok()) return st;
  for (auto& segment : rewrite) {
    if (Status st = RewriteSegment(*segment); !st.ok()) return st;
  }
  return Status::Ok();
}

std::vector<SegmentInfo> FileStore::Segments() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<SegmentInfo> result;
  for (const auto& [index, segment] : segments_) {
    result.push_back({segment->path, segment->size, segment->records, segment->live_msgs});
  }
  return result;
}

// ---------------------------------------------------------------- durability

uint64_t FileStore::DurableSeq() const {
  std::lock_guard<std::mutex> lock(mu_);
  return durable_seq_;
}

uint64_t FileStore::SyncCount() const {
  std::lock_guard<std::mutex> lock(mu_);
  return sync_count_;
}

void FileStore::WhenDurable(uint64_t seq, DurableCallback callback) {
  Status status;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (seq > durable_seq_) {
      if (!failure_.ok()) {
        status = failure_;
      } else if (closed_ || stopping_) {
        status = Status(StatusCode::kClosed, "the store closed before the message was durable");
      } else {
        waiters_.push_back({seq, std::move(callback)});
        return;
      }
    }
  }
  callback(seq, status);
}

Status FileStore::Sync() {
  std::unique_lock<std::mutex> lock(mu_);
  if (Status st = CheckWritable(); !st.ok()) return st;
  if (Status st = FlushPendingLocked(); !st.ok()) return st;
  uint64_t target = write_gen_;
  if (synced_gen_ >= target && !dir_dirty_) return Status::Ok();
  sync_requested_ = true;
  sync_cv_.notify_one();
  done_cv_.wait(lock, [&] { return synced_gen_ >= target || !failure_.ok() || closed_; });
  return failure_.ok() ? Status::Ok() : failure_;
}

void FileStore::KickSync(bool inline_if_alone) {
  std::unique_lock<std::mutex> lock(mu_);
  if (deferred_appends_ == 0) return;
  const bool alone = deferred_appends_ == 1;
  deferred_appends_ = 0;
  if (inline_if_alone && alone && !syncing_ && failure_.ok() && !stopping_ && !closed_) {
    // One append and an idle sync thread: waking it, and it waking us back with the result,
    // would cost two thread hand-offs (each a context switch, tens of µs on a loaded
    // machine) around a single fdatasync.
    SyncRoundLocked(lock);
    return;
  }
  lock.unlock();
  sync_cv_.notify_one();
}

void FileStore::SyncRoundLocked(std::unique_lock<std::mutex>& lock) {
  if (failure_.ok() && (write_gen_ != synced_gen_ || dir_dirty_)) {
    uint64_t gen = write_gen_;
    uint64_t seq = written_seq_;
    // Sealed segments were synced when they were sealed; only the active one can be dirty.
    std::shared_ptr<Segment> active = active_;
    bool dir = dir_dirty_;
    dir_dirty_ = false;
    syncing_ = true;
    lock.unlock();
    Status st;
    if (active != nullptr) st = io_->DataSync(active->fd);
    if (st.ok() && dir) st = io_->SyncDirectory(options_.directory);
    lock.lock();
    syncing_ = false;
    ++sync_count_;
    if (st.ok()) {
      synced_gen_ = std::max(synced_gen_, gen);
      durable_seq_ = std::max(durable_seq_, seq);
    } else {
      FailLocked(st);
    }
    // Writes made meanwhile by threads that did not wake the sync thread (it does not start a
    // round while one is in flight) are its job now.
    if (options_.sync == SyncPolicy::kAlways && write_gen_ != synced_gen_) sync_cv_.notify_one();
  }
  std::vector<Waiter> ready;
  while (!waiters_.empty() && (waiters_.front().seq <= durable_seq_ || !failure_.ok())) {
    ready.push_back(std::move(waiters_.front()));
    waiters_.pop_front();
  }
  done_cv_.notify_all();
  if (!ready.empty()) {
    Status failure = failure_;
    uint64_t durable = durable_seq_;
    lock.unlock();
    for (Waiter& w : ready) w.callback(w.seq, w.seq <= durable ? Status::Ok() : failure);
    lock.lock();
  }
}

void FileStore::SyncLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    auto has_work = [&] {
      return stopping_ ||
             (!syncing_ &&
              (sync_requested_ || (options_.sync == SyncPolicy::kAlways && failure_.ok() &&
                                   (write_gen_ != synced_gen_ || dir_dirty_))));
    };
    if (options_.sync == SyncPolicy::kAlways) {
      sync_cv_.wait(lock, has_work);
    } else {
      sync_cv_.wait_for(lock, options_.sync_interval, has_work);
    }
    bool stop = stopping_;
    sync_requested_ = false;
    SyncRoundLocked(lock);
    if (stop) break;
  }
}

Status FileStore::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_ || stopping_) return Status::Ok();
    batching_ = false;
    if (failure_.ok() && active_ != nullptr) (void)FlushPendingLocked();
    stopping_ = true;
    sync_cv_.notify_one();
  }
  bool was_open = sync_thread_.joinable();  // false when Open failed part-way
  if (was_open) sync_thread_.join();
  std::deque<Waiter> orphans;
  Status result;
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    orphans.swap(waiters_);
    // The file ends where its records end (an index snapshot records that size). Not synced:
    // after a crash the reserved zeros may be back, and Open cuts them again.
    (void)TrimReservedLocked();
    result = failure_;
    if (result.ok() && was_open && options_.index_snapshot) result = WriteIndexSnapshot();
    active_.reset();
    segments_.clear();
    done_cv_.notify_all();
  }
  for (Waiter& w : orphans) {
    w.callback(w.seq,
               Status(StatusCode::kClosed, "the store closed before the message was durable"));
  }
  return result;
}

}  // namespace meridian::store

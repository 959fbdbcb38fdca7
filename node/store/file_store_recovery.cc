// FileStore::Open's recovery: scan every segment, verify every record, truncate a torn tail
// of the last segment, report (never serve, never silently drop) corruption elsewhere.
#include <algorithm>
#include <cstring>

#include "store/file_store.h"

namespace meridian::store {
namespace {

// The smallest unit a disk writes whole (or not at all); file offsets of sector boundaries
// are multiples of it (file system blocks are multiples of it too).
constexpr uint64_t kSectorSize = 512;

bool AllZero(const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (p[i] != 0) return false;
  }
  return true;
}

// The offset of the next whole, valid record at or after `from`, or `size` when none.
uint64_t FindNextRecord(const uint8_t* p, uint64_t size, uint64_t from) {
  const uint8_t magic[4] = {'M', 'R', 'C', '1'};
  for (uint64_t off = from; off + kRecordOverhead <= size; ++off) {
    const void* hit = std::memchr(p + off, magic[0], size - off);
    if (hit == nullptr) break;
    off = static_cast<uint64_t>(static_cast<const uint8_t*>(hit) - p);
    if (off + kRecordOverhead > size) break;
    if (std::memcmp(p + off, magic, 4) != 0) continue;
    RecordHeader h;
    bool header_valid = false;
    if (ParseRecord(p + off, size - off, &h, &header_valid) == ParseOutcome::kOk) return off;
  }
  return size;
}

// A record whose header checksum passed but whose record checksum did not, written into space
// the store had reserved when power was lost: at full length, but every byte from a sector
// boundary inside it to its end is zero (sectors that never reached the disk read as the
// reserve's zeros), and so is everything after it. A complete record damaged later (a flipped
// bit) ends in its nonzero record checksum, so it never matches: it stays corruption.
bool IsZeroFilledTornRecord(const uint8_t* p, uint64_t size, uint64_t off, uint64_t len) {
  const uint64_t end = off + len;
  if (end > size || !AllZero(p + end, size - end)) return false;
  uint64_t zeros_from = end;  // start of the run of zeros that ends the record
  while (zeros_from > off && p[zeros_from - 1] == 0) --zeros_from;
  const uint64_t sector = (zeros_from + kSectorSize - 1) / kSectorSize * kSectorSize;
  return sector > off && sector < end;
}

// The same power loss with the sector boundary inside the record's header: the header checksum
// fails, so the record's length is unknown, but every byte from that boundary to the end of the
// file is zero and the bytes before it begin with the record magic. A complete record would
// end in its nonzero record checksum somewhere past its header: there is none, so this record
// never reached the disk whole and was never acknowledged.
bool IsZeroFilledTornHeader(const uint8_t* p, uint64_t size, uint64_t off) {
  uint64_t zeros_from = size;
  while (zeros_from > off && p[zeros_from - 1] == 0) --zeros_from;
  const uint64_t sector = (zeros_from + kSectorSize - 1) / kSectorSize * kSectorSize;
  if (sector <= off || sector >= off + kRecordHeaderSize || sector > size) return false;
  uint8_t magic[4];
  for (int i = 0; i < 4; ++i) magic[i] = static_cast<uint8_t>(kRecordMagic >> (8 * i));
  const uint64_t present = std::min<uint64_t>(sector - off, sizeof magic);
  return std::equal(magic, magic + present, p + off);
}

bool ParseSegmentName(const std::string& name, uint64_t* index) {
  if (name.size() != 14 || name.substr(10) != ".seg") return false;
  uint64_t value = 0;
  for (size_t i = 0; i < 10; ++i) {
    if (name[i] < '0' || name[i] > '9') return false;
    value = value * 10 + static_cast<uint64_t>(name[i] - '0');
  }
  *index = value;
  return value != 0;
}

}  // namespace

void FileStore::ReportCorruption(const std::string& file, uint64_t offset, uint64_t length,
                                 uint64_t first_seq, uint64_t last_seq, std::string reason) {
  CorruptionReport report;
  report.file = file;
  report.offset = offset;
  report.length = length;
  report.first_seq = first_seq;
  report.last_seq = last_seq;
  report.reason = std::move(reason);
  AddCorruption(std::move(report));
}

void FileStore::SettlePendingCorruption(uint64_t next_msg_seq) {
  for (PendingCorruption& c : pending_corruption_) {
    uint64_t first = c.first_seq;
    uint64_t last =
        next_msg_seq == 0 ? std::max({first, c.header_seq, last_seq_}) : next_msg_seq - 1;
    if (last < first) first = last = 0;  // it held no message (markers only)
    ReportCorruption(c.file, c.offset, c.length, first, last, c.reason);
  }
  pending_corruption_.clear();
}

Status FileStore::Recover() {
  if (Status st = io_->CreateDirectories(options_.directory); !st.ok()) return st;
  std::vector<std::string> names;
  if (Status st = io_->ListDirectory(options_.directory, &names); !st.ok()) return st;
  std::vector<uint64_t> indexes;
  for (const std::string& name : names) {
    uint64_t index = 0;
    if (name.size() > 4 && name.compare(name.size() - 4, 4, ".tmp") == 0) {
      (void)io_->Remove(options_.directory + "/" + name);  // an unfinished compaction
    } else if (ParseSegmentName(name, &index)) {
      indexes.push_back(index);
    }
  }
  std::sort(indexes.begin(), indexes.end());

  if (options_.index_snapshot && LoadIndexSnapshot(indexes)) {
    opened_from_snapshot_ = true;
  } else {
    (void)io_->Remove(SnapshotPath());  // stale or unwanted: only a scan is authoritative now
    std::vector<uint64_t> tombstones;
    uint64_t floor = 0;
    for (size_t i = 0; i < indexes.size(); ++i) {
      auto segment = std::make_shared<Segment>(io_, indexes[i], SegmentPath(indexes[i]));
      if (Status st = io_->Open(segment->path, false, &segment->fd); !st.ok()) return st;
      segments_[segment->index] = segment;
      if (Status st = ScanSegment(segment, i + 1 == indexes.size(), &tombstones, &floor);
          !st.ok()) {
        return st;
      }
    }
    if (floor > 1) RemoveBelow(floor);
    for (uint64_t seq : tombstones) RemoveSeq(seq);
  }

  if (segments_.empty() || segments_.rbegin()->second->corrupt) {
    if (Status st = CreateSegment(segments_.empty() ? 1 : segments_.rbegin()->first + 1);
        !st.ok()) {
      return st;
    }
  } else {
    active_ = segments_.rbegin()->second;
  }
  // What we recovered may still sit only in the page cache of a process that was killed:
  // make it durable before serving it as such.
  for (auto& [index, segment] : segments_) {
    if (Status st = io_->DataSync(segment->fd); !st.ok()) return st;
  }
  if (Status st = io_->SyncDirectory(options_.directory); !st.ok()) return st;
  dir_dirty_ = false;
  synced_gen_ = write_gen_;
  written_seq_ = durable_seq_ = last_seq_;
  (void)EnforceLimits(limits_.discard == DiscardPolicy::kOld, /*every_subject=*/true);
  AfterRemoval();
  return Status::Ok();
}

Status FileStore::ScanSegment(const std::shared_ptr<Segment>& segment, bool is_last,
                              std::vector<uint64_t>* tombstones, uint64_t* floor) {
  uint64_t size = 0;
  if (Status st = io_->FileSize(segment->fd, &size); !st.ok()) return st;
  std::string data(size, '\0');
  size_t got = 0;
  if (Status st = io_->ReadAt(segment->fd, data.data(), size, 0, &got); !st.ok()) return st;
  size = got;
  const auto* p = reinterpret_cast<const uint8_t*>(data.data());

  SegmentHeader header;
  if (!DecodeSegmentHeader(p, size, &header)) {
    if (is_last && (size < kSegmentHeaderSize || AllZero(p, size))) {
      // Torn creation of the newest segment: nothing in it was ever acknowledged.
      torn_bytes_ += size;
      write_buf_.clear();
      segment->base_seq = last_seq_ + 1;
      EncodeSegmentHeader({segment->index, segment->base_seq}, &write_buf_);
      Status st = io_->Truncate(segment->fd, 0);
      if (st.ok()) st = io_->WriteAt(segment->fd, write_buf_.data(), write_buf_.size(), 0);
      if (!st.ok()) return st;
      segment->size = segment->allocated = write_buf_.size();
    } else {
      segment->corrupt = true;
      pending_corruption_.push_back({segment->path, 0, size, scan_last_msg_seq_ + 1, 0,
                                     "segment header is damaged (magic, version or checksum)"});
    }
    if (is_last) SettlePendingCorruption(0);
    return Status::Ok();
  }
  segment->base_seq = header.base_seq;
  if (header.base_seq > 0) last_seq_ = std::max(last_seq_, header.base_seq - 1);

  uint64_t off = kSegmentHeaderSize;
  while (off < size) {
    RecordHeader h;
    bool header_valid = false;
    ParseOutcome outcome = ParseRecord(p + off, size - off, &h, &header_valid);
    if (outcome == ParseOutcome::kOk) {
      uint64_t len = h.record_size();
      ++segment->records;
      if (h.type == RecordType::kMessage) {
        if (h.seq <= scan_last_msg_seq_) {
          segment->corrupt = true;
          ReportCorruption(segment->path, off, len, 0, 0,
                           "record with sequence " + std::to_string(h.seq) +
                               " is out of order (after " + std::to_string(scan_last_msg_seq_) +
                               ")");
        } else {
          SettlePendingCorruption(h.seq);
          scan_last_msg_seq_ = h.seq;
          Entry entry;
          entry.seq = h.seq;
          entry.timestamp_ns = h.timestamp_ns;
          entry.offset = off;
          entry.length = static_cast<uint32_t>(len);
          entry.headers = h.headers_len != 0 ? 1 : 0;
          entry.segment = static_cast<uint32_t>(segment->index);
          IndexMessage(entry,
                       std::string_view(data.data() + off + kRecordHeaderSize, h.subject_len));
          ++segment->live_msgs;
          segment->live_bytes += len;
        }
      } else if (h.type == RecordType::kDelete) {
        tombstones->push_back(h.seq);
        segment->max_tombstone = std::max(segment->max_tombstone, h.seq);
        segment->tombstone_bytes += len;
        last_seq_ = std::max(last_seq_, h.seq);
      } else {
        *floor = std::max(*floor, h.seq);
        if (h.seq > 0) last_seq_ = std::max(last_seq_, h.seq - 1);
      }
      off += len;
      continue;
    }
    if (is_last && outcome == ParseOutcome::kBadChecksum &&
        IsZeroFilledTornRecord(p, size, off, h.record_size())) {
      // The last write before a power loss, at full length in reserved space, with its tail
      // never reaching the disk (README.md, "Recovery rules", rule 2): never acknowledged.
      torn_bytes_ += h.record_size();
      if (Status st = io_->Truncate(segment->fd, off); !st.ok()) return st;
      size = off;
      break;
    }
    if (is_last && outcome == ParseOutcome::kBadHeader && IsZeroFilledTornHeader(p, size, off)) {
      // As above, with the tear inside the header (rule 2).
      uint64_t nonzero = size;
      while (nonzero > off && p[nonzero - 1] == 0) --nonzero;
      torn_bytes_ += nonzero - off;
      if (Status st = io_->Truncate(segment->fd, off); !st.ok()) return st;
      size = off;
      break;
    }
    uint64_t next = FindNextRecord(p, size, off + 1);
    if (next == size && is_last &&
        (outcome == ParseOutcome::kTruncated || AllZero(p + off, size - off))) {
      // A torn tail: the last write before a crash reached the file only in part. Zeros alone
      // are space the store had reserved (or a write that never reached the disk): cut off
      // too, but not counted as torn bytes.
      if (!AllZero(p + off, size - off)) torn_bytes_ += size - off;
      if (Status st = io_->Truncate(segment->fd, off); !st.ok()) return st;
      size = off;
      break;
    }
    segment->corrupt = true;
    const char* why = outcome == ParseOutcome::kBadChecksum ? "record checksum mismatch"
                      : outcome == ParseOutcome::kTruncated
                          ? "record cut short inside a sealed segment"
                          : "record header damaged";
    pending_corruption_.push_back(
        {segment->path, off, next - off, scan_last_msg_seq_ + 1, header_valid ? h.seq : 0, why});
    off = next;
  }
  segment->size = segment->allocated = size;
  if (is_last) SettlePendingCorruption(0);
  return Status::Ok();
}

}  // namespace meridian::store

// index.snap: the FileStore index saved at a clean Close(), so Open can skip the scan. Layout
// in README.md ("Index snapshot"). It is trusted only when every segment still matches it,
// and it is deleted as soon as it is loaded: after that, only a scan is authoritative.
#include <cstring>

#include "store/crc32c.h"
#include "store/file_store.h"

namespace meridian::store {
namespace {

constexpr char kSnapshotMagic[8] = {'M', 'E', 'R', 'I', 'D', 'I', 'D', 'X'};
constexpr uint32_t kSnapshotVersion = 2;  // 2: an entry's headers flag

class Writer {
 public:
  explicit Writer(std::string* out) : out_(out) {}
  void U8(uint8_t v) { out_->push_back(static_cast<char>(v)); }
  void U16(uint16_t v) { Int(v, 2); }
  void U32(uint32_t v) { Int(v, 4); }
  void U64(uint64_t v) { Int(v, 8); }
  void Str(const std::string& s) {
    U32(static_cast<uint32_t>(s.size()));
    out_->append(s);
  }

 private:
  void Int(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out_->push_back(static_cast<char>(v >> (8 * i)));
  }
  std::string* out_;
};

class Reader {
 public:
  Reader(const std::string& data, size_t end) : data_(data), end_(end) {}
  bool ok() const { return ok_; }
  uint8_t U8() { return static_cast<uint8_t>(Int(1)); }
  uint32_t U32() { return static_cast<uint32_t>(Int(4)); }
  uint64_t U64() { return Int(8); }
  std::string Str() {
    uint32_t n = U32();
    if (!ok_ || end_ - pos_ < n) {
      ok_ = false;
      return {};
    }
    std::string s = data_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  bool Skip(const char* expected, size_t n) {
    if (end_ - pos_ < n || std::memcmp(data_.data() + pos_, expected, n) != 0) ok_ = false;
    pos_ += ok_ ? n : 0;
    return ok_;
  }
  bool AtEnd() const { return pos_ == end_; }

 private:
  uint64_t Int(int n) {
    if (!ok_ || end_ - pos_ < static_cast<size_t>(n)) {
      ok_ = false;
      return 0;
    }
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(data_[pos_ + i]);
    pos_ += static_cast<size_t>(n);
    return v;
  }
  const std::string& data_;
  size_t end_;
  size_t pos_ = 0;
  bool ok_ = true;
};

// The last four bytes of a segment: the record CRC of its last record.
bool SegmentTail(FileIo* io, int fd, uint64_t size, uint32_t* tail) {
  *tail = 0;
  if (size < 4) return true;
  uint8_t b[4];
  size_t got = 0;
  if (!io->ReadAt(fd, b, 4, size - 4, &got).ok() || got != 4) return false;
  *tail = static_cast<uint32_t>(b[0] | (b[1] << 8) | (b[2] << 16)) | (uint32_t{b[3]} << 24);
  return true;
}

}  // namespace

Status FileStore::WriteIndexSnapshot() {
  std::string out;
  Writer w(&out);
  out.append(kSnapshotMagic, sizeof(kSnapshotMagic));
  w.U32(kSnapshotVersion);
  w.U64(last_seq_);
  w.U64(static_cast<uint64_t>(last_ts_));
  w.U32(static_cast<uint32_t>(segments_.size()));
  for (const auto& [index, segment] : segments_) {
    uint32_t tail = 0;
    if (!SegmentTail(io_, segment->fd, segment->size, &tail)) {
      return Status(StatusCode::kIoError, "cannot read the tail of " + segment->path);
    }
    w.U64(index);
    w.U64(segment->size);
    w.U32(tail);
    w.U64(segment->records);
    w.U64(segment->base_seq);
    w.U64(segment->tombstone_bytes);
    w.U64(segment->max_tombstone);
    w.U8(segment->corrupt ? 1 : 0);
  }
  uint64_t live = 0;
  for (const Entry& e : entries_) live += e.state != kRemoved;
  w.U64(live);
  for (const Entry& e : entries_) {
    if (e.state == kRemoved) continue;
    w.U64(e.seq);
    w.U64(static_cast<uint64_t>(e.timestamp_ns));
    w.U64(e.offset);
    w.U32(e.length);
    w.U32(e.segment);
    w.U8(e.state);
    w.U8(e.headers);
    w.Str(SubjectOf(e));
  }
  w.U32(static_cast<uint32_t>(corruption_.size()));
  for (const CorruptionReport& r : corruption_) {
    w.Str(r.file);
    w.U64(r.offset);
    w.U64(r.length);
    w.U64(r.first_seq);
    w.U64(r.last_seq);
    w.Str(r.reason);
  }
  w.U32(Crc32c(out.data(), out.size()));

  return WriteFileAtomic(*io_, SnapshotPath(), options_.directory, out);
}

bool FileStore::LoadIndexSnapshot(const std::vector<uint64_t>& indexes) {
  int fd = -1;
  if (!io_->Open(SnapshotPath(), false, &fd).ok()) return false;
  uint64_t size = 0;
  std::string data;
  size_t got = 0;
  bool read = io_->FileSize(fd, &size).ok() && size >= 12 && size < (uint64_t{1} << 34);
  if (read) {
    data.resize(size);
    read = io_->ReadAt(fd, data.data(), size, 0, &got).ok() && got == size;
  }
  (void)io_->Close(fd);
  // Whatever happens next, the snapshot describes only the state at the last clean close.
  (void)io_->Remove(SnapshotPath());
  if (!read) return false;
  const uint8_t* p = reinterpret_cast<const uint8_t*>(data.data());
  uint32_t crc = static_cast<uint32_t>(p[size - 4] | (p[size - 3] << 8) | (p[size - 2] << 16)) |
                 (uint32_t{p[size - 1]} << 24);
  if (crc != Crc32c(data.data(), size - 4)) return false;

  Reader r(data, size - 4);
  if (!r.Skip(kSnapshotMagic, sizeof(kSnapshotMagic)) || r.U32() != kSnapshotVersion) {
    return false;
  }
  uint64_t last_seq = r.U64();
  int64_t last_ts = static_cast<int64_t>(r.U64());
  uint32_t segment_count = r.U32();
  if (!r.ok() || segment_count != indexes.size()) return false;
  std::map<uint64_t, std::shared_ptr<Segment>> segments;
  for (uint32_t i = 0; i < segment_count; ++i) {
    auto segment = std::make_shared<Segment>(io_, r.U64(), "");
    uint64_t expected_size = r.U64();
    uint32_t expected_tail = r.U32();
    segment->records = r.U64();
    segment->base_seq = r.U64();
    segment->tombstone_bytes = r.U64();
    segment->max_tombstone = r.U64();
    segment->corrupt = r.U8() != 0;
    if (!r.ok() || segment->index != indexes[i]) return false;
    segment->path = SegmentPath(segment->index);
    if (!io_->Open(segment->path, false, &segment->fd).ok()) return false;
    uint64_t actual_size = 0;
    uint32_t actual_tail = 0;
    if (!io_->FileSize(segment->fd, &actual_size).ok() || actual_size != expected_size ||
        !SegmentTail(io_, segment->fd, actual_size, &actual_tail) || actual_tail != expected_tail) {
      return false;  // the segments changed since the snapshot: scan instead
    }
    segment->size = segment->allocated = actual_size;
    segments[segment->index] = segment;
  }
  uint64_t entry_count = r.U64();
  std::vector<std::pair<Entry, std::string>> entries;
  uint64_t previous = 0;
  for (uint64_t i = 0; i < entry_count && r.ok(); ++i) {
    Entry e;
    e.seq = r.U64();
    e.timestamp_ns = static_cast<int64_t>(r.U64());
    e.offset = r.U64();
    e.length = r.U32();
    e.segment = r.U32();
    e.state = r.U8();
    e.headers = r.U8() != 0 ? 1 : 0;
    std::string subject = r.Str();
    auto it = segments.find(e.segment);
    if (!r.ok() || e.seq <= previous || it == segments.end() ||
        e.offset + e.length > it->second->size || subject.empty()) {
      return false;
    }
    previous = e.seq;
    entries.emplace_back(e, std::move(subject));
  }
  uint32_t report_count = r.U32();
  std::vector<CorruptionReport> reports;
  for (uint32_t i = 0; i < report_count && r.ok(); ++i) {
    CorruptionReport report;
    report.file = r.Str();
    report.offset = r.U64();
    report.length = r.U64();
    report.first_seq = r.U64();
    report.last_seq = r.U64();
    report.reason = r.Str();
    reports.push_back(std::move(report));
  }
  if (!r.ok() || !r.AtEnd()) return false;

  segments_ = std::move(segments);
  for (auto& [entry, subject] : entries) {
    uint8_t state = entry.state;
    IndexMessage(entry, subject);
    if (state == kCorruptOnRead) entries_.back().state = kCorruptOnRead;
    Segment& segment = *segments_[entry.segment];
    ++segment.live_msgs;
    segment.live_bytes += entry.length;
  }
  for (CorruptionReport& report : reports) AddCorruption(std::move(report));
  last_seq_ = std::max(last_seq_, last_seq);
  last_ts_ = last_ts;
  return true;
}

}  // namespace meridian::store

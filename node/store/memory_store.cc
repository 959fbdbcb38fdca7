#include "store/memory_store.h"

namespace meridian::store {

MemoryStore::MemoryStore(const RetentionLimits& limits, Clock clock)
    : IndexedStore(limits, std::move(clock)) {}

uint64_t MemoryStore::DurableSeq() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_seq_;
}

void MemoryStore::WhenDurable(uint64_t seq, DurableCallback callback) {
  Status status;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) status = Status(StatusCode::kClosed, "the store is closed");
  }
  callback(seq, status);
}

Status MemoryStore::Sync() {
  return CheckWritable();
}

Status MemoryStore::Close() {
  std::lock_guard<std::mutex> lock(mu_);
  closed_ = true;
  return Status::Ok();
}

Status MemoryStore::CheckWritable() const {
  if (closed_) return Status(StatusCode::kClosed, "the store is closed; open a new one");
  return Status::Ok();
}

Status MemoryStore::WriteMessage(uint64_t seq, int64_t, std::string_view subject,
                                 std::string_view headers, std::string_view payload, Entry* entry) {
  Body& body = bodies_[seq];
  body.headers.assign(headers);
  body.payload.assign(payload);
  entry->length = static_cast<uint32_t>(StoredSize(subject, headers, payload));
  return Status::Ok();
}

Status MemoryStore::WriteMarkers(const std::vector<Marker>&) {
  return Status::Ok();
}

Status MemoryStore::ReadMessage(const Entry& entry, Message* out) const {
  auto it = bodies_.find(entry.seq);
  if (it == bodies_.end()) {
    return Status(StatusCode::kNotFound, "no message with sequence " + std::to_string(entry.seq));
  }
  out->seq = entry.seq;
  out->timestamp_ns = entry.timestamp_ns;
  out->subject = SubjectOf(entry);
  out->headers = it->second.headers;
  out->payload = it->second.payload;
  return Status::Ok();
}

void MemoryStore::ReleaseEntry(const Entry& entry) {
  bodies_.erase(entry.seq);
}

}  // namespace meridian::store

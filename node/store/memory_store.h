// MemoryStore: a Store held in process memory. Same behaviour as FileStore (the same typed
// test suite runs on both); everything is durable as soon as it is appended, in the sense
// that nothing more will ever make it safer.
#pragma once

#include <memory>
#include <unordered_map>

#include "store/indexed_store.h"

namespace meridian::store {

class MemoryStore final : public IndexedStore {
 public:
  explicit MemoryStore(const RetentionLimits& limits = {}, Clock clock = nullptr);

  uint64_t DurableSeq() const override;
  void WhenDurable(uint64_t seq, DurableCallback callback) override;
  Status Sync() override;
  Status Close() override;
  uint64_t MessageSize(size_t subject, size_t headers, size_t payload) const override {
    return MemoryStoreMsgSize(subject, headers, payload);
  }

 private:
  struct Body {
    std::string headers;
    std::string payload;
  };

  Status CheckWritable() const override;
  Status WriteMessage(uint64_t seq, int64_t ts, std::string_view subject, std::string_view headers,
                      std::string_view payload, Entry* entry) override;
  Status WriteMarkers(const std::vector<Marker>& markers) override;
  Status ReadMessage(const Entry& entry, Message* out) const override;
  void ReleaseEntry(const Entry& entry) override;

  std::unordered_map<uint64_t, Body> bodies_;
  bool closed_ = false;
};

}  // namespace meridian::store

#include "harness/ledger.h"

#include <set>

namespace meridian::harness {
namespace {

constexpr size_t kExamples = 8;

void Note(std::vector<std::string>& examples, const std::string& what) {
  if (examples.size() < kExamples) examples.push_back(what);
}

std::string Join(const std::vector<std::string>& items, size_t total) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + items[i];
  if (total > items.size()) out += ", ... (" + std::to_string(total) + " in all)";
  return out;
}

}  // namespace

void PublishLedger::Add(PublishRecord record) {
  std::lock_guard<std::mutex> lock(mu_);
  ++sent_[record.region];
  if (record.acked) ++acked_[record.region];
  records_.push_back(std::move(record));
}

std::vector<PublishRecord> PublishLedger::Records() const {
  std::lock_guard<std::mutex> lock(mu_);
  return records_;
}

size_t PublishLedger::Sent(const std::string& region) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sent_.find(region);
  return it == sent_.end() ? 0 : it->second;
}

size_t PublishLedger::Acked(const std::string& region) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = acked_.find(region);
  return it == acked_.end() ? 0 : it->second;
}

std::string ReadStreamTally::Problems() const {
  std::string out;
  auto add = [&](size_t n, const std::string& what, const std::vector<std::string>& ex) {
    if (n == 0) return;
    out += (out.empty() ? "" : "; ") + std::to_string(n) + " " + what + ": " + Join(ex, n);
  };
  add(missing_acked, "acknowledged messages missing", missing_examples);
  add(duplicates, "extra copies", duplicate_examples);
  add(unknown, "messages no publisher sent", unknown_examples);
  return out;
}

ReadStreamTally TallyReadStream(const std::vector<PublishRecord>& records,
                                const std::map<std::string, int>& count_of_id) {
  ReadStreamTally t;
  std::set<std::string> acked, sent;
  for (const auto& r : records) {
    sent.insert(r.id);
    if (r.acked) acked.insert(r.id);
  }
  for (const auto& [id, n] : count_of_id) {
    if (n <= 0) continue;
    if (!sent.count(id)) {
      t.unknown += static_cast<size_t>(n);
      Note(t.unknown_examples, id);
      continue;
    }
    if (acked.count(id)) {
      ++t.acked_present;
    } else {
      ++t.unacked_present;
    }
    if (n > 1) {
      t.duplicates += static_cast<size_t>(n - 1);
      Note(t.duplicate_examples, id + " x" + std::to_string(n));
    }
  }
  for (const auto& id : acked) {
    auto it = count_of_id.find(id);
    if (it == count_of_id.end() || it->second <= 0) {
      ++t.missing_acked;
      Note(t.missing_examples, id);
    }
  }
  return t;
}

}  // namespace meridian::harness

#include "store/indexed_store.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>

#include "store/subject_filter.h"

namespace meridian::store {

uint64_t StoredSize(std::string_view subject, std::string_view headers, std::string_view payload) {
  return kRecordOverhead + subject.size() + headers.size() + payload.size();
}

uint64_t FileStoreMsgSize(size_t subject, size_t headers, size_t payload) {
  // nats-server's record: length(4) + seq(8) + ts(8) + subject length(2) + subject
  // [+ headers length(4) + headers] + payload + hash(8).
  return (headers == 0 ? 30 : 34) + subject + headers + payload;
}

uint64_t MemoryStoreMsgSize(size_t subject, size_t headers, size_t payload) {
  return 16 + subject + headers + payload;  // nats-server: 8 each for seq and timestamp
}

Status Store::WaitDurable(uint64_t seq) {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  Status result;
  WhenDurable(seq, [&](uint64_t, const Status& status) {
    std::lock_guard<std::mutex> lock(mu);
    result = status;
    done = true;
    cv.notify_one();
  });
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return done; });
  return result;
}

IndexedStore::IndexedStore(const RetentionLimits& limits, Clock clock)
    : limits_(limits), clock_(std::move(clock)) {
  if (!clock_) {
    clock_ = [] {
      return std::chrono::duration_cast<std::chrono::nanoseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
          .count();
    };
  }
}

// ---------------------------------------------------------------- index maintenance

uint32_t IndexedStore::InternSubject(std::string_view subject) {
  auto it = subject_ids_.find(subject);
  if (it != subject_ids_.end()) return it->second;
  uint32_t id;
  if (!free_subject_ids_.empty()) {
    id = free_subject_ids_.back();
    free_subject_ids_.pop_back();
    subjects_[id] = SubjectInfo{};
  } else {
    id = static_cast<uint32_t>(subjects_.size());
    subjects_.emplace_back();
  }
  subjects_[id].subject = std::string(subject);
  subject_ids_.emplace(subjects_[id].subject, id);
  return id;
}

void IndexedStore::IndexMessage(Entry entry, std::string_view subject) {
  entry.subject_id = InternSubject(subject);
  entry.state = kLive;
  SubjectInfo& info = subjects_[entry.subject_id];
  if (info.msgs == 0) {
    info.first = entry.seq;
    info.first_stale = false;
  }
  info.last = entry.seq;
  info.last_stale = false;
  ++info.msgs;
  ++msgs_;
  bytes_ += Counted(entry);
  last_seq_ = std::max(last_seq_, entry.seq);
  last_ts_ = entry.timestamp_ns;
  entries_.push_back(entry);
}

size_t IndexedStore::LowerBound(uint64_t seq) const {
  if (entries_.empty() || seq <= entries_.front().seq) return 0;
  uint64_t guess = seq - entries_.front().seq;  // exact when there are no gaps
  if (guess < entries_.size() && entries_[guess].seq == seq) return guess;
  auto it = std::lower_bound(entries_.begin(), entries_.end(), seq,
                             [](const Entry& e, uint64_t s) { return e.seq < s; });
  return static_cast<size_t>(it - entries_.begin());
}

const IndexedStore::Entry* IndexedStore::FindEntry(uint64_t seq) const {
  size_t i = LowerBound(seq);
  if (i < entries_.size() && entries_[i].seq == seq) return &entries_[i];
  return nullptr;
}

IndexedStore::Entry* IndexedStore::FindEntry(uint64_t seq) {
  return const_cast<Entry*>(static_cast<const IndexedStore*>(this)->FindEntry(seq));
}

void IndexedStore::RemoveEntry(Entry& entry) {
  if (entry.state == kRemoved) return;
  entry.state = kRemoved;
  --msgs_;
  bytes_ -= Counted(entry);
  SubjectInfo& info = subjects_[entry.subject_id];
  if (--info.msgs == 0) {
    subject_ids_.erase(info.subject);
    info.subject.clear();
    info.subject.shrink_to_fit();
    free_subject_ids_.push_back(entry.subject_id);
  } else {
    if (entry.seq == info.first) info.first_stale = true;
    if (entry.seq == info.last) info.last_stale = true;
  }
  ReleaseEntry(entry);
}

void IndexedStore::TrimFront() {
  while (!entries_.empty() && entries_.front().state == kRemoved) entries_.pop_front();
}

bool IndexedStore::RemoveSeq(uint64_t seq) {
  Entry* entry = FindEntry(seq);
  if (entry == nullptr || entry->state == kRemoved) return false;
  RemoveEntry(*entry);
  TrimFront();
  return true;
}

uint64_t IndexedStore::RemoveBelow(uint64_t floor) {
  uint64_t removed = 0;
  for (Entry& entry : entries_) {
    if (entry.seq >= floor) break;
    if (entry.state != kRemoved) {
      RemoveEntry(entry);
      ++removed;
    }
  }
  TrimFront();
  while (!corrupt_ranges_.empty() && corrupt_ranges_.front().first_seq < floor) {
    if (corrupt_ranges_.front().last_seq >= floor) {
      corrupt_ranges_.front().first_seq = floor;
      break;
    }
    corrupt_ranges_.erase(corrupt_ranges_.begin());
  }
  last_seq_ = std::max(last_seq_, floor - 1);
  return removed;
}

uint64_t IndexedStore::FirstSeq() const {
  uint64_t first = entries_.empty() ? last_seq_ + 1 : entries_.front().seq;
  if (!corrupt_ranges_.empty()) first = std::min(first, corrupt_ranges_.front().first_seq);
  return first;
}

uint64_t IndexedStore::SubjectFirst(uint32_t id) const {
  SubjectInfo& info = subjects_[id];
  if (info.first_stale) {
    for (size_t i = LowerBound(info.first); i < entries_.size(); ++i) {
      if (entries_[i].state != kRemoved && entries_[i].subject_id == id) {
        info.first = entries_[i].seq;
        break;
      }
    }
    info.first_stale = false;
  }
  return info.first;
}

uint64_t IndexedStore::SubjectLast(uint32_t id) const {
  SubjectInfo& info = subjects_[id];
  if (info.last_stale) {
    for (size_t i = LowerBound(info.last + 1); i-- > 0;) {
      if (entries_[i].state != kRemoved && entries_[i].subject_id == id) {
        info.last = entries_[i].seq;
        break;
      }
    }
    info.last_stale = false;
  }
  return info.last;
}

void IndexedStore::AddCorruption(CorruptionReport report) {
  size_t index = corruption_.size();
  if (report.first_seq != 0 && report.last_seq >= report.first_seq) {
    CorruptRange range{report.first_seq, report.last_seq, index};
    auto it = std::lower_bound(
        corrupt_ranges_.begin(), corrupt_ranges_.end(), range,
        [](const CorruptRange& a, const CorruptRange& b) { return a.first_seq < b.first_seq; });
    corrupt_ranges_.insert(it, range);
    last_seq_ = std::max(last_seq_, report.last_seq);
  }
  corruption_.push_back(std::move(report));
}

const IndexedStore::CorruptRange* IndexedStore::CorruptRangeAtOrAfter(uint64_t seq) const {
  for (const CorruptRange& range : corrupt_ranges_) {
    if (range.last_seq >= seq) return &range;
  }
  return nullptr;
}

bool IndexedStore::MatchSubjects(std::string_view filter, std::vector<char>* matches) const {
  if (filter.empty() || filter == ">") return false;
  matches->assign(subjects_.size(), 0);
  for (size_t id = 0; id < subjects_.size(); ++id) {
    const SubjectInfo& info = subjects_[id];
    (*matches)[id] = info.msgs > 0 && SubjectMatchesFilter(filter, info.subject);
  }
  return true;
}

// ---------------------------------------------------------------- append and limits

Status IndexedStore::Append(std::string_view subject, std::string_view headers,
                            std::string_view payload, const AppendOptions& options, uint64_t* seq) {
  if (subject.empty() || subject.size() > kMaxSubjectBytes) {
    return Status(
        StatusCode::kInvalidArgument,
        "a message needs a subject of 1 to 65535 bytes; got " + std::to_string(subject.size()));
  }
  if (headers.size() + payload.size() > kMaxBodyBytes) {
    return Status(StatusCode::kInvalidArgument,
                  "headers plus payload exceed 64 MiB; split the message");
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (Status st = CheckWritable(); !st.ok()) return st;
  uint64_t next = options.seq != 0 ? options.seq : last_seq_ + 1;
  if (next <= last_seq_) {
    return Status(StatusCode::kInvalidArgument,
                  "sequence " + std::to_string(next) + " is not above the last sequence " +
                      std::to_string(last_seq_) + "; sequences only grow");
  }
  if (limits_.discard == DiscardPolicy::kNew) {
    if (Status st = CheckDiscardNewLocked(subject, headers.size() + payload.size()); !st.ok()) {
      return st;
    }
  }
  int64_t ts = options.timestamp_ns != 0 ? options.timestamp_ns : clock_();
  Entry entry;
  entry.seq = next;
  entry.timestamp_ns = ts;
  entry.headers = headers.empty() ? 0 : 1;
  if (Status st = WriteMessage(next, ts, subject, headers, payload, &entry); !st.ok()) return st;
  IndexMessage(entry, subject);
  *seq = next;
  // A failed marker write here is not the appender's problem: the message is stored, and
  // limits are enforced again on open, so the removals are redone after a restart.
  (void)EnforceLimits(limits_.discard == DiscardPolicy::kOld);
  return Status::Ok();
}

Status IndexedStore::CheckDiscardNew(std::string_view subject, uint64_t message_size) const {
  std::lock_guard<std::mutex> lock(mu_);
  return CheckDiscardNewLocked(subject, message_size);
}

Status IndexedStore::CheckDiscardNewLocked(std::string_view subject, uint64_t message_size) const {
  (void)subject;
  if (limits_.max_msgs != 0 && msgs_ + 1 > limits_.max_msgs) {
    return Status(StatusCode::kLimitReached, "maximum messages exceeded (" +
                                                 std::to_string(limits_.max_msgs) +
                                                 "); the stream discards new messages when full");
  }
  // nats-server 2.9.10's test: headers + payload only, and refused at max_bytes already.
  if (limits_.max_bytes != 0 && bytes_ + message_size >= limits_.max_bytes) {
    return Status(StatusCode::kLimitReached, "maximum bytes exceeded (" +
                                                 std::to_string(limits_.max_bytes) +
                                                 "); the stream discards new messages when full");
  }
  return Status::Ok();
}

Status IndexedStore::EnforceLimits(bool include_count_limits, bool every_subject) {
  markers_.clear();
  uint64_t floor = 0;
  auto first_live = [&]() -> const Entry* {
    for (const Entry& e : entries_) {
      if (e.state != kRemoved) return &e;
    }
    return nullptr;
  };
  auto trim_subject = [&](uint32_t id) {
    while (subjects_[id].msgs > limits_.max_msgs_per_subject) {
      uint64_t victim = SubjectFirst(id);
      const Entry* first = first_live();
      if (first != nullptr && first->seq == victim) {
        floor = victim + 1;
      } else {
        markers_.push_back({RecordType::kDelete, victim});
      }
      RemoveSeq(victim);
    }
  };
  if (limits_.max_msgs_per_subject != 0 && every_subject) {
    for (uint32_t id = 0; id < subjects_.size(); ++id) trim_subject(id);
  } else if (limits_.max_msgs_per_subject != 0 && !entries_.empty() &&
             entries_.back().subject_id != kNoSubject) {
    trim_subject(entries_.back().subject_id);  // only the subject just appended can be over
  }
  if (include_count_limits) {
    while (const Entry* first = first_live()) {
      bool over = (limits_.max_msgs != 0 && msgs_ > limits_.max_msgs) ||
                  (limits_.max_bytes != 0 && bytes_ > limits_.max_bytes);
      if (!over) break;
      floor = first->seq + 1;
      RemoveBelow(floor);
    }
  } else if (limits_.max_bytes != 0) {
    // Discard new: a message that passed CheckDiscardNew (headers + payload below the room
    // left) can still take bytes over max_bytes; nats-server then removes the oldest.
    while (const Entry* first = first_live()) {
      bool over = bytes_ > limits_.max_bytes;
      if (!over) break;
      floor = first->seq + 1;
      RemoveBelow(floor);
    }
  }
  if (limits_.max_age_ns != 0) {
    int64_t cutoff = clock_() - limits_.max_age_ns;
    while (const Entry* first = first_live()) {
      if (first->timestamp_ns > cutoff) break;
      floor = first->seq + 1;
      RemoveBelow(floor);
    }
  }
  if (floor != 0) markers_.push_back({RecordType::kFloor, FirstSeq()});
  if (markers_.empty()) return Status::Ok();
  Status st = WriteMarkers(markers_);
  AfterRemoval();
  return st;
}

Status IndexedStore::ExpireOld() {
  std::lock_guard<std::mutex> lock(mu_);
  if (Status st = CheckWritable(); !st.ok()) return st;
  if (limits_.max_age_ns == 0) return Status::Ok();
  markers_.clear();
  return EnforceLimits(false);
}

void IndexedStore::SetLimits(const RetentionLimits& limits) {
  std::lock_guard<std::mutex> lock(mu_);
  limits_ = limits;
  if (!CheckWritable().ok()) return;
  (void)EnforceLimits(limits_.discard == DiscardPolicy::kOld, /*every_subject=*/true);
}

// ---------------------------------------------------------------- reads

Status IndexedStore::ReadLive(const Entry& entry, Message* out) const {
  if (entry.state == kCorruptOnRead) {
    return Status(StatusCode::kCorrupt, "message " + std::to_string(entry.seq) +
                                            " failed its checksum; repair this replica");
  }
  Status st = ReadMessage(entry, out);
  if (st.code() == StatusCode::kCorrupt) const_cast<Entry&>(entry).state = kCorruptOnRead;
  return st;
}

Status IndexedStore::Load(uint64_t seq, Message* out) const {
  std::lock_guard<std::mutex> lock(mu_);
  const Entry* entry = FindEntry(seq);
  if (entry != nullptr && entry->state != kRemoved) return ReadLive(*entry, out);
  const CorruptRange* range = CorruptRangeAtOrAfter(seq);
  if (range != nullptr && range->first_seq <= seq) {
    const CorruptionReport& report = corruption_[range->report];
    return Status(StatusCode::kCorrupt, "message " + std::to_string(seq) +
                                            " lies in a corrupt region of " + report.file +
                                            " at offset " + std::to_string(report.offset) +
                                            "; repair this replica from its peers");
  }
  return Status(StatusCode::kNotFound, "no message with sequence " + std::to_string(seq));
}

Status IndexedStore::LoadNext(std::string_view filter, uint64_t start_seq, Message* out) const {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t start = std::max(start_seq, FirstSeq());
  size_t i = LowerBound(start);
  const Entry* found = nullptr;
  if (filter.empty() || filter == ">") {
    for (; i < entries_.size() && found == nullptr; ++i) {
      if (entries_[i].state != kRemoved) found = &entries_[i];
    }
  } else if (IsLiteralSubject(filter)) {
    auto it = subject_ids_.find(filter);
    if (it != subject_ids_.end() && SubjectLast(it->second) >= start) {
      uint32_t id = it->second;
      for (i = LowerBound(std::max(start, SubjectFirst(id))); i < entries_.size(); ++i) {
        if (entries_[i].state != kRemoved && entries_[i].subject_id == id) {
          found = &entries_[i];
          break;
        }
      }
    }
  } else {
    std::vector<char> matches;
    MatchSubjects(filter, &matches);
    for (; i < entries_.size(); ++i) {
      const Entry& e = entries_[i];
      if (e.state != kRemoved && matches[e.subject_id]) {
        found = &e;
        break;
      }
    }
  }
  // A corrupt region before the answer may hold matching messages: say so, never skip it.
  const CorruptRange* range = CorruptRangeAtOrAfter(start);
  if (range != nullptr && (found == nullptr || range->first_seq < found->seq)) {
    const CorruptionReport& report = corruption_[range->report];
    out->seq = range->last_seq;
    return Status(StatusCode::kCorrupt,
                  "sequences " + std::to_string(std::max(range->first_seq, start)) + " to " +
                      std::to_string(range->last_seq) + " lie in a corrupt region of " +
                      report.file + " at offset " + std::to_string(report.offset) +
                      "; continue after " + std::to_string(range->last_seq) +
                      " or repair this replica");
  }
  if (found == nullptr) {
    return Status(StatusCode::kNotFound, "no message matching \"" + std::string(filter) +
                                             "\" at or after sequence " +
                                             std::to_string(start_seq));
  }
  return ReadLive(*found, out);
}

Status IndexedStore::LoadLast(std::string_view filter, Message* out) const {
  std::lock_guard<std::mutex> lock(mu_);
  const Entry* found = nullptr;
  if (filter.empty() || filter == ">") {
    for (size_t i = entries_.size(); i-- > 0;) {
      if (entries_[i].state != kRemoved) {
        found = &entries_[i];
        break;
      }
    }
  } else {
    uint64_t best = 0;
    if (IsLiteralSubject(filter)) {
      auto it = subject_ids_.find(filter);
      if (it != subject_ids_.end()) best = SubjectLast(it->second);
    } else {
      for (uint32_t id = 0; id < subjects_.size(); ++id) {
        if (subjects_[id].msgs > 0 && SubjectMatchesFilter(filter, subjects_[id].subject)) {
          best = std::max(best, SubjectLast(id));
        }
      }
    }
    if (best != 0) found = FindEntry(best);
  }
  if (found == nullptr) {
    return Status(StatusCode::kNotFound,
                  "no message matching \"" + std::string(filter) + "\" is stored");
  }
  return ReadLive(*found, out);
}

// ---------------------------------------------------------------- removal

Status IndexedStore::Remove(uint64_t seq) {
  std::lock_guard<std::mutex> lock(mu_);
  if (Status st = CheckWritable(); !st.ok()) return st;
  Entry* entry = FindEntry(seq);
  if (entry == nullptr || entry->state == kRemoved) {
    const CorruptRange* range = CorruptRangeAtOrAfter(seq);
    if (range != nullptr && range->first_seq <= seq) {
      return Status(StatusCode::kCorrupt,
                    "message " + std::to_string(seq) +
                        " lies in a corrupt region; purge below a later sequence to drop it");
    }
    return Status(StatusCode::kNotFound, "no message with sequence " + std::to_string(seq));
  }
  markers_.clear();
  bool is_first = FirstSeq() == seq;
  markers_.push_back(
      {is_first ? RecordType::kFloor : RecordType::kDelete, is_first ? seq + 1 : seq});
  if (Status st = WriteMarkers(markers_); !st.ok()) return st;
  if (is_first) {
    RemoveBelow(seq + 1);
  } else {
    RemoveSeq(seq);
  }
  AfterRemoval();
  return Status::Ok();
}

Status IndexedStore::Purge(const PurgeRequest& request, uint64_t* purged) {
  *purged = 0;
  if (request.below_seq != 0 && request.keep != 0) {
    return Status(StatusCode::kInvalidArgument,
                  "purge takes either a sequence or a keep count, not both");
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (Status st = CheckWritable(); !st.ok()) return st;
  markers_.clear();
  std::vector<char> matches;
  bool filtered = MatchSubjects(request.filter, &matches);
  if (!filtered) {
    uint64_t floor = last_seq_ + 1;
    if (request.below_seq != 0) floor = std::min(request.below_seq, last_seq_ + 1);
    if (request.keep != 0) {
      if (msgs_ <= request.keep) return Status::Ok();
      uint64_t kept = 0;
      for (size_t i = entries_.size(); i-- > 0;) {
        if (entries_[i].state != kRemoved && ++kept == request.keep) {
          floor = entries_[i].seq;
          break;
        }
      }
    }
    if (floor <= FirstSeq()) return Status::Ok();
    markers_.push_back({RecordType::kFloor, floor});
    if (Status st = WriteMarkers(markers_); !st.ok()) return st;
    *purged = RemoveBelow(floor);
    AfterRemoval();
    return Status::Ok();
  }
  // Filtered: count per subject to honour `keep`, then tombstone each victim.
  std::vector<uint64_t> to_remove(subjects_.size(), 0);
  for (uint32_t id = 0; id < subjects_.size(); ++id) {
    if (!matches[id]) continue;
    to_remove[id] = subjects_[id].msgs > request.keep ? subjects_[id].msgs - request.keep : 0;
  }
  for (const Entry& e : entries_) {
    if (request.below_seq != 0 && e.seq >= request.below_seq) break;
    if (e.state == kRemoved || !matches[e.subject_id] || to_remove[e.subject_id] == 0) continue;
    --to_remove[e.subject_id];
    markers_.push_back({RecordType::kDelete, e.seq});
  }
  if (markers_.empty()) return Status::Ok();
  if (Status st = WriteMarkers(markers_); !st.ok()) return st;
  for (const Marker& m : markers_) {
    if (RemoveSeq(m.seq)) ++*purged;
  }
  AfterRemoval();
  return Status::Ok();
}

// ---------------------------------------------------------------- state

StoreState IndexedStore::State() const {
  std::lock_guard<std::mutex> lock(mu_);
  StoreState state;
  state.msgs = msgs_;
  state.bytes = bytes_;
  state.first_seq = FirstSeq();
  state.last_seq = last_seq_;
  state.last_ts = last_ts_;
  for (const Entry& e : entries_) {
    if (e.state != kRemoved) {
      state.first_ts = e.timestamp_ns;
      break;
    }
  }
  uint64_t corrupt = 0;
  for (const CorruptRange& r : corrupt_ranges_) corrupt += r.last_seq - r.first_seq + 1;
  uint64_t span = last_seq_ + 1 - state.first_seq;
  state.num_deleted = span > msgs_ + corrupt ? span - msgs_ - corrupt : 0;
  state.num_subjects = subject_ids_.size();
  state.corrupt_regions = corruption_.size();
  return state;
}

std::vector<SubjectState> IndexedStore::SubjectsState(std::string_view filter) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<SubjectState> result;
  for (uint32_t id = 0; id < subjects_.size(); ++id) {
    const SubjectInfo& info = subjects_[id];
    if (info.msgs == 0) continue;
    if (!filter.empty() && !SubjectMatchesFilter(filter, info.subject)) continue;
    result.push_back({info.subject, info.msgs, SubjectFirst(id), SubjectLast(id)});
  }
  std::sort(result.begin(), result.end(),
            [](const SubjectState& a, const SubjectState& b) { return a.subject < b.subject; });
  return result;
}

uint64_t IndexedStore::NumMessages(std::string_view filter) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (filter.empty() || filter == ">") return msgs_;
  if (IsLiteralSubject(filter)) {
    auto it = subject_ids_.find(filter);
    return it == subject_ids_.end() ? 0 : subjects_[it->second].msgs;
  }
  uint64_t n = 0;
  for (const SubjectInfo& info : subjects_) {
    if (info.msgs > 0 && SubjectMatchesFilter(filter, info.subject)) n += info.msgs;
  }
  return n;
}

std::vector<CorruptionReport> IndexedStore::Corruption() const {
  std::lock_guard<std::mutex> lock(mu_);
  return corruption_;
}

}  // namespace meridian::store

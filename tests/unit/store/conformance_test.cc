// One suite, run against MemoryStore and FileStore: both must behave the same.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>

#include "store/file_store.h"
#include "store/memory_store.h"
#include "test_support.h"

namespace meridian::store {
namespace {

using testing::TempDir;

struct FakeClock {
  std::shared_ptr<std::atomic<int64_t>> now = std::make_shared<std::atomic<int64_t>>(1'000'000'000);
  IndexedStore::Clock fn() const {
    auto n = now;
    return [n] { return n->load(); };
  }
};

struct MemoryFactory {
  TempDir dir;
  std::unique_ptr<Store> Make(const RetentionLimits& limits, const FakeClock& clock) {
    return std::make_unique<MemoryStore>(limits, clock.fn());
  }
};

struct FileFactory {
  TempDir dir;
  std::unique_ptr<Store> Make(const RetentionLimits& limits, const FakeClock& clock) {
    FileStoreOptions options;
    options.directory = dir.path();
    options.segment_max_bytes = 2048;  // small, so tests cross segment boundaries
    options.limits = limits;
    options.clock = clock.fn();
    std::unique_ptr<FileStore> store;
    Status st = FileStore::Open(options, &store);
    EXPECT_TRUE(st.ok()) << st.message();
    return store;
  }
};

template <typename Factory>
class StoreConformance : public ::testing::Test {
 protected:
  void Open(const RetentionLimits& limits = {}) {
    store_.reset();
    store_ = factory_.Make(limits, clock_);
  }
  void SetUp() override { Open(); }
  uint64_t Put(std::string_view subject, std::string_view payload = "data") {
    uint64_t seq = 0;
    Status st = store_->Append(subject, payload, &seq);
    EXPECT_TRUE(st.ok()) << st.message();
    return seq;
  }
  Status LoadStatus(uint64_t seq) {
    Message m;
    return store_->Load(seq, &m);
  }

  Factory factory_;
  FakeClock clock_;
  std::unique_ptr<Store> store_;
};

using Factories = ::testing::Types<MemoryFactory, FileFactory>;
TYPED_TEST_SUITE(StoreConformance, Factories);

TYPED_TEST(StoreConformance, AppendAssignsIncreasingSequencesFromOne) {
  EXPECT_EQ(this->Put("a"), 1u);
  EXPECT_EQ(this->Put("b"), 2u);
  EXPECT_EQ(this->Put("a"), 3u);
  StoreState s = this->store_->State();
  EXPECT_EQ(s.msgs, 3u);
  EXPECT_EQ(s.first_seq, 1u);
  EXPECT_EQ(s.last_seq, 3u);
  EXPECT_EQ(s.num_subjects, 2u);
}

TYPED_TEST(StoreConformance, LoadReturnsEveryFieldAppended) {
  uint64_t seq = 0;
  AppendOptions options;
  options.timestamp_ns = 777;
  ASSERT_TRUE(
      this->store_->Append("orders.new", "NATS/1.0\r\nA: b\r\n\r\n", "body", options, &seq).ok());
  Message m;
  ASSERT_TRUE(this->store_->Load(seq, &m).ok());
  EXPECT_EQ(m.seq, seq);
  EXPECT_EQ(m.timestamp_ns, 777);
  EXPECT_EQ(m.subject, "orders.new");
  EXPECT_EQ(m.headers, "NATS/1.0\r\nA: b\r\n\r\n");
  EXPECT_EQ(m.payload, "body");
}

TYPED_TEST(StoreConformance, LoadOfAnUnknownSequenceIsNotFound) {
  this->Put("a");
  EXPECT_EQ(this->LoadStatus(2).code(), StatusCode::kNotFound);
  EXPECT_EQ(this->LoadStatus(0).code(), StatusCode::kNotFound);
}

TYPED_TEST(StoreConformance, ExplicitSequenceSkipsAndNeverGoesBack) {
  this->Put("a");
  uint64_t seq = 0;
  AppendOptions options;
  options.seq = 10;
  ASSERT_TRUE(this->store_->Append("a", {}, "x", options, &seq).ok());
  EXPECT_EQ(seq, 10u);
  EXPECT_EQ(this->store_->State().num_deleted, 8u);
  options.seq = 5;
  EXPECT_EQ(this->store_->Append("a", {}, "x", options, &seq).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(this->Put("a"), 11u);
}

TYPED_TEST(StoreConformance, RejectsEmptySubject) {
  uint64_t seq = 0;
  EXPECT_EQ(this->store_->Append("", "x", &seq).code(), StatusCode::kInvalidArgument);
}

TYPED_TEST(StoreConformance, RemoveOfInteriorMessageCountsAsDeleted) {
  this->Put("a");
  this->Put("a");
  this->Put("a");
  ASSERT_TRUE(this->store_->Remove(2).ok());
  EXPECT_EQ(this->LoadStatus(2).code(), StatusCode::kNotFound);
  StoreState s = this->store_->State();
  EXPECT_EQ(s.msgs, 2u);
  EXPECT_EQ(s.num_deleted, 1u);
  EXPECT_EQ(this->store_->Remove(2).code(), StatusCode::kNotFound);
}

TYPED_TEST(StoreConformance, RemoveOfFirstMessageAdvancesFirstSeq) {
  this->Put("a");
  this->Put("b");
  ASSERT_TRUE(this->store_->Remove(1).ok());
  EXPECT_EQ(this->store_->State().first_seq, 2u);
  EXPECT_EQ(this->store_->State().num_deleted, 0u);
}

TYPED_TEST(StoreConformance, LoadNextFollowsLiteralAndWildcardFilters) {
  this->Put("a.1");  // 1
  this->Put("b.1");  // 2
  this->Put("a.2");  // 3
  this->Put("b.2");  // 4
  Message m;
  ASSERT_TRUE(this->store_->LoadNext("b.2", 1, &m).ok());
  EXPECT_EQ(m.seq, 4u);
  ASSERT_TRUE(this->store_->LoadNext("a.*", 2, &m).ok());
  EXPECT_EQ(m.seq, 3u);
  ASSERT_TRUE(this->store_->LoadNext(">", 2, &m).ok());
  EXPECT_EQ(m.seq, 2u);
  EXPECT_EQ(this->store_->LoadNext("a.*", 4, &m).code(), StatusCode::kNotFound);
  EXPECT_EQ(this->store_->LoadNext("c", 1, &m).code(), StatusCode::kNotFound);
}

TYPED_TEST(StoreConformance, LoadLastFindsNewestPerSubjectAndFilter) {
  this->Put("kv.x", "1");
  this->Put("kv.y", "2");
  this->Put("kv.x", "3");
  Message m;
  ASSERT_TRUE(this->store_->LoadLast("kv.x", &m).ok());
  EXPECT_EQ(m.payload, "3");
  ASSERT_TRUE(this->store_->LoadLast("kv.y", &m).ok());
  EXPECT_EQ(m.seq, 2u);
  ASSERT_TRUE(this->store_->LoadLast("kv.*", &m).ok());
  EXPECT_EQ(m.seq, 3u);
  ASSERT_TRUE(this->store_->Remove(3).ok());
  ASSERT_TRUE(this->store_->LoadLast("kv.x", &m).ok());
  EXPECT_EQ(m.seq, 1u);
  EXPECT_EQ(this->store_->LoadLast("kv.z", &m).code(), StatusCode::kNotFound);
}

TYPED_TEST(StoreConformance, SubjectsStateCountsPerSubjectWithFilter) {
  this->Put("a.1");
  this->Put("a.2");
  this->Put("a.1");
  this->Put("b.1");
  auto all = this->store_->SubjectsState("");
  ASSERT_EQ(all.size(), 3u);
  auto a = this->store_->SubjectsState("a.*");
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].subject, "a.1");
  EXPECT_EQ(a[0].msgs, 2u);
  EXPECT_EQ(a[0].first_seq, 1u);
  EXPECT_EQ(a[0].last_seq, 3u);
  EXPECT_EQ(this->store_->NumMessages("a.>"), 3u);
  EXPECT_EQ(this->store_->NumMessages("b.1"), 1u);
}

TYPED_TEST(StoreConformance, MaxMsgsDiscardsTheOldest) {
  RetentionLimits limits;
  limits.max_msgs = 3;
  this->Open(limits);
  for (int i = 0; i < 5; ++i) this->Put("a");
  StoreState s = this->store_->State();
  EXPECT_EQ(s.msgs, 3u);
  EXPECT_EQ(s.first_seq, 3u);
  EXPECT_EQ(s.last_seq, 5u);
}

TYPED_TEST(StoreConformance, MaxBytesDiscardsTheOldest) {
  this->Open();
  RetentionLimits limits;
  limits.max_bytes = 3 * this->store_->MessageSize(1, 0, 10);
  this->Open(limits);
  for (int i = 0; i < 5; ++i) this->Put("a", "0123456789");
  StoreState s = this->store_->State();
  EXPECT_EQ(s.msgs, 3u);
  EXPECT_EQ(s.bytes, limits.max_bytes);
  EXPECT_EQ(s.first_seq, 3u);
}

TYPED_TEST(StoreConformance, MaxAgeExpiresOldMessages) {
  RetentionLimits limits;
  limits.max_age_ns = 1000;
  this->Open(limits);
  this->Put("a");
  this->Put("a");
  *this->clock_.now += 600;
  this->Put("a");
  *this->clock_.now += 600;
  ASSERT_TRUE(this->store_->ExpireOld().ok());
  StoreState s = this->store_->State();
  EXPECT_EQ(s.msgs, 1u);
  EXPECT_EQ(s.first_seq, 3u);
}

TYPED_TEST(StoreConformance, MaxMsgsPerSubjectKeepsTheNewestOfEachSubject) {
  RetentionLimits limits;
  limits.max_msgs_per_subject = 1;
  this->Open(limits);
  this->Put("kv.a", "1");  // 1
  this->Put("kv.b", "2");  // 2
  this->Put("kv.a", "3");  // 3 replaces 1
  this->Put("kv.b", "4");  // 4 replaces 2
  StoreState s = this->store_->State();
  EXPECT_EQ(s.msgs, 2u);
  EXPECT_EQ(this->LoadStatus(1).code(), StatusCode::kNotFound);
  EXPECT_EQ(this->LoadStatus(2).code(), StatusCode::kNotFound);
  Message m;
  ASSERT_TRUE(this->store_->LoadLast("kv.a", &m).ok());
  EXPECT_EQ(m.payload, "3");
}

TYPED_TEST(StoreConformance, LoweringLimitsAppliesThemToWhatIsStored) {
  for (int i = 0; i < 4; ++i) {
    this->Put("x");
    this->Put("y");
  }
  RetentionLimits limits;
  limits.max_msgs_per_subject = 2;
  this->store_->SetLimits(limits);
  EXPECT_EQ(this->store_->NumMessages("x"), 2u);
  EXPECT_EQ(this->store_->NumMessages("y"), 2u);
  limits.max_msgs = 3;
  this->store_->SetLimits(limits);
  EXPECT_EQ(this->store_->State().msgs, 3u);
  EXPECT_EQ(this->store_->State().first_seq, 6u);
}

// nats-server 2.9.10's figures for one message: file 30 + subject + payload (34 + subject +
// headers + payload with headers), memory 16 + subject + headers + payload.
TYPED_TEST(StoreConformance, BytesCountNatsServerMessageSizes) {
  this->Open();
  bool file = this->store_->MessageSize(1, 0, 10) == 41;
  EXPECT_EQ(this->store_->MessageSize(1, 0, 10), file ? 41u : 27u);
  EXPECT_EQ(this->store_->MessageSize(1, 18, 10), file ? 63u : 45u);
  uint64_t seq = 0;
  ASSERT_TRUE(this->store_->Append("a", "0123456789", &seq).ok());
  ASSERT_TRUE(this->store_->Append("b", "NATS/1.0\r\nX: y\r\n\r\n", "0123456789", {}, &seq).ok());
  uint64_t want = this->store_->MessageSize(1, 0, 10) + this->store_->MessageSize(1, 18, 10);
  EXPECT_EQ(this->store_->State().bytes, want);
  ASSERT_TRUE(this->store_->Remove(1).ok());
  EXPECT_EQ(this->store_->State().bytes, this->store_->MessageSize(1, 18, 10));
}

// As nats-server 2.9.10: discard new refuses when bytes + headers + payload >= max_bytes; a
// message that passes yet takes bytes over the limit makes the oldest go.
TYPED_TEST(StoreConformance, DiscardNewMaxBytesAsNatsServer) {
  this->Open();
  uint64_t one = this->store_->MessageSize(1, 0, 10);
  RetentionLimits limits;
  limits.max_bytes = one + 10;  // room for one record; a second's payload reaches max_bytes
  limits.discard = DiscardPolicy::kNew;
  this->Open(limits);
  uint64_t seq = 0;
  ASSERT_TRUE(this->store_->Append("a", "0123456789", &seq).ok());
  EXPECT_EQ(this->store_->CheckDiscardNew("a", 10).code(), StatusCode::kLimitReached);
  EXPECT_TRUE(this->store_->CheckDiscardNew("a", 9).ok());
  EXPECT_EQ(this->store_->Append("a", "0123456789", &seq).code(), StatusCode::kLimitReached);
  // 9 bytes pass the check, and the record pushes the stream over: the first one goes.
  ASSERT_TRUE(this->store_->Append("a", "012345678", &seq).ok());
  StoreState s = this->store_->State();
  EXPECT_EQ(s.msgs, 1u);
  EXPECT_EQ(s.first_seq, 2u);
  EXPECT_EQ(s.bytes, this->store_->MessageSize(1, 0, 9));
}

TYPED_TEST(StoreConformance, DiscardNewRefusesOnceFull) {
  RetentionLimits limits;
  limits.max_msgs = 2;
  limits.discard = DiscardPolicy::kNew;
  this->Open(limits);
  this->Put("a");
  EXPECT_TRUE(this->store_->CheckDiscardNew("a", 50).ok());
  this->Put("a");
  EXPECT_EQ(this->store_->CheckDiscardNew("a", 50).code(), StatusCode::kLimitReached);
  uint64_t seq = 0;
  EXPECT_EQ(this->store_->Append("a", "x", &seq).code(), StatusCode::kLimitReached);
  EXPECT_EQ(this->store_->State().msgs, 2u);
  EXPECT_EQ(this->store_->State().last_seq, 2u);
}

TYPED_TEST(StoreConformance, PurgeAllEmptiesButKeepsTheLastSequence) {
  for (int i = 0; i < 10; ++i) this->Put("a");
  uint64_t purged = 0;
  ASSERT_TRUE(this->store_->Purge({}, &purged).ok());
  EXPECT_EQ(purged, 10u);
  StoreState s = this->store_->State();
  EXPECT_EQ(s.msgs, 0u);
  EXPECT_EQ(s.first_seq, 11u);
  EXPECT_EQ(s.last_seq, 10u);
  EXPECT_EQ(this->Put("a"), 11u);
}

TYPED_TEST(StoreConformance, PurgeBySubjectWildcardRemovesOnlyMatches) {
  this->Put("a.1");
  this->Put("b.1");
  this->Put("a.2");
  uint64_t purged = 0;
  PurgeRequest request;
  request.filter = "a.*";
  ASSERT_TRUE(this->store_->Purge(request, &purged).ok());
  EXPECT_EQ(purged, 2u);
  EXPECT_EQ(this->store_->State().msgs, 1u);
  EXPECT_TRUE(this->LoadStatus(2).ok());
}

TYPED_TEST(StoreConformance, PurgeKeepLeavesTheNewest) {
  for (int i = 0; i < 10; ++i) this->Put("a");
  uint64_t purged = 0;
  PurgeRequest request;
  request.keep = 3;
  ASSERT_TRUE(this->store_->Purge(request, &purged).ok());
  EXPECT_EQ(purged, 7u);
  EXPECT_EQ(this->store_->State().first_seq, 8u);
}

TYPED_TEST(StoreConformance, PurgeKeepWithFilterKeepsPerSubject) {
  for (int i = 0; i < 3; ++i) {
    this->Put("k.a");
    this->Put("k.b");
    this->Put("other");
  }
  uint64_t purged = 0;
  PurgeRequest request;
  request.filter = "k.*";
  request.keep = 1;
  ASSERT_TRUE(this->store_->Purge(request, &purged).ok());
  EXPECT_EQ(purged, 4u);
  EXPECT_EQ(this->store_->NumMessages("k.a"), 1u);
  EXPECT_EQ(this->store_->NumMessages("k.b"), 1u);
  EXPECT_EQ(this->store_->NumMessages("other"), 3u);
}

TYPED_TEST(StoreConformance, PurgeBelowSequenceRemovesEarlierOnes) {
  for (int i = 0; i < 10; ++i) this->Put("a");
  uint64_t purged = 0;
  PurgeRequest request;
  request.below_seq = 6;
  ASSERT_TRUE(this->store_->Purge(request, &purged).ok());
  EXPECT_EQ(purged, 5u);
  EXPECT_EQ(this->store_->State().first_seq, 6u);
}

TYPED_TEST(StoreConformance, PurgeRefusesSequenceAndKeepTogether) {
  uint64_t purged = 0;
  PurgeRequest request;
  request.below_seq = 2;
  request.keep = 1;
  EXPECT_EQ(this->store_->Purge(request, &purged).code(), StatusCode::kInvalidArgument);
}

TYPED_TEST(StoreConformance, WhenDurableReportsSuccess) {
  uint64_t seq = this->Put("a");
  EXPECT_TRUE(this->store_->WaitDurable(seq).ok());
  EXPECT_GE(this->store_->DurableSeq(), seq);
}

TYPED_TEST(StoreConformance, ClosedStoreRefusesAppends) {
  ASSERT_TRUE(this->store_->Close().ok());
  uint64_t seq = 0;
  EXPECT_EQ(this->store_->Append("a", "x", &seq).code(), StatusCode::kClosed);
}

}  // namespace
}  // namespace meridian::store

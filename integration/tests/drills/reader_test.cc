// The drills' stream reader: which deliveries it takes. It reads one replica's copy with an
// ephemeral consumer, deleting consumers that landed elsewhere; a deleted consumer can still
// deliver (from its own replica's copy) after the reader drained it, so only the reading
// consumer's deliveries may count.
#include <gtest/gtest.h>

#include "drill_world.h"

namespace meridian::drills {
namespace {

TEST(DrillReader, TakesTheStreamSequenceOfItsOwnConsumersDelivery) {
  EXPECT_EQ(StreamSeqOfDelivery("$JS.ACK.foo-read-central.rdr2.1.32.32.1763900000000000000.7",
                                "rdr2"),
            32u);
  // v2 form (nats-server 2.10+): domain and account hash before the stream, a token after.
  EXPECT_EQ(StreamSeqOfDelivery(
                "$JS.ACK._.ACCHASH.foo-read-central.rdr2.1.32.31.1763900000000000000.7.r1",
                "rdr2"),
            32u);
}

TEST(DrillReader, IgnoresADeliveryOfAnotherConsumer) {
  // What a consumer deleted because it ran on another replica can still deliver.
  EXPECT_EQ(StreamSeqOfDelivery("$JS.ACK.foo-read-central.other.1.32.32.1763900000000000000.7",
                                "rdr2"),
            0u);
  EXPECT_EQ(StreamSeqOfDelivery(
                "$JS.ACK._.ACCHASH.foo-read-central.other.1.32.31.1763900000000000000.7.r1",
                "rdr2"),
            0u);
}

TEST(DrillReader, IgnoresWhatIsNotAStoredMessage) {
  EXPECT_EQ(StreamSeqOfDelivery(nullptr, "rdr2"), 0u);
  EXPECT_EQ(StreamSeqOfDelivery("_INBOX.abc.1", "rdr2"), 0u);
  EXPECT_EQ(StreamSeqOfDelivery("$JS.FC.foo-read-central.rdr2.x", "rdr2"), 0u);
  EXPECT_EQ(StreamSeqOfDelivery("$JS.ACK.foo-read-central.rdr2.1.x.32.1.7", "rdr2"), 0u);
  EXPECT_EQ(StreamSeqOfDelivery("$JS.ACK.foo-read-central.rdr2.1.32", "rdr2"), 0u);
}

}  // namespace
}  // namespace meridian::drills

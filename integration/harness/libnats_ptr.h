// Owning pointers for the NATS C client's (libnats) connection, subscription and message, for
// tests that use libnats directly. Header only: the including target links libnats.
#pragma once

#include <nats/nats.h>

#include <memory>

namespace meridian::harness {

struct NatsConnectionDeleter {
  void operator()(natsConnection* c) const { natsConnection_Destroy(c); }
};
struct NatsSubscriptionDeleter {
  void operator()(natsSubscription* s) const { natsSubscription_Destroy(s); }
};
struct NatsMsgDeleter {
  void operator()(natsMsg* m) const { natsMsg_Destroy(m); }
};
using Nc = std::unique_ptr<natsConnection, NatsConnectionDeleter>;
using Sub = std::unique_ptr<natsSubscription, NatsSubscriptionDeleter>;
using Msg = std::unique_ptr<natsMsg, NatsMsgDeleter>;

}  // namespace meridian::harness

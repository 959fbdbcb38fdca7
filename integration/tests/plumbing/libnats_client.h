// Small RAII wrappers over the NATS C client (libnats) for these tests.
#pragma once

#include <nats/nats.h>

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "harness/libnats_ptr.h"

namespace meridian::plumbing {

using Connection = harness::Nc;
using Subscription = harness::Sub;
using Msg = harness::Msg;
using JetStream = harness::Js;

inline void Check(natsStatus s, const std::string& what) {
  harness::CheckNats(s, what);
}

// Connects to a comma-separated list of URLs, with user/password unless `user` is empty.
inline Connection Connect(const std::string& urls, const std::string& user,
                          const std::string& password, const std::string& name) {
  natsOptions* opts = nullptr;
  Check(natsOptions_Create(&opts), "natsOptions_Create");
  std::unique_ptr<natsOptions, void (*)(natsOptions*)> guard(opts, natsOptions_Destroy);
  harness::SetServerList(opts, urls);
  Check(natsOptions_SetName(opts, name.c_str()), "natsOptions_SetName");
  if (!user.empty()) {
    Check(natsOptions_SetUserInfo(opts, user.c_str(), password.c_str()), "SetUserInfo");
  }
  natsConnection* nc = nullptr;
  Check(natsConnection_Connect(&nc, opts), "connect to " + urls);
  return Connection(nc);
}

}  // namespace meridian::plumbing

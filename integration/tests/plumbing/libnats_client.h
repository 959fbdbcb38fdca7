// Small RAII wrappers over the NATS C client (libnats) for these tests.
#pragma once

#include <nats/nats.h>

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace meridian::plumbing {

struct ConnectionDeleter {
  void operator()(natsConnection* c) const { natsConnection_Destroy(c); }
};
struct SubscriptionDeleter {
  void operator()(natsSubscription* s) const { natsSubscription_Destroy(s); }
};
struct MsgDeleter {
  void operator()(natsMsg* m) const { natsMsg_Destroy(m); }
};
struct JsDeleter {
  void operator()(jsCtx* j) const { jsCtx_Destroy(j); }
};
using Connection = std::unique_ptr<natsConnection, ConnectionDeleter>;
using Subscription = std::unique_ptr<natsSubscription, SubscriptionDeleter>;
using Msg = std::unique_ptr<natsMsg, MsgDeleter>;
using JetStream = std::unique_ptr<jsCtx, JsDeleter>;

inline void Check(natsStatus s, const std::string& what) {
  if (s != NATS_OK) {
    throw std::runtime_error(what + " failed: " + natsStatus_GetText(s) + " (" +
                             nats_GetLastError(nullptr) + ")");
  }
}

// Connects to a comma-separated list of URLs, with user/password unless `user` is empty.
inline Connection Connect(const std::string& urls, const std::string& user,
                          const std::string& password, const std::string& name) {
  natsOptions* opts = nullptr;
  Check(natsOptions_Create(&opts), "natsOptions_Create");
  std::unique_ptr<natsOptions, void (*)(natsOptions*)> guard(opts, natsOptions_Destroy);
  // natsOptions_SetURL with a comma-separated list fails to connect in libnats 3.4.1: pass
  // the URLs as an array.
  std::vector<std::string> list;
  for (size_t start = 0; start <= urls.size();) {
    size_t comma = std::min(urls.find(',', start), urls.size());
    if (comma > start) list.push_back(urls.substr(start, comma - start));
    start = comma + 1;
  }
  std::vector<const char*> servers;
  for (const auto& u : list) servers.push_back(u.c_str());
  Check(natsOptions_SetServers(opts, servers.data(), static_cast<int>(servers.size())),
        "natsOptions_SetServers");
  Check(natsOptions_SetName(opts, name.c_str()), "natsOptions_SetName");
  if (!user.empty()) {
    Check(natsOptions_SetUserInfo(opts, user.c_str(), password.c_str()), "SetUserInfo");
  }
  natsConnection* nc = nullptr;
  Check(natsConnection_Connect(&nc, opts), "connect to " + urls);
  return Connection(nc);
}

}  // namespace meridian::plumbing

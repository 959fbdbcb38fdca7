// Owning pointers for the NATS C client's (libnats) objects, the status check and the server
// list every libnats-using test repeats. Header only: the including target links libnats.
#pragma once

#include <nats/nats.h>

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

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
struct NatsJsDeleter {
  void operator()(jsCtx* j) const { jsCtx_Destroy(j); }
};
using Nc = std::unique_ptr<natsConnection, NatsConnectionDeleter>;
using Sub = std::unique_ptr<natsSubscription, NatsSubscriptionDeleter>;
using Msg = std::unique_ptr<natsMsg, NatsMsgDeleter>;
using Js = std::unique_ptr<jsCtx, NatsJsDeleter>;

// Throws "<what> failed: <status text> (<libnats' last error>)" unless `s` is NATS_OK.
inline void CheckNats(natsStatus s, const std::string& what) {
  if (s != NATS_OK) {
    throw std::runtime_error(what + " failed: " + natsStatus_GetText(s) + " (" +
                             nats_GetLastError(nullptr) + ")");
  }
}

// Sets the servers of `opts` from a comma-separated URL list. natsOptions_SetURL with such a
// list fails to connect in libnats 3.4.1, so they go as an array.
inline void SetServerList(natsOptions* opts, const std::string& urls) {
  std::vector<std::string> list;
  for (size_t start = 0; start <= urls.size();) {
    size_t comma = std::min(urls.find(',', start), urls.size());
    if (comma > start) list.push_back(urls.substr(start, comma - start));
    start = comma + 1;
  }
  std::vector<const char*> servers;
  for (const auto& u : list) servers.push_back(u.c_str());
  CheckNats(natsOptions_SetServers(opts, servers.data(), static_cast<int>(servers.size())),
            "natsOptions_SetServers");
}

}  // namespace meridian::harness

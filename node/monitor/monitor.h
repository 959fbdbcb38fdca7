// Monitor: nats-server's monitoring endpoints for one server::Server, on shared/http.
//
// GET /healthz /varz /connz /subsz /accountz, JSON with nats-server's field names for the
// fields meridian-node fills (see README.md).
#pragma once
#include <memory>
#include <string>

#include "net/endpoint.h"
#include "net/status.h"

namespace meridian::net {
class Loop;
}
namespace meridian::server {
class Server;
}

namespace meridian::monitor {

class Monitor {
 public:
  Monitor(net::Loop& loop, const server::Server& server);
  ~Monitor();
  Monitor(const Monitor&) = delete;
  Monitor& operator=(const Monitor&) = delete;

  net::Status Listen(const net::Endpoint& where);
  uint16_t port() const;

  // The JSON bodies (also used by tests without HTTP). `query` as in the URL.
  std::string Healthz() const;
  std::string Varz() const;
  // /connz lists connections in cid order, `limit` of them from `offset` (nats-server's
  // defaults: 0 and 1024).
  std::string Connz(bool with_subs, size_t offset = 0, size_t limit = 1024) const;
  std::string Subsz() const;
  std::string Accountz() const;
  // nats-server's /jsz summary: JetStream config, usage and API counters over all accounts
  // ("disabled": true when JetStream is off).
  std::string Jsz() const;
  // nats-server's /leafz: the leaf-node connections (`subs`: each one's subscriptions_list,
  // the far side's interest).
  std::string Leafz(bool with_subs) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace meridian::monitor

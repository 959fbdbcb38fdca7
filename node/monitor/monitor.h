// Monitor: nats-server's monitoring endpoints for one server::Server, on shared/http.
//
// GET /healthz /varz /connz /subsz /accountz /accstatz /jsz /routez /gatewayz /leafz, JSON with
// nats-server's field names for the fields meridian-node fills (see README.md). The bodies
// are built by the free functions below, which the system account's `$SYS.REQ.SERVER.*`
// services (sys_requests.h) share.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "net/endpoint.h"
#include "net/status.h"

namespace meridian::net {
class Loop;
}
namespace meridian::server {
class Server;
}

namespace meridian::monitor {

// nats-server's ConnzOptions (URL query of /connz, or the JSON body of a CONNZ request).
struct ConnzOptions {
  bool subs = false;  // subscriptions_list
  bool auth = false;  // authorized_user and account (not for the global account)
  size_t offset = 0;
  size_t limit = 1024;
  uint64_t cid = 0;            // only this connection
  std::string user;            // only this user's connections
  std::string account;         // only this account's connections
  std::string filter_subject;  // with `account`: only connections subscribed to a subject
                               // that collides with it
  bool subs_detail = false;    // subscriptions_list_detail
  // nats-server's sort options: cid (default), start, subs, pending, msgs_to, msgs_from,
  // bytes_to, bytes_from, last, idle, uptime (stop and reason need closed connections).
  std::string sort;
  // 0 open, 1 closed, 2 all (nats-server's ConnState). meridian-node keeps no closed
  // connections: closed lists none, all lists the open ones.
  int state = 0;
};

// Why nats-server would refuse these options ("invalid sorting option: x", ...), or "".
std::string ConnzOptionsError(const ConnzOptions& options);

// nats-server's SubszOptions.
struct SubszOptions {
  bool subs = false;    // subscriptions_list
  std::string account;  // only this account's statistics and subscriptions
  size_t offset = 0;
  size_t limit = 1024;
};

// nats-server's JSzOptions (those meridian-node reads).
struct JszOptions {
  std::string account;    // only this account's details
  bool accounts = false;  // account_details of every JetStream account
  size_t offset = 0;      // of the accounts, by name
  size_t limit = 1024;
  bool streams = false;  // stream_detail in each account's details (implies accounts)
  bool config = false;   // with each stream's config
};

// The JSON bodies. `http_port` is the monitoring port /varz shows (0: none).
std::string HealthzJson();
std::string VarzJson(const server::Server& server, uint16_t http_port);
std::string ConnzJson(const server::Server& server, const ConnzOptions& options);
std::string SubszJson(const server::Server& server, const SubszOptions& options);
std::string AccountzJson(const server::Server& server);
// nats-server's account statz ("account_statz": connections, messages in and out, slow
// consumers per account): the named accounts (all when empty) that have connections, or all
// of them with `include_unused`. Sets `empty` when the list is empty.
std::string AccountStatzJson(const server::Server& server, const std::vector<std::string>& accounts,
                             bool include_unused, bool* empty = nullptr);
// nats-server's /jsz summary: JetStream config, usage and API counters over all accounts
// ("disabled": true when JetStream is off).
std::string JszJson(const server::Server& server, const JszOptions& options = {});
// One account's JetStream usage as nats-server's AccountDetail (stream_detail with
// `options.streams`), or "" when that account has no JetStream.
std::string AccountDetailJson(const server::Server& server, const std::string& account,
                              const JszOptions& options = {});
// What meridian-node lacks, as nats-server shows it without routes and gateways.
std::string RoutezJson(const server::Server& server);
std::string GatewayzJson(const server::Server& server);
// nats-server's /leafz: the leaf-node connections (`with_subs`: each one's
// subscriptions_list, the far side's interest).
std::string LeafzJson(const server::Server& server, bool with_subs = false);

// Helpers shared with sys_requests.cc.
int64_t UnixMs();
// RFC 3339 in UTC with milliseconds, as Go's time.Time marshals ("2026-11-23T02:29:04.123Z").
std::string Rfc3339(int64_t unix_ms);
// Resident set size of this process, bytes.
int64_t RssBytes();
// Average CPU use of this process since `start_unix_ms`, percent of one core.
double CpuPercent(int64_t start_unix_ms);
// nats-server's JetStreamStats object over every account with JetStream.
std::string JetStreamStatsJson(const server::Server& server);
// nats-server's JetStreamConfig object without store_dir (as statsz shows it).
std::string JetStreamConfigJson(const server::Server& server);

class Monitor {
 public:
  Monitor(net::Loop& loop, const server::Server& server);
  ~Monitor();
  Monitor(const Monitor&) = delete;
  Monitor& operator=(const Monitor&) = delete;

  net::Status Listen(const net::Endpoint& where);
  uint16_t port() const;

  // The JSON bodies (also used by tests without HTTP).
  std::string Healthz() const;
  std::string Varz() const;
  // /connz lists connections in cid order, `limit` of them from `offset` (nats-server's
  // defaults: 0 and 1024).
  std::string Connz(bool with_subs, size_t offset = 0, size_t limit = 1024) const;
  std::string Subsz() const;
  std::string Accountz() const;
  std::string Jsz() const;
  std::string Leafz(bool with_subs) const;  // LeafzJson

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace meridian::monitor

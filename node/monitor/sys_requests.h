// SysRequests: nats-server 2.9.10's system services on `$SYS.REQ.>`, answered with the
// monitoring JSON builders of monitor.h inside nats-server's envelope
// (`{"server":{...},"data":{...}}`, `"statsz"` for the statsz ping).
//
// In the system account: `$SYS.REQ.SERVER.PING` (statsz), `$SYS.REQ.SERVER.PING.<X>` and
// `$SYS.REQ.SERVER.<server id>.<X>` for X in STATSZ VARZ CONNZ SUBSZ JSZ HEALTHZ ACCOUNTZ ROUTEZ
// GATEWAYZ LEAFZ, `$SYS.REQ.ACCOUNT.<account>.<Y>` for Y in CONNZ SUBSZ JSZ INFO LEAFZ STATZ,
// and `$SYS.REQ.ACCOUNT.PING.STATZ`. In every other account, as nats-server's system imports:
// `$SYS.REQ.SERVER.PING.CONNZ` and `$SYS.REQ.ACCOUNT.PING.CONNZ` (that account's
// connections) and `$SYS.REQ.ACCOUNT.PING.STATZ` (its statz). Anything else under `$SYS.REQ.`
// has no responder. A JSON body may filter servers (`server_name`, `host`, `cluster`, `tags`,
// `domain`: a server that does not match stays silent) and carry the endpoint's options
// (CONNZ: `subscriptions`, `auth`, `offset`, `limit`, `cid`, `user`, `acc`, `filter_subject`;
// SUBSZ: `subscriptions`, `account`, `offset`, `limit`). See README.md.
#pragma once
#include <cstdint>
#include <memory>

namespace meridian::server {
class Server;
}

namespace meridian::monitor {

class SysRequests {
 public:
  // Registers itself as `server`'s system request handler until destroyed. `http_port` is
  // the monitoring port VARZ shows (0: none).
  SysRequests(server::Server& server, uint16_t http_port);
  ~SysRequests();
  SysRequests(const SysRequests&) = delete;
  SysRequests& operator=(const SysRequests&) = delete;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace meridian::monitor

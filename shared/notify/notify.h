// Notifier: tells a service manager (systemd, Type=notify) how the daemon is doing, using the
// documented notify socket protocol: one datagram of newline-separated KEY=VALUE lines to the
// AF_UNIX socket named by $NOTIFY_SOCKET (a path, or "@name" for an abstract socket). No
// libsystemd needed. Without $NOTIFY_SOCKET every call is a successful no-op, so daemons call
// it unconditionally. Not thread-safe; the daemons call it from their loop thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace meridian::notify {

class Notifier {
 public:
  // Reads $NOTIFY_SOCKET; unset or empty gives a disabled Notifier.
  static Notifier FromEnvironment();
  // `socket` as $NOTIFY_SOCKET would give it; empty disables. Checked on first Send.
  explicit Notifier(std::string socket);

  bool enabled() const { return !socket_.empty(); }
  const std::string& socket() const { return socket_; }

  // Sends `state` (e.g. "READY=1\nSTATUS=serving") as one datagram. The error names the
  // socket and what went wrong; callers log it and carry on (a daemon never stops over it).
  base::Status Send(std::string_view state) const;

  // READY=1, with STATUS=<status> when given: the daemon serves.
  base::Status Ready(std::string_view status = {}) const;
  // RELOADING=1 and MONOTONIC_USEC=<now>: a reload began; send Ready() when it is done.
  base::Status Reloading(std::string_view status = {}) const;
  // STOPPING=1: a graceful stop began.
  base::Status Stopping(std::string_view status = {}) const;
  // STATUS=<status> alone: a one-line state for `systemctl status`.
  base::Status Status(std::string_view status) const;

 private:
  std::string socket_;
};

// CLOCK_MONOTONIC in microseconds, as MONOTONIC_USEC wants it.
std::uint64_t MonotonicMicros();

}  // namespace meridian::notify

// Free loopback TCP ports, chosen at run time.
#pragma once

#include <cstdint>

namespace meridian::harness {

// A port on 127.0.0.1 that could be bound just now: below the kernel's ephemeral range when
// there is room (so outgoing connections never take it while its server is down), else one
// the kernel picks (bind to port 0, read it back). Never returns the same port twice in one
// process. Another process may still take it before the caller binds; the harness reports
// that as a start-up failure with the server's log.
uint16_t FreeLoopbackPort();

}  // namespace meridian::harness

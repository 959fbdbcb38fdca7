// Waiting until a process answers on its monitoring port.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "harness/process.h"

namespace meridian::harness {

// Polls GET http://127.0.0.1:<http_port><path> until it answers 200. Throws std::runtime_error
// if the process exits or the timeout passes; the message holds the last response or network
// error and the last lines of the process's log.
void WaitForHealthz(Process& process, uint16_t http_port,
                    std::chrono::milliseconds timeout = std::chrono::seconds(20),
                    const std::string& path = "/healthz");

// "<what>\n--- last lines of <log> ---\n<tail>": for errors that concern a process.
std::string WithLogTail(const std::string& what, const Process& process, int lines = 25);

}  // namespace meridian::harness

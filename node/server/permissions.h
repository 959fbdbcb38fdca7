// Publish/subscribe permission checks as nats-server applies them to a client.
#pragma once
#include <string_view>

#include "server/options.h"

namespace meridian::server {

// True when `subject` (literal) may be published under `perm`: some allow pattern matches (or
// there is none) and no deny pattern matches.
bool CanPublish(const SubjectPermission& perm, std::string_view subject);

// True when `pattern` (maybe wildcard) may be subscribed: it is a subset of some allow pattern
// (or there is none) and no deny pattern covers it.
bool CanSubscribe(const SubjectPermission& perm, std::string_view pattern);

// Reply prefixes a client may not use (service imports, JetStream acks, gateway replies).
bool IsReservedReply(std::string_view reply);

}  // namespace meridian::server

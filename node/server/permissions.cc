#include "server/permissions.h"

#include "subject/subject.h"

namespace meridian::server {

bool CanPublish(const SubjectPermission& perm, std::string_view subject) {
  bool allowed = perm.allow.empty();
  for (const auto& p : perm.allow) {
    if (subject::SubjectMatches(p, subject)) {
      allowed = true;
      break;
    }
  }
  if (!allowed) return false;
  for (const auto& p : perm.deny) {
    if (subject::SubjectMatches(p, subject)) return false;
  }
  return true;
}

bool CanSubscribe(const SubjectPermission& perm, std::string_view pattern) {
  bool allowed = perm.allow.empty();
  for (const auto& p : perm.allow) {
    if (subject::SubjectIsSubsetOf(pattern, p)) {
      allowed = true;
      break;
    }
  }
  if (!allowed) return false;
  for (const auto& p : perm.deny) {
    if (subject::SubjectIsSubsetOf(pattern, p)) return false;
  }
  return true;
}

bool IsReservedReply(std::string_view reply) {
  return reply.starts_with("_R_.") || reply.starts_with("$JS.ACK.") || reply.starts_with("$GNR.");
}

}  // namespace meridian::server

#include "subject/reserved.h"

#include <string>

#include "subject/subject.h"

namespace meridian::subject {

std::string_view ReservedNamespaceOverlap(std::string_view stream_subject) {
  for (std::string_view ns : {"$JS.>", "$JSC.>", "$NRG.>"}) {
    if (SubjectsCollide(stream_subject, ns) && !SubjectIsSubsetOf(stream_subject, "$JS.EVENT.>")) {
      return ns;
    }
  }
  if (SubjectsCollide(stream_subject, "$SYS.>") &&
      !SubjectIsSubsetOf(stream_subject, "$SYS.ACCOUNT.>")) {
    return "$SYS.>";
  }
  return {};
}

Status CheckStreamSubject(std::string_view stream_subject, bool no_ack, int replicas) {
  if (Status s = ValidateSubscribeSubject(stream_subject); !s.ok()) {
    return Status::Error("stream " + s.message());
  }
  std::string quoted;  // appended, not concatenated: avoids a GCC 12 -O3 false -Wrestrict
  quoted.push_back('"');
  quoted.append(stream_subject);
  quoted.push_back('"');
  if (stream_subject == kFullWildcard) {
    if (!no_ack) {
      return Status::Error(
          "stream subject \">\" captures every subject, which requires no_ack "
          "to be true; set no_ack or capture narrower subjects");
    }
    if (replicas != 1) {
      return Status::Error(
          "stream subject \">\" captures every subject, which requires 1 "
          "replica; set replicas to 1 or capture narrower subjects");
    }
  }
  if (!no_ack) {
    std::string_view ns = ReservedNamespaceOverlap(stream_subject);
    if (!ns.empty()) {
      return Status::Error("stream subject " + quoted + " overlaps the reserved namespace \"" +
                           std::string(ns) +
                           "\", which requires no_ack to be true; set no_ack or choose "
                           "subjects outside it");
    }
  }
  return Status::Ok();
}

}  // namespace meridian::subject

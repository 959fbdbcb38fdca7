// NATS subject filters for store queries: tokens separated by '.', '*' matches one token,
// '>' as the last token matches one or more. An empty filter or ">" matches everything.
#pragma once

#include <string_view>

namespace meridian::store {

bool SubjectMatchesFilter(std::string_view filter, std::string_view subject);

// True when the filter has no wildcard tokens (it names exactly one subject).
bool IsLiteralSubject(std::string_view filter);

}  // namespace meridian::store

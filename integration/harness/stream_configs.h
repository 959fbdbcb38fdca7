// The JetStream configs of a virtual stream's write and read streams as the suites create
// them by hand on stock servers (the layout `meridian topology apply` makes): file storage,
// limits retention, placed in the region's cluster. JSON text for a STREAM.CREATE body.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace meridian::harness {

// "<vs>-write-<region>" on "<vs>.<region>.>"; `max_age_s` > 0 sets max_age.
std::string WriteStreamConfigJson(const std::string& vs, const std::string& region, int replicas,
                                  int64_t max_age_s = 0);

// "<vs>-read-<region>" with allow_direct, sourcing each origin's write stream filtered on
// "<vs>.<origin>.>".
std::string ReadStreamConfigJson(const std::string& vs, const std::string& region,
                                 const std::vector<std::string>& origins, int replicas);

}  // namespace meridian::harness

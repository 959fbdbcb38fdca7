#include "harness/stream_configs.h"

#include <nlohmann/json.hpp>

namespace meridian::harness {

using nlohmann::json;

std::string WriteStreamConfigJson(const std::string& vs, const std::string& region, int replicas,
                                  int64_t max_age_s) {
  json c = {{"name", vs + "-write-" + region}, {"subjects", {vs + "." + region + ".>"}},
            {"retention", "limits"},           {"storage", "file"},
            {"num_replicas", replicas},        {"placement", {{"cluster", region}}}};
  if (max_age_s > 0) c["max_age"] = max_age_s * 1'000'000'000LL;
  return c.dump();
}

std::string ReadStreamConfigJson(const std::string& vs, const std::string& region,
                                 const std::vector<std::string>& origins, int replicas) {
  json sources = json::array();
  for (const auto& origin : origins) {
    sources.push_back(
        {{"name", vs + "-write-" + origin}, {"filter_subject", vs + "." + origin + ".>"}});
  }
  return json{{"name", vs + "-read-" + region},
              {"retention", "limits"},
              {"storage", "file"},
              {"num_replicas", replicas},
              {"allow_direct", true},
              {"placement", {{"cluster", region}}},
              {"sources", sources}}
      .dump();
}

}  // namespace meridian::harness

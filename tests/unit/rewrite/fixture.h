// The topology every rewrite test uses: virtual stream "foo" over "foo.>" in east, central
// and west, and "orders" over "orders.eu.>" in the same regions; the sidecar runs in west.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "rewrite/rewriter.h"

namespace meridian::rewrite::testing {

inline std::shared_ptr<const Topology> FooTopology() {
  return std::make_shared<const Topology>(std::vector<VirtualStream>{
      {"foo", {"foo.>"}, {"east", "central", "west"}},
      {"orders", {"orders.eu.>"}, {"east", "central", "west"}},
  });
}

inline Rewriter WestRewriter() {
  return Rewriter(FooTopology(), "west");
}

inline nlohmann::json J(const std::string& text) {
  return nlohmann::json::parse(text);
}

}  // namespace meridian::rewrite::testing

// Where the programs the tests run are: our own binaries in the build tree, the stock
// nats-server and node found at configure time.
#pragma once

#include <filesystem>
#include <string>

namespace meridian::harness {

// meridian-sidecar, meridian-node or meridian, as built in this build tree. Throws with the
// cmake command to run if it has not been built.
std::filesystem::path OurBinary(const std::string& name);

// The stock nats-server ($MERIDIAN_NATS_SERVER overrides the one found at configure time).
std::filesystem::path NatsServerBinary();
// node ($MERIDIAN_NODE overrides).
std::filesystem::path NodeBinary();

std::filesystem::path BuildDir();   // the CMake build tree the harness was built in
std::filesystem::path SourceDir();  // the repository
std::filesystem::path JsDir();      // <source>/integration/js (nats.js scripts, node_modules)

}  // namespace meridian::harness

// Arbitrary bytes as a nats-server config file: parsed and mapped onto Options. Nothing may
// crash or hang; problems must come back as config::ConfigError. Inputs naming `include` are
// skipped (they would read files of the machine).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "config/reader.h"
#include "server/nats_config_load.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (text.find("include") != std::string_view::npos) return 0;
  meridian::server::Options options;
  meridian::server::NatsConfProgram program;
  try {
    meridian::server::LoadNatsConfigText(text, "fuzz.conf", options, &program,
                                         "/nonexistent-meridian-fuzz-dir");
  } catch (const meridian::config::ConfigError&) {
  }
  return 0;
}

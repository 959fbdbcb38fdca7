// Arbitrary bytes as a TOML document through the reader: every key is visited with several
// getters, then Check() runs. Nothing may crash; errors must come back as ConfigError/issues.
#include <cstdint>
#include <string_view>

#include "config/reader.h"

namespace {

using namespace meridian::config;  // NOLINT(google-build-using-namespace)

void Walk(const Table& table, int depth) {
  if (depth > 8) return;
  for (const std::string& key : table.Keys()) {
    switch (key.size() % 7) {
      case 0:
        table.Get<std::chrono::nanoseconds>(key);
        break;
      case 1:
        table.Get<ByteSize>(key);
        break;
      case 2:
        table.Get<std::vector<NatsUrl>>(key);
        break;
      case 3:
        table.Get<HostPort>(key);
        break;
      case 4:
        table.Get<uint16_t>(key);
        break;
      case 5:
        for (const Table& t : table.TableArray(key)) Walk(t, depth + 1);
        break;
      default:
        if (auto sub = table.GetTable(key)) Walk(*sub, depth + 1);
        break;
    }
  }
  table.Required<std::string>("name");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    Document doc = Document::FromString(std::string_view(reinterpret_cast<const char*>(data), size),
                                        "fuzz.toml");
    Walk(doc.Root(), 0);
    for (const ConfigIssue& issue : doc.Check()) (void)issue.ToString();
    doc.Finish();
  } catch (const ConfigError&) {
  }
  return 0;
}

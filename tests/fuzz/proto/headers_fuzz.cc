// Fuzz target for the header-block codec: parsing never reads out of bounds; a valid block's
// fields survive a rebuild; the builder always holds a valid block whatever edits it gets.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "proto/headers.h"

namespace {

using meridian::proto::HeaderBuilder;
using meridian::proto::HeaderError;
using meridian::proto::HeaderField;
using meridian::proto::HeaderView;

void Check(bool ok) {
  if (!ok) std::abort();
}

std::vector<std::pair<std::string, std::string>> Fields(const HeaderView& v) {
  std::vector<std::pair<std::string, std::string>> out;
  for (HeaderField f : v) out.emplace_back(f.name, f.value);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  // Copy into an exactly sized heap buffer so ASan sees any read past the block.
  std::vector<char> copy(bytes, bytes + size);
  const std::string_view block(copy.data(), copy.size());

  HeaderView view;
  const HeaderError error = HeaderView::Parse(block, &view);
  for (std::string_view name : {"Nats-Msg-Id", "K", "A", ":", ""}) {
    (void)meridian::proto::ServerHeaderLookup(block, name);
  }
  // Names that occur in the input, to look up and edit.
  std::string name = "Nats-Msg-Id";
  if (const size_t colon = block.find(':'); colon != std::string_view::npos && colon > 0) {
    const size_t start = block.rfind('\n', colon);
    name = std::string(block.substr(start == std::string_view::npos ? 0 : start + 1,
                                    colon - (start == std::string_view::npos ? 0 : start + 1)));
  }
  (void)meridian::proto::ServerHeaderLookup(block, name);

  HeaderBuilder builder;
  if (error == HeaderError::kNone) {
    const auto fields = Fields(view);
    (void)view.Find(name);
    (void)view.FindIgnoreCase(name);
    (void)view.Count(name);
    // Rebuild from the fields; the result parses back to the same fields.
    HeaderBuilder rebuilt;
    Check(rebuilt.SetStatus(view.status(), view.description()) == HeaderError::kNone);
    for (const auto& [n, v] : fields) {
      // A value may end in whitespace that Add keeps; names and values came from a valid block.
      Check(rebuilt.Add(n, v) == HeaderError::kNone);
    }
    HeaderView again;
    Check(HeaderView::Parse(rebuilt.block(), &again) == HeaderError::kNone);
    Check(Fields(again) == fields);
    Check(again.status() == view.status());
    Check(builder.Load(block) == HeaderError::kNone);
  } else {
    Check(builder.Load(block) == error);
  }
  // Edits keep the builder's block valid.
  (void)builder.Set(name, "v");
  (void)builder.Add(name, std::string(block.substr(0, 8)));
  (void)builder.Remove("K");
  (void)builder.Set("K", "x");
  HeaderView edited;
  Check(HeaderView::Parse(builder.block(), &edited) == HeaderError::kNone);
  builder.Remove(name);
  Check(builder.view().Count(name) == 0);
  return 0;
}

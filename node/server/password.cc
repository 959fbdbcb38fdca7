#include "server/password.h"

#include <crypt.h>

#include <cctype>
#include <cstring>
#include <memory>
#include <string>

namespace meridian::server {

bool IsBcryptHash(std::string_view h) {
  if (h.size() != 60 || h[0] != '$' || h[1] != '2' || h[3] != '$' || h[6] != '$') return false;
  if (std::string_view("abxy").find(h[2]) == std::string_view::npos) return false;
  return std::isdigit(static_cast<unsigned char>(h[4])) &&
         std::isdigit(static_cast<unsigned char>(h[5]));
}

namespace {
bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}
}  // namespace

bool PasswordMatches(std::string_view configured, std::string_view presented) {
  if (!IsBcryptHash(configured)) return ConstantTimeEquals(configured, presented);
  // crypt_rn needs NUL-terminated strings; a password with a NUL in it cannot match.
  if (presented.find('\0') != std::string_view::npos) return false;
  std::string pass(presented), setting(configured);
  auto data = std::make_unique<crypt_data>();
  std::memset(data.get(), 0, sizeof(crypt_data));
  const char* out = crypt_rn(pass.c_str(), setting.c_str(), data.get(), sizeof(crypt_data));
  // crypt_rn returns nullptr (or a "*"-prefixed failure token) for an unusable setting.
  if (out == nullptr || out[0] == '*') return false;
  return ConstantTimeEquals(out, configured);
}

}  // namespace meridian::server

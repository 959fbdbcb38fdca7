// Password checks as nats-server makes them: a configured password is plain text, compared in
// constant time, or a bcrypt hash ($2a$, $2b$, $2x$, $2y$ with a two-digit cost), verified with
// the system's libcrypt (libxcrypt's bcrypt).
#pragma once
#include <string_view>

namespace meridian::server {

// True when `configured` has the shape of a bcrypt hash: "$2?$NN$" followed by 53 characters.
bool IsBcryptHash(std::string_view configured);

// True when `presented` (from CONNECT) matches `configured`. bcrypt costs time in proportion to
// 2^cost (about 50 ms at cost 10 here); it runs on the caller's thread.
bool PasswordMatches(std::string_view configured, std::string_view presented);

}  // namespace meridian::server

// TlsContext: certificates, trust and policy for TLS on Connections (OpenSSL 3).
//
// Build one per configuration and share it (it is immutable after creation) with
// Connection::StartTls. Verification is on by default: a client checks the server's chain
// against the CA and the name it connected to; a server asks for and checks client
// certificates only when require_client_cert is set. TLS 1.2 is the minimum. Errors are
// sentences naming the file and what to fix.
#pragma once

#include <memory>
#include <string>

#include "net/status.h"

namespace meridian::net {

struct TlsConfig {
  // PEM files; or the PEM text itself in the *_pem fields (tests, secrets from elsewhere).
  std::string cert_file;
  std::string key_file;
  std::string ca_file;
  std::string cert_pem;
  std::string key_pem;
  std::string ca_pem;
  // Client: verify the server certificate (chain and name). Turning it off is for tests.
  bool verify_peer = true;
  // Server: ask for a client certificate and refuse the handshake without a valid one.
  bool require_client_cert = false;
};

class TlsContext {
 public:
  enum class Role { kClient, kServer };

  // A client needs a CA (ca_file/ca_pem, or the system store when both are empty) and may
  // present a certificate; a server needs a certificate and key.
  static Result<std::shared_ptr<const TlsContext>> Create(Role role, const TlsConfig& config);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  Role role() const { return role_; }
  const TlsConfig& config() const { return config_; }
  // The OpenSSL SSL_CTX*, for net/ internals.
  void* native() const { return ctx_; }

 private:
  TlsContext(Role role, TlsConfig config, void* ctx)
      : role_(role), config_(std::move(config)), ctx_(ctx) {}
  Role role_;
  TlsConfig config_;
  void* ctx_;
};

}  // namespace meridian::net

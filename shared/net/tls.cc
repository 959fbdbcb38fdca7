#include "net/tls.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cstring>

#include "net/connection_impl.h"

namespace meridian::net {

namespace {

// The oldest queued OpenSSL error as text, and the queue cleared.
std::string OpenSslError() {
  unsigned long code = ERR_get_error();
  std::string text;
  if (code != 0) {
    const char* reason = ERR_reason_error_string(code);
    text = reason ? reason : "unknown OpenSSL error";
  } else {
    text = "no further detail from OpenSSL";
  }
  ERR_clear_error();
  return text;
}

bool IsIpAddress(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

Status LoadCaPem(SSL_CTX* ctx, const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  int added = 0;
  while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    X509_STORE_add_cert(store, cert);
    X509_free(cert);
    ++added;
  }
  BIO_free(bio);
  ERR_clear_error();
  if (added == 0) {
    return Status::Error("the CA text (ca_pem) holds no PEM certificate; pass the CA certificate");
  }
  return Status::Ok();
}

}  // namespace

TlsContext::~TlsContext() {
  SSL_CTX_free(static_cast<SSL_CTX*>(ctx_));
}

Result<std::shared_ptr<const TlsContext>> TlsContext::Create(Role role, const TlsConfig& config) {
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(role == Role::kClient ? TLS_client_method() : TLS_server_method());
  if (!ctx) return Status::Error("could not create a TLS context: " + OpenSslError());
  std::shared_ptr<const TlsContext> result(new TlsContext(role, config, ctx));
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);

  // Own certificate and key.
  if (!config.cert_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx, config.cert_file.c_str()) != 1) {
      return Status::Error("could not load the TLS certificate from \"" + config.cert_file +
                           "\": " + OpenSslError() + "; give a readable PEM certificate file");
    }
  } else if (!config.cert_pem.empty()) {
    BIO* bio = BIO_new_mem_buf(config.cert_pem.data(), static_cast<int>(config.cert_pem.size()));
    X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    bool ok = cert && SSL_CTX_use_certificate(ctx, cert) == 1;
    while (ok) {  // the rest of the chain
      X509* extra = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
      if (!extra) break;
      SSL_CTX_add0_chain_cert(ctx, extra);
    }
    X509_free(cert);
    BIO_free(bio);
    if (!ok) {
      return Status::Error("the TLS certificate text (cert_pem) is not a PEM certificate: " +
                           OpenSslError());
    }
    ERR_clear_error();
  }
  if (!config.key_file.empty()) {
    if (SSL_CTX_use_PrivateKey_file(ctx, config.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
      unsigned long code = ERR_peek_last_error();
      if (ERR_GET_REASON(code) == X509_R_KEY_VALUES_MISMATCH) {
        ERR_clear_error();
        return Status::Error("the TLS private key in \"" + config.key_file +
                             "\" does not match the certificate; give the key the certificate "
                             "was issued for");
      }
      return Status::Error("could not load the TLS private key from \"" + config.key_file +
                           "\": " + OpenSslError() + "; give a readable, unencrypted PEM key");
    }
  } else if (!config.key_pem.empty()) {
    BIO* bio = BIO_new_mem_buf(config.key_pem.data(), static_cast<int>(config.key_pem.size()));
    EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
    bool parsed = key != nullptr;
    bool ok = parsed && SSL_CTX_use_PrivateKey(ctx, key) == 1;
    EVP_PKEY_free(key);
    BIO_free(bio);
    if (!parsed) {
      return Status::Error("the TLS key text (key_pem) is not an unencrypted PEM private key: " +
                           OpenSslError());
    }
    if (!ok) {
      return Status::Error("the TLS private key does not match the certificate (" + OpenSslError() +
                           "); give the key the certificate was issued for");
    }
  }
  bool has_cert = !config.cert_file.empty() || !config.cert_pem.empty();
  bool has_key = !config.key_file.empty() || !config.key_pem.empty();
  if (has_cert != has_key) {
    return Status::Error(has_cert ? "a TLS certificate was given without its private key; set "
                                    "key_file too"
                                  : "a TLS private key was given without its certificate; set "
                                    "cert_file too");
  }
  if (has_cert && SSL_CTX_check_private_key(ctx) != 1) {
    return Status::Error("the TLS private key does not match the certificate: " + OpenSslError() +
                         "; give the key the certificate was issued for");
  }
  if (role == Role::kServer && !has_cert) {
    return Status::Error("a TLS server needs a certificate and key; set cert_file and key_file");
  }

  // Trust.
  if (!config.ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, config.ca_file.c_str(), nullptr) != 1) {
      return Status::Error("could not load the TLS CA certificates from \"" + config.ca_file +
                           "\": " + OpenSslError() + "; give a readable PEM file");
    }
  } else if (!config.ca_pem.empty()) {
    Status st = LoadCaPem(ctx, config.ca_pem);
    if (!st.ok()) return st;
  } else if (role == Role::kClient) {
    SSL_CTX_set_default_verify_paths(ctx);
  }
  if (role == Role::kClient) {
    SSL_CTX_set_verify(ctx, config.verify_peer ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
  } else if (config.require_client_cert) {
    if (config.ca_file.empty() && config.ca_pem.empty()) {
      return Status::Error(
          "require_client_cert needs the CA that issues client certificates; set ca_file");
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  return result;
}

// ---- The TLS session of one Connection ---------------------------------------------------

void Connection::Impl::TlsFree() {
  if (ssl) SSL_free(ssl);  // frees both BIOs
  ssl = nullptr;
  rbio = wbio = nullptr;
}

void Connection::Impl::TlsStart(std::shared_ptr<const TlsContext> context, std::string server_name,
                                HandshakeHandler done) {
  if (ssl || closing || !handle_open) {
    if (done) {
      done(Status::Error(ssl ? "TLS was already started on this connection"
                             : "the connection is closed; TLS cannot start"));
    }
    return;
  }
  ERR_clear_error();
  tls_context = std::move(context);
  tls_server_name = std::move(server_name);
  on_handshake = std::move(done);
  ssl = SSL_new(static_cast<SSL_CTX*>(tls_context->native()));
  rbio = BIO_new(BIO_s_mem());
  wbio = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl, rbio, wbio);
  if (tls_context->role() == TlsContext::Role::kClient) {
    SSL_set_connect_state(ssl);
    if (!tls_server_name.empty()) {
      if (IsIpAddress(tls_server_name)) {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), tls_server_name.c_str());
      } else {
        SSL_set_tlsext_host_name(ssl, tls_server_name.c_str());
        SSL_set1_host(ssl, tls_server_name.c_str());
      }
    }
  } else {
    SSL_set_accept_state(ssl);
  }
  tls_handshaking = true;
  // Bytes that arrived after the plaintext the reader consumed belong to TLS already.
  if (delivering) {
    tls_adopt_tail = true;  // the reader has not said yet how much of `in` it consumed
  } else if (in_len > 0) {
    BIO_write(rbio, in.data(), static_cast<int>(in_len));
    in_len = 0;
  }
  StartReadingIfWanted();  // the allocator hands out the ciphertext buffer from now on
  TlsDoHandshake();
}

std::string Connection::Impl::TlsErrorSentence(const char* during) {
  std::string who = peer.empty() ? "the peer" : peer;
  long verify = SSL_get_verify_result(ssl);
  if (tls_context->role() == TlsContext::Role::kClient && verify != X509_V_OK) {
    ERR_clear_error();
    std::string why = X509_verify_cert_error_string(verify);
    std::string fix;
    if (verify == X509_V_ERR_HOSTNAME_MISMATCH || verify == X509_V_ERR_IP_ADDRESS_MISMATCH) {
      fix = "the certificate is not valid for \"" + tls_server_name +
            "\"; connect using a name the certificate lists, or reissue it with that name";
    } else if (verify == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
               verify == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT ||
               verify == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN ||
               verify == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT) {
      fix = "the certificate is not signed by a trusted CA; set ca_file to the CA that issued it";
    } else if (verify == X509_V_ERR_CERT_HAS_EXPIRED || verify == X509_V_ERR_CERT_NOT_YET_VALID) {
      fix = "check the certificate's validity dates and the clocks";
    } else {
      fix = "check the server's certificate and the CA given in ca_file";
    }
    return std::string("TLS ") + during + " with " + who +
           " failed: the server certificate was refused (" + why + "): " + fix;
  }
  std::string detail = OpenSslError();
  std::string fix;
  if (detail.find("alert") != std::string::npos) {
    fix =
        "; the peer refused our side of the handshake (check that it trusts our certificate "
        "and that we present one if it requires it)";
  } else if (detail.find("peer did not return a certificate") != std::string::npos) {
    fix =
        "; this server requires a client certificate: configure cert_file and key_file on the "
        "client";
  } else if (detail.find("wrong version number") != std::string::npos ||
             detail.find("http request") != std::string::npos ||
             detail.find("packet length too long") != std::string::npos) {
    fix = "; the peer does not speak TLS here (is it expecting plaintext?)";
  }
  return std::string("TLS ") + during + " with " + who + " failed: " + detail + fix;
}

void Connection::Impl::TlsDoHandshake() {
  ERR_clear_error();
  int r = SSL_do_handshake(ssl);
  TlsDrainOutput();
  if (r == 1) {
    tls_handshaking = false;
    tls_established = true;
    if (!tls_plain_pending.empty()) {
      std::string pending;
      pending.swap(tls_plain_pending);
      TlsWrite(pending);
    }
    if (on_handshake) {
      auto cb = std::move(on_handshake);
      on_handshake = nullptr;
      ConnectionPtr hold = keep_alive;
      cb(Status::Ok());
    }
    if (handle_open) TlsPumpRead();
    return;
  }
  int err = SSL_get_error(ssl, r);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return;
  std::string sentence = TlsErrorSentence("handshake");
  if (on_handshake) {
    auto cb = std::move(on_handshake);
    on_handshake = nullptr;
    ConnectionPtr hold = keep_alive;
    cb(Status::Error(sentence));
  }
  // Let the alert we generated reach the peer, then close.
  FlushNow();
  CloseNow(CloseReason::kTlsError, sentence, false);
}

void Connection::Impl::TlsOnCiphertext(const char* data, size_t len) {
  BIO_write(rbio, data, static_cast<int>(len));
  if (tls_handshaking) {
    TlsDoHandshake();
    return;
  }
  TlsPumpRead();
}

void Connection::Impl::TlsPumpRead() {
  if (!tls_established) return;
  for (;;) {
    EnsureInputSpace();
    size_t space = in.size() - in_len;
    if (space == 0) break;
    ERR_clear_error();
    int n = SSL_read(ssl, in.data() + in_len, static_cast<int>(space));
    if (n > 0) {
      in_len += static_cast<size_t>(n);
      continue;
    }
    int err = SSL_get_error(ssl, n);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) break;
    TlsDrainOutput();
    Deliver();
    if (err == SSL_ERROR_ZERO_RETURN) {
      CloseNow(CloseReason::kPeerClosed, "the peer closed the TLS session", false);
    } else {
      CloseNow(CloseReason::kTlsError, TlsErrorSentence("read"), true);
    }
    return;
  }
  TlsDrainOutput();
  Deliver();
  if (handle_open && !closing && !paused && in_len >= options.max_input_buffer) {
    CloseNow(CloseReason::kInputTooLarge,
             "the peer sent more than " + std::to_string(options.max_input_buffer) +
                 " bytes that the reader did not consume; raise max_input_buffer or check the "
                 "peer's framing",
             true);
  }
}

void Connection::Impl::TlsWrite(std::string_view plain) {
  if (plain.empty()) return;
  if (tls_handshaking) {
    tls_plain_pending.append(plain.data(), plain.size());
    return;
  }
  size_t off = 0;
  while (off < plain.size()) {
    ERR_clear_error();
    int n = SSL_write(ssl, plain.data() + off, static_cast<int>(plain.size() - off));
    if (n <= 0) {
      CloseNow(CloseReason::kTlsError, TlsErrorSentence("write"), true);
      return;
    }
    off += static_cast<size_t>(n);
  }
  TlsDrainOutput();
}

void Connection::Impl::TlsDrainOutput() {
  size_t pending = BIO_ctrl_pending(wbio);
  if (pending == 0) return;
  size_t offset = accum.buf.size();
  accum.buf.resize(offset + pending);
  int n = BIO_read(wbio, accum.buf.data() + offset, static_cast<int>(pending));
  accum.buf.resize(offset + (n > 0 ? static_cast<size_t>(n) : 0));
  if (n > 0) {
    if (!accum.segments.empty() && accum.segments.back().ptr == nullptr &&
        accum.segments.back().offset + accum.segments.back().len == offset) {
      accum.segments.back().len += static_cast<size_t>(n);
    } else {
      accum.segments.push_back({nullptr, offset, static_cast<size_t>(n)});
    }
    accum.bytes += static_cast<size_t>(n);
    MarkDirty();
  }
}

void Connection::Impl::TlsSendCloseNotify() {
  ERR_clear_error();
  SSL_shutdown(ssl);
  ERR_clear_error();
  TlsDrainOutput();
}

std::string Connection::tls_peer_subject() const {
  if (!impl_->ssl || !impl_->tls_established) return "";
  X509* cert = SSL_get1_peer_certificate(impl_->ssl);
  if (!cert) return "";
  char buf[512];
  X509_NAME_oneline(X509_get_subject_name(cert), buf, sizeof(buf));
  X509_free(cert);
  return buf;
}

}  // namespace meridian::net

#include "notify/notify.h"

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <utility>

namespace meridian::notify {
namespace {

// STATUS is one line: a newline inside it would start another KEY=VALUE assignment.
void AppendStatus(std::string& message, std::string_view status) {
  if (status.empty()) return;
  message += "STATUS=";
  for (char c : status) message += (c == '\n' || c == '\r') ? ' ' : c;
  message += '\n';
}

}  // namespace

Notifier Notifier::FromEnvironment() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  return Notifier(socket == nullptr ? "" : socket);
}

Notifier::Notifier(std::string socket) : socket_(std::move(socket)) {}

base::Status Notifier::Send(std::string_view state) const {
  if (socket_.empty()) return base::Status::Ok();
  const bool abstract = socket_[0] == '@';
  if (!abstract && socket_[0] != '/') {
    return base::Status::Error("NOTIFY_SOCKET \"" + socket_ +
                               "\" is neither an absolute path nor an abstract socket "
                               "(@name); readiness cannot be reported");
  }
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (socket_.size() >= sizeof(address.sun_path)) {
    return base::Status::Error("NOTIFY_SOCKET \"" + socket_ + "\" is longer than " +
                               std::to_string(sizeof(address.sun_path) - 1) +
                               " bytes; readiness cannot be reported");
  }
  std::memcpy(address.sun_path, socket_.data(), socket_.size());
  socklen_t length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket_.size());
  if (abstract) {
    address.sun_path[0] = '\0';  // abstract names have no terminator and count exactly
  } else {
    length += 1;  // the path's terminating NUL
  }

  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return base::Status::Error(std::string("cannot create a socket to report to the service "
                                           "manager: ") +
                               std::strerror(errno));
  }
  ssize_t sent;
  do {
    sent = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                    reinterpret_cast<const sockaddr*>(&address), length);
  } while (sent < 0 && errno == EINTR);
  const int error = errno;
  ::close(fd);
  if (sent < 0) {
    return base::Status::Error("cannot report \"" + std::string(state.substr(0, state.find('\n'))) +
                               "\" to the service manager at NOTIFY_SOCKET " + socket_ + ": " +
                               std::strerror(error));
  }
  if (static_cast<std::size_t>(sent) != state.size()) {
    return base::Status::Error("the service manager at NOTIFY_SOCKET " + socket_ +
                               " took only part of a notification");
  }
  return base::Status::Ok();
}

base::Status Notifier::Ready(std::string_view status) const {
  std::string message = "READY=1\n";
  AppendStatus(message, status);
  return Send(message);
}

base::Status Notifier::Reloading(std::string_view status) const {
  std::string message = "RELOADING=1\nMONOTONIC_USEC=" + std::to_string(MonotonicMicros()) + "\n";
  AppendStatus(message, status);
  return Send(message);
}

base::Status Notifier::Stopping(std::string_view status) const {
  std::string message = "STOPPING=1\n";
  AppendStatus(message, status);
  return Send(message);
}

base::Status Notifier::Status(std::string_view status) const {
  std::string message;
  AppendStatus(message, status);
  if (message.empty()) return base::Status::Ok();
  return Send(message);
}

std::uint64_t MonotonicMicros() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<std::uint64_t>(now.tv_sec) * 1000000u +
         static_cast<std::uint64_t>(now.tv_nsec) / 1000u;
}

}  // namespace meridian::notify

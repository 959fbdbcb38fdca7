// Notifier against real AF_UNIX datagram sockets standing in for the service manager.
#include "notify/notify.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <filesystem>
#include <string>

namespace meridian::notify {
namespace {

// A bound datagram socket, as systemd offers one; `name` starting with '@' is abstract.
class FakeServiceManager {
 public:
  explicit FakeServiceManager(const std::string& name) : name_(name) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    EXPECT_GE(fd_, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, name.data(), name.size());
    socklen_t length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
    if (name[0] == '@') {
      address.sun_path[0] = '\0';
    } else {
      length += 1;
    }
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&address), length), 0)
        << std::strerror(errno);
  }
  ~FakeServiceManager() {
    ::close(fd_);
    if (name_[0] == '/') ::unlink(name_.c_str());
  }

  // The next datagram, or "" when none arrives within 5 s.
  std::string Receive() {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 5000) != 1) return "";
    char buffer[4096];
    ssize_t n = ::recv(fd_, buffer, sizeof(buffer), 0);
    return n > 0 ? std::string(buffer, static_cast<std::size_t>(n)) : "";
  }
  bool Idle() {
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, 0) == 0;
  }

 private:
  std::string name_;
  int fd_ = -1;
};

std::string TempSocketPath() {
  char dir[] = "/tmp/notify-test-XXXXXX";
  EXPECT_NE(::mkdtemp(dir), nullptr);
  return std::string(dir) + "/notify.sock";
}

std::string AbstractName() {
  return "@meridian-notify-test-" + std::to_string(::getpid()) + "-" +
         std::to_string(MonotonicMicros());
}

TEST(Notifier, ReadySendsReadyAndStatusToAPathSocket) {
  const std::string path = TempSocketPath();
  FakeServiceManager manager(path);
  Notifier notifier(path);
  ASSERT_TRUE(notifier.Ready("serving region west").ok());
  EXPECT_EQ(manager.Receive(), "READY=1\nSTATUS=serving region west\n");
  std::filesystem::remove_all(std::filesystem::path(path).parent_path());
}

TEST(Notifier, ReachesAnAbstractSocketNamedWithAt) {
  const std::string name = AbstractName();
  FakeServiceManager manager(name);
  Notifier notifier(name);
  ASSERT_TRUE(notifier.Ready().ok());
  EXPECT_EQ(manager.Receive(), "READY=1\n");
}

TEST(Notifier, ReloadingCarriesTheMonotonicClockInMicroseconds) {
  const std::string name = AbstractName();
  FakeServiceManager manager(name);
  const std::uint64_t before = MonotonicMicros();
  ASSERT_TRUE(Notifier(name).Reloading().ok());
  const std::uint64_t after = MonotonicMicros();
  const std::string got = manager.Receive();
  const std::string prefix = "RELOADING=1\nMONOTONIC_USEC=";
  ASSERT_EQ(got.rfind(prefix, 0), 0u) << got;
  ASSERT_EQ(got.back(), '\n');
  const std::uint64_t stamp = std::stoull(got.substr(prefix.size()));
  EXPECT_GE(stamp, before);
  EXPECT_LE(stamp, after);
}

TEST(Notifier, StoppingSendsStopping) {
  const std::string name = AbstractName();
  FakeServiceManager manager(name);
  ASSERT_TRUE(Notifier(name).Stopping("signal 15").ok());
  EXPECT_EQ(manager.Receive(), "STOPPING=1\nSTATUS=signal 15\n");
}

TEST(Notifier, StatusKeepsToOneLine) {
  const std::string name = AbstractName();
  FakeServiceManager manager(name);
  ASSERT_TRUE(Notifier(name).Status("waiting\nREADY=1").ok());
  EXPECT_EQ(manager.Receive(), "STATUS=waiting READY=1\n");
}

TEST(Notifier, EmptyStatusSendsNothing) {
  const std::string name = AbstractName();
  FakeServiceManager manager(name);
  ASSERT_TRUE(Notifier(name).Status("").ok());
  EXPECT_TRUE(manager.Idle());
}

TEST(Notifier, WithoutNotifySocketEveryCallSucceedsAndSendsNothing) {
  ::unsetenv("NOTIFY_SOCKET");
  Notifier notifier = Notifier::FromEnvironment();
  EXPECT_FALSE(notifier.enabled());
  EXPECT_TRUE(notifier.Ready().ok());
  EXPECT_TRUE(notifier.Stopping().ok());
}

TEST(Notifier, FromEnvironmentUsesNotifySocket) {
  const std::string name = AbstractName();
  FakeServiceManager manager(name);
  ::setenv("NOTIFY_SOCKET", name.c_str(), 1);
  Notifier notifier = Notifier::FromEnvironment();
  ::unsetenv("NOTIFY_SOCKET");
  EXPECT_EQ(notifier.socket(), name);
  ASSERT_TRUE(notifier.Ready().ok());
  EXPECT_EQ(manager.Receive(), "READY=1\n");
}

TEST(Notifier, RelativeSocketNameIsAnErrorThatNamesIt) {
  base::Status st = Notifier("run/notify").Ready();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("\"run/notify\""), std::string::npos) << st.message();
}

TEST(Notifier, OverlongSocketPathIsAnError) {
  base::Status st = Notifier("/" + std::string(200, 'x')).Ready();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("longer than"), std::string::npos) << st.message();
}

TEST(Notifier, NobodyListeningIsAnErrorThatNamesTheSocket) {
  base::Status st = Notifier("/nonexistent-dir/notify.sock").Ready();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("/nonexistent-dir/notify.sock"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace meridian::notify

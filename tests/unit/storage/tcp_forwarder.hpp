#pragma once
// A switchable stand-in for a database server's address: listens on 127.0.0.1 and forwards each connection to the
// real server (TCP or Unix socket). stop() closes the listener and cuts every connection, as a server that went
// down would; start() listens again on the same port. For testing how a client behaves while its server is away.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace cg::storage::test {

/// Thread-safety: start() and stop() from the test's thread; the forwarding runs on one thread of its own.
class tcp_forwarder {
 public:
  /// `target_host` is a host name/IP or a Unix socket directory (starting with '/'), as libpq takes it.
  tcp_forwarder(std::string target_host, int target_port)
      : target_host_(std::move(target_host)), target_port_(target_port) {
    start();
  }
  ~tcp_forwarder() { stop(); }
  tcp_forwarder(const tcp_forwarder&) = delete;
  tcp_forwarder& operator=(const tcp_forwarder&) = delete;

  int port() const { return port_; }

  void start() {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    const int yes = 1;
    ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<std::uint16_t>(port_));
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || ::listen(listener_, 16) != 0)
      throw std::runtime_error(std::string("tcp_forwarder: cannot listen: ") + std::strerror(errno));
    socklen_t size = sizeof address;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &size);
    port_ = ntohs(address.sin_port);
    running_ = true;
    thread_ = std::thread([this] { loop(); });
  }

  void stop() {
    if (!running_) return;
    running_ = false;
    thread_.join();
    ::close(listener_);
    for (const auto& [a, b] : pairs_) {
      ::close(a);
      ::close(b);
    }
    pairs_.clear();
  }

 private:
  int connect_target() const {
    if (!target_host_.empty() && target_host_.front() == '/') {
      const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
      sockaddr_un address{};
      address.sun_family = AF_UNIX;
      const std::string path = target_host_ + "/.s.PGSQL." + std::to_string(target_port_);
      std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
      if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) return fd;
      ::close(fd);
      return -1;
    }
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(target_port_));
    ::inet_pton(AF_INET, target_host_ == "localhost" ? "127.0.0.1" : target_host_.c_str(), &address.sin_addr);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) return fd;
    ::close(fd);
    return -1;
  }

  void loop() {
    std::vector<char> buffer(1 << 16);
    while (running_) {
      std::vector<pollfd> fds{{listener_, POLLIN, 0}};
      for (const auto& [a, b] : pairs_) {
        fds.push_back({a, POLLIN, 0});
        fds.push_back({b, POLLIN, 0});
      }
      if (::poll(fds.data(), fds.size(), 20) <= 0) continue;
      if (fds[0].revents & POLLIN) {
        const int client = ::accept(listener_, nullptr, nullptr);
        const int server = client >= 0 ? connect_target() : -1;
        if (server >= 0) {
          pairs_.emplace_back(client, server);
        } else if (client >= 0) {
          ::close(client);
        }
      }
      std::vector<bool> closed(pairs_.size(), false);
      for (std::size_t i = 1; i < fds.size(); ++i) {
        const std::size_t p = (i - 1) / 2;
        if (closed[p] || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        const auto& pair = pairs_[p];
        const int from = fds[i].fd;
        const int to = from == pair.first ? pair.second : pair.first;
        const auto n = ::read(from, buffer.data(), buffer.size());
        if (n <= 0 || ::write(to, buffer.data(), static_cast<std::size_t>(n)) != n) {
          ::close(pair.first);
          ::close(pair.second);
          closed[p] = true;
        }
      }
      for (std::size_t p = pairs_.size(); p-- > 0;)
        if (closed[p]) pairs_.erase(pairs_.begin() + static_cast<long>(p));
    }
  }

  std::string target_host_;
  int target_port_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> running_{false};
  std::thread thread_;
  std::vector<std::pair<int, int>> pairs_;
};

}  // namespace cg::storage::test

#pragma once
// The answer to a connection refused by MAX_CONNECTIONS_PER_CLIENT.

#include "http/connection_limits.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <string>

namespace cg::server {

/// Answers 503 + Retry-After + `Connection: close` on a just-accepted connection, without reading its request (a
/// refused client must cost almost nothing), then closes it gracefully: shut down sending, and read and discard what
/// the client still sends until it closes or `linger` passes. Closing with its request unread would make the
/// kernel send a reset, which can destroy the 503 before the client reads it. `slot` is held until the close.
void refuse_connection(boost::asio::ip::tcp::socket socket, connection_slot slot, std::string message,
                       std::chrono::milliseconds linger);

}  // namespace cg::server

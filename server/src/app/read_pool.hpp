#pragma once
// A few threads, each with its own read-only connection, for admin queries: never run SQLite on an IO thread.

#include "cg/storage/connection.hpp"

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace cg::server {

/// Thread-safety: post() from any thread; each job runs on one pool thread with that thread's own connection.
/// A job must hand its result back to the caller's executor itself (the responder does).
class read_pool {
 public:
  using job = std::function<void(storage::connection&)>;

  read_pool(const storage::database_location& where, unsigned threads);
  ~read_pool();
  read_pool(const read_pool&) = delete;
  read_pool& operator=(const read_pool&) = delete;

  void post(job j);
  /// Runs every queued job, then joins the threads. Idempotent.
  void stop();

 private:
  void thread_main(std::unique_ptr<storage::connection> db);

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<job> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace cg::server

#include "app/read_pool.hpp"

#include "cg/server/log.hpp"

#include <pthread.h>

namespace cg::server {

read_pool::read_pool(const storage::database_location& where, unsigned threads) {
  // Connections are opened here, on the caller's thread, so a database that cannot be read fails start-up loudly.
  std::vector<std::unique_ptr<storage::connection>> connections;
  for (unsigned i = 0; i < threads; ++i) connections.push_back(storage::open_reader(where));
  for (auto& db : connections) threads_.emplace_back([this, db = std::move(db)]() mutable { thread_main(std::move(db)); });
}

read_pool::~read_pool() { stop(); }

void read_pool::post(job j) {
  {
    std::lock_guard lock(mutex_);
    jobs_.push_back(std::move(j));
  }
  wake_.notify_one();
}

void read_pool::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
}

void read_pool::thread_main(std::unique_ptr<storage::connection> db) {
  pthread_setname_np(pthread_self(), "cg-read");
  for (;;) {
    job next;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;
      next = std::move(jobs_.front());
      jobs_.pop_front();
    }
    try {
      next(*db);
    } catch (const std::exception& e) {
      // Jobs answer their own errors; one that escapes is a bug, logged, and must not kill the pool.
      log().write("error", "read_job_failed", {field("error", e.what())}, true);
    }
  }
}

}  // namespace cg::server

// batch_status, batch_retry_after and encode_batch_results of cg/ingest/batch_results.hpp.

#include "cg/ingest/batch_results.hpp"

#include <boost/json/array.hpp>

#include <algorithm>

namespace cg::ingest {

namespace json = boost::json;

int batch_status(const std::vector<batch_event_result>& results) noexcept {
  const bool all_good = std::ranges::all_of(results, [](const auto& r) { return r.stored_or_duplicate(); });
  return all_good ? 200 : 207;
}

int batch_retry_after(const std::vector<batch_event_result>& results) noexcept {
  int longest = 0;
  for (const auto& r : results) longest = std::max(longest, r.retry_after_s);
  return longest;
}

json::object encode_batch_results(const std::vector<batch_event_result>& results) {
  std::int64_t accepted = 0;
  std::int64_t duplicates = 0;
  std::int64_t rejected = 0;
  json::array items;
  items.reserve(results.size());
  for (std::size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    json::object item{{"index", i}, {"status", r.status}};
    if (r.status == 201) {
      ++accepted;
      item["id"] = r.id;
    } else if (r.status == 200) {
      ++duplicates;
      item["id"] = r.id;
      item["duplicate"] = true;
    } else {
      ++rejected;
      item["error"] = r.error;
      if (!r.field.empty()) item["field"] = r.field;
    }
    items.push_back(std::move(item));
  }
  return {{"accepted", accepted}, {"duplicates", duplicates}, {"rejected", rejected}, {"results", std::move(items)}};
}

}  // namespace cg::ingest

// parse_usage_batch and batch_field_path of cg/ingest/usage_batch.hpp. Each event goes through parse_usage_event,
// the very function POST /ingest uses, so a batch can never accept what /ingest refuses (or the reverse).

#include "cg/ingest/usage_batch.hpp"

#include "cg/ingest/strict_json.hpp"

#include "field_readers.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/value.hpp>
#include <fmt/format.h>

#include <utility>

namespace cg::ingest {

namespace json = boost::json;
using detail::kind_name;

namespace {

/// The same bound on nesting as a single event's body (validation.cpp): an event inside `{"events": [...]}` sits
/// two levels deeper, far from it.
constexpr std::size_t max_body_depth = 64;

/// `faults`: how many of the document's ambiguities (repeated keys, non-finite numbers) to locate. The finder keeps
/// one per event, so a batch of `n` events needs n, plus one for a fault outside them (`{"events": [...]}`'s own).
strict_parse_options parse_options(std::size_t faults) {
  strict_parse_options options;
  options.max_depth = max_body_depth;
  options.max_faults = faults;
  return options;
}

validation_error request_error(refusal reason, std::string field, std::string message) {
  return validation_error{reason, std::move(field), std::move(message)};
}

validation_error count_error(std::size_t count, const batch_limits& limits) {
  if (count == 0) return request_error(refusal::invalid_field, "events", "the batch holds no events");
  return request_error(refusal::too_many_events, "events",
                       fmt::format("the batch holds {} events; at most {} are accepted in one request "
                                   "(BATCH_MAX_EVENTS): split it",
                                   count, limits.max_events));
}

batch_entry refused(std::size_t index, validation_error err) {
  err.message = fmt::format("{}: {}", batch_field_path(index, {}), err.message);
  err.field = batch_field_path(index, err.field);
  return err;
}

/// Refuses one event for a fault found in it; the event's own path starts after `prefix` steps.
batch_entry refused_for_fault(std::size_t index, const json_fault& fault, std::size_t prefix) {
  json_fault inside{fault.what, json_path(fault.path.begin() + static_cast<std::ptrdiff_t>(prefix), fault.path.end())};
  return refused(index, {refusal::invalid_field, format_json_path(inside.path), inside.message()});
}

/// One element of the batch, validated as POST /ingest validates a body.
batch_entry judge(const json::value& element, std::size_t index, std::string_view header_tracking_token,
                  std::int64_t now_us, const event_limits& limits) {
  if (!element.is_object())
    return refused(index,
                   {.field = {}, .message = fmt::format("an event must be a JSON object, not {}", kind_name(element))});
  auto result = parse_usage_event(element, header_tracking_token, now_us, limits);
  if (auto* err = std::get_if<validation_error>(&result)) return refused(index, std::move(*err));
  return result;
}

batch_parse_result parse_json_batch(std::string_view body, std::string_view header_tracking_token,
                                    std::int64_t now_us, const batch_limits& limits) {
  // One arena for the whole document: a 10 MiB batch is parsed without a heap call per value.
  json::monotonic_resource arena;
  const auto parsed = parse_strict_json(body, &arena, parse_options(limits.max_events + 1));
  if (parsed.error == json::error::too_deep)
    return request_error(refusal::invalid_field, "",
                         fmt::format("body is nested more than {} levels deep", max_body_depth));
  if (parsed.error) return request_error(refusal::invalid_field, "", "body is not valid JSON");
  const json::value& doc = parsed.value;

  const json::array* events = doc.if_array();
  std::size_t prefix = 0;  // path steps before an event's index: `[i]` in an array body, `events[i]` in the object
  if (const json::object* wrapper = doc.if_object()) {
    const json::value* member = detail::find_member(*wrapper, "events");
    if (member == nullptr)
      return request_error(refusal::invalid_field, "events", "events is required: an array of events");
    events = member->if_array();
    if (events == nullptr)
      return request_error(refusal::invalid_field, "events",
                           fmt::format("events must be an array, not {}", kind_name(*member)));
    prefix = 1;
  } else if (events == nullptr) {
    return request_error(refusal::invalid_field, "",
                         fmt::format("body must be a JSON array of events or an object {{\"events\": [...]}}, not {}",
                                     kind_name(doc)));
  }
  if (events->empty() || events->size() > limits.max_events) return count_error(events->size(), limits);

  // A fault inside an event refuses that event alone; one outside every event (`"events"` given twice) makes the
  // batch itself ambiguous.
  std::vector<const json_fault*> event_faults(events->size(), nullptr);
  for (const json_fault& fault : parsed.faults) {
    const bool in_events =
        prefix == 0 || (!fault.path.empty() && fault.path.front() == json_path_step(std::string("events")));
    const auto* index =
        in_events && fault.path.size() > prefix ? std::get_if<std::size_t>(&fault.path[prefix]) : nullptr;
    if (index == nullptr || *index >= events->size())
      return request_error(refusal::invalid_field, format_json_path(fault.path), fault.message());
    // An element that is itself a non-finite number is refused below as not an object.
    if (fault.path.size() > prefix + 1 && event_faults[*index] == nullptr) event_faults[*index] = &fault;
  }

  std::vector<batch_entry> entries;
  entries.reserve(events->size());
  for (std::size_t i = 0; i < events->size(); ++i) {
    if (event_faults[i] != nullptr) {
      entries.push_back(refused_for_fault(i, *event_faults[i], prefix + 1));
      continue;
    }
    entries.push_back(judge((*events)[i], i, header_tracking_token, now_us, limits.event));
  }
  return entries;
}

bool is_blank(std::string_view line) noexcept {
  return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

batch_parse_result parse_ndjson_batch(std::string_view body, std::string_view header_tracking_token,
                                      std::int64_t now_us, const batch_limits& limits) {
  struct line_ref {
    std::string_view text;
    std::size_t number;  // 1-based, for messages: blank lines shift event indexes away from line numbers
  };
  std::vector<line_ref> lines;
  std::size_t number = 0;
  for (std::size_t pos = 0; pos < body.size();) {
    const auto end = std::min(body.find('\n', pos), body.size());
    const auto line = body.substr(pos, end - pos);
    ++number;
    pos = end + 1;
    if (is_blank(line)) continue;
    // Counted before any parsing: an oversized batch costs a scan, not 1,000 parses.
    if (lines.size() == limits.max_events) {
      std::size_t count = lines.size() + 1;
      for (std::size_t rest = pos; rest < body.size();) {
        const auto rest_end = std::min(body.find('\n', rest), body.size());
        if (!is_blank(body.substr(rest, rest_end - rest))) ++count;
        rest = rest_end + 1;
      }
      return count_error(count, limits);
    }
    lines.push_back({line, number});
  }
  if (lines.empty()) return count_error(0, limits);

  std::vector<batch_entry> entries;
  entries.reserve(lines.size());
  for (std::size_t i = 0; i < lines.size(); ++i) {
    // Lines are independent (that is NDJSON's point): a line that is not JSON refuses that event only.
    json::monotonic_resource arena;
    const auto parsed = parse_strict_json(lines[i].text, &arena, parse_options(1));
    if (const auto& ec = parsed.error) {
      const auto why = ec == json::error::too_deep
                           ? fmt::format("line {} is nested more than {} levels deep", lines[i].number,
                                         max_body_depth)
                           : fmt::format("line {} is not valid JSON", lines[i].number);
      entries.push_back(refused(i, {refusal::invalid_field, {}, why}));
      continue;
    }
    if (!parsed.faults.empty()) {
      entries.push_back(refused_for_fault(i, parsed.faults.front(), 0));
      continue;
    }
    entries.push_back(judge(parsed.value, i, header_tracking_token, now_us, limits.event));
  }
  return entries;
}

}  // namespace

std::string batch_field_path(std::size_t index, std::string_view field) {
  if (field.empty()) return fmt::format("events[{}]", index);
  return fmt::format("events[{}].{}", index, field);
}

batch_parse_result parse_usage_batch(std::string_view body, batch_format format,
                                     std::string_view header_tracking_token, std::int64_t now_us,
                                     const batch_limits& limits) {
  if (format == batch_format::ndjson) return parse_ndjson_batch(body, header_tracking_token, now_us, limits);
  return parse_json_batch(body, header_tracking_token, now_us, limits);
}

}  // namespace cg::ingest

#include "cg/ingest/event_row.hpp"

#include <doctest/doctest.h>

using namespace cg;

namespace {

ingest::usage_event event(std::string model) {
  ingest::usage_event e;
  e.tracking_token = "tok";
  e.event_id = "ev-1";
  e.provider = "openai";
  e.model = std::move(model);
  e.tokens.input = 1000;
  e.tokens.output = 500;
  e.tokens.total = 1500;
  e.project = "proj";
  return e;
}

constexpr std::int64_t received = 1'735'689'600'000'000;  // 2025-01-01T00:00:00Z

}  // namespace

TEST_SUITE("ingest.event_row") {
  TEST_CASE("the server prices an event at its own timestamp and records the price used") {
    const auto prices = pricing::price_table::embedded();
    const auto row = ingest::make_event_row(event("gpt-4o-mini-2024-07-18"), 7, received, *prices, "ingest");
    // gpt-4o-mini: 0.15 USD/Mtok in, 0.60 USD/Mtok out -> 1000 * 0.15 + 500 * 0.60 = 450 µUSD = 450,000 nUSD.
    CHECK(row.cost_nusd == 450'000);
    CHECK(row.cost_source == "server");
    CHECK(row.price_ref == "openai/gpt-4o-mini@base");
    CHECK(row.token_id == 7);
    CHECK(row.ts_us == received);  // no timestamp given: the time it was received
    CHECK(row.event_id == "ev-1");
    CHECK(row.project == "proj");
    CHECK(row.source == "ingest");
  }

  TEST_CASE("a positive client cost is kept and not repriced") {
    auto e = event("gpt-4o-mini");
    e.client_cost_nusd = 4500;
    e.timestamp_us = received - 1000;
    const auto row = ingest::make_event_row(std::move(e), 1, received, *pricing::price_table::embedded(), "ingest");
    CHECK(row.cost_nusd == 4500);
    CHECK(row.cost_source == "client");
    CHECK(row.price_ref.empty());
    CHECK(row.ts_us == received - 1000);
  }

  TEST_CASE("an unknown model is stored unpriced with cost 0") {
    const auto row =
        ingest::make_event_row(event("my-private-model"), 1, received, *pricing::price_table::embedded(), "ingest");
    CHECK(row.cost_nusd == 0);
    CHECK(row.cost_source == "unpriced");
    CHECK(row.price_ref.empty());
  }
}

#pragma once
/// The six token counts of one model call (or their sums), in Cost Guardian's normalised model. Declared here, in
/// the lowest module, because everything above carries them: the pricer prices them, storage stores and sums them,
/// ingest reads them from a client's body.

#include <cstdint>

namespace cg::pricing {

/// Token counts in the normalised model: `input` is the whole input, of which `cache_read` and `cache_write` are
/// parts; `output` is the whole output, of which `reasoning` is a part; `total` is at least input + output (a
/// provider may count tokens that are neither). OpenAI's `prompt_tokens` already is the whole input; Anthropic's
/// `input_tokens` excludes cache reads and writes and is normalised by the ingest parser before it gets here.
struct token_counts {
  std::int64_t input = 0;
  std::int64_t output = 0;
  std::int64_t total = 0;
  std::int64_t cache_read = 0;
  std::int64_t cache_write = 0;
  std::int64_t reasoning = 0;

  bool operator==(const token_counts&) const = default;
};

}  // namespace cg::pricing
